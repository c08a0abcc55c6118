import pytest

from iscc_lab import BadRequest, create_simprints, explain
from tests.conftest import EXPLAIN_CODE, EXPLAIN_EXAMPLE


@pytest.mark.parametrize(
    "code", [EXPLAIN_CODE, EXPLAIN_CODE.removeprefix("ISCC:"), EXPLAIN_CODE.lower()]
)
def test_explain_contract_example(code):
    result = explain(code)
    for key in ("iscc", "readable", "multiformat", "decomposed"):
        assert result[key] == EXPLAIN_EXAMPLE[key]
    assert result["units"][0] == EXPLAIN_EXAMPLE["first_unit"]
    assert len(result["units"]) == 4


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "ISCC:",
        "hello",
        "ISCC:CE22222222",
        EXPLAIN_CODE[:-1],
        EXPLAIN_CODE + "A",
        "ISCC:AAAA",
        None,
        42,
    ],
)
def test_explain_refuses_malformed_codes(bad):
    with pytest.raises(BadRequest, match="Invalid ISCC"):
        explain(bad)


def test_simprints_shape_and_utf8_offsets():
    text = "Größenwahn – ein Text über Ähnlichkeit. " * 80
    result = create_simprints(text, offsets=True)
    entries = result["CONTENT_TEXT_V0"]
    assert len(entries) > 1
    data = text.encode("utf-8")
    position = 0
    for entry in entries:
        assert set(entry) == {"simprint", "offset", "size"}
        assert len(entry["simprint"]) == 43
        assert entry["offset"] == position  # chunks follow each other in UTF-8 bytes
        data[entry["offset"] : entry["offset"] + entry["size"]].decode("utf-8")  # whole chars
        position += entry["size"]
    assert position <= len(data)
    bare = create_simprints(text)  # the default: bare strings, the same ones in the same order
    assert bare["CONTENT_TEXT_V0"] == [e["simprint"] for e in entries]
    assert set(bare) == set(result)


def test_simprints_without_model_leave_semantic_out(no_semantic_model):
    assert set(create_simprints("Hello World! This is a short text.")) == {"CONTENT_TEXT_V0"}


@pytest.mark.parametrize("bad", ["", "  \n ", None, 5, ["a"]])
def test_simprints_refuse_bad_text(bad):
    with pytest.raises(BadRequest):
        create_simprints(bad)


def test_core_imports_neither_tornado_nor_ipywidgets():
    import subprocess
    import sys

    code = (
        "import sys, iscc_lab\n"
        "from iscc_lab import create_iscc, explain, create_simprints, extract_metadata, Store\n"
        "iscc_lab.explain('" + EXPLAIN_CODE + "')\n"
        "iscc_lab.create_iscc(b'hello world ' * 50, 'x.txt')\n"
        "bad = [m for m in ('tornado', 'ipywidgets', 'jupyter_server') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
