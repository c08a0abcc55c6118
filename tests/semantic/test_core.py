"""The semantic path with the test-made models (tests/conftest.py): Semantic-Code Text and
Image units, SEMANTIC_TEXT_V0 features and simprints, the same on every run and in every
process, long and empty texts as iscc-sct documents them."""

import json
import subprocess
import sys

import iscc_core as ic
import iscc_samples
import pytest

from iscc_lab import create_iscc, create_simprints, semantic
from iscc_lab.errors import BadRequest, Unprocessable
from tests.semantic.helpers import LONG, SHORT, bits, semantic_unit, subtype

pytestmark = pytest.mark.usefixtures("semantic_model")

DEMO = iscc_samples.IMAGE / "demo.jpg"


def test_text_gets_a_semantic_code_text_unit_and_features():
    data = (SHORT * 20).encode()
    result = create_iscc(data, "notes.txt", semantic=True, granular=True)
    plain = create_iscc(data, "notes.txt", semantic=False, granular=True)

    assert len(result["units"]) == 5 and len(plain["units"]) == 4  # the contract: 5, not 4
    unit = semantic_unit(result)
    assert subtype(unit) == ic.ST_CC.TEXT and bits(unit) == 256  # as long as the others
    assert [u for u in result["units"] if u != unit] == plain["units"]
    assert result["iscc"] != plain["iscc"]
    # the unit is iscc-sct's, made from the text iscc-sdk extracted and cleaned
    import iscc_sct

    assert unit == iscc_sct.gen_text_code_semantic(ic.text_clean(SHORT * 20), bits=256)["iscc"]

    kinds = [(f["maintype"], f["subtype"]) for f in result["features"]]
    assert kinds == [("content", "text"), ("semantic", "text")]
    sem = result["features"][1]
    assert sem["byte_offsets"] is True and sem["version"] == 0
    assert len(sem["simprints"]) == len(sem["offsets"]) == len(sem["sizes"]) >= 1
    assert all(len(s) == 43 for s in sem["simprints"])  # 256 bits, base64url
    assert "features" not in create_iscc(data, "notes.txt", semantic=True, granular=False)


def test_same_unit_run_after_run_and_in_a_fresh_process():
    data = (SHORT * 20).encode()
    first = create_iscc(data, "notes.txt", semantic=True, granular=True)
    assert create_iscc(data, "notes.txt", semantic=True, granular=True) == first
    code = (
        "import json, sys\n"
        "from iscc_lab import create_iscc\n"
        "data = sys.stdin.buffer.read()\n"
        "print(json.dumps(create_iscc(data, 'notes.txt', semantic=True, granular=True)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == first


def test_simprints_have_semantic_text_v0_when_the_model_is_there():
    text = SHORT * 5
    default = create_simprints(text)
    assert set(default) == {"CONTENT_TEXT_V0", "SEMANTIC_TEXT_V0"}
    assert create_simprints(text, semantic_features=True) == default
    assert set(create_simprints(text, semantic_features=False)) == {"CONTENT_TEXT_V0"}
    features = semantic.semantic_text_features(text)
    found = default["SEMANTIC_TEXT_V0"]
    assert [e if isinstance(e, str) else e["simprint"] for e in found] == features["simprints"]
    assert create_simprints(text) == default  # run after run


def test_text_over_the_128_token_window_is_cut_into_overlapping_chunks():
    """iscc-sct: chunks of at most 127 tokens (the model's window of 128 with the start
    token), overlapping by up to 48 tokens; one simprint per chunk, offsets in UTF-8 bytes."""
    from iscc_sct.code_semantic_text import token_count

    text = LONG + "Zürich, Kraków, Ærø: ünïcödé at the end. " * 30
    assert token_count(text) > 10 * 128
    features = semantic.semantic_text_features(text)
    data = text.encode("utf-8")
    spans = list(zip(features["offsets"], features["sizes"], strict=True))
    assert len(spans) > 10
    end = 0
    for offset, size in spans:
        chunk = data[offset : offset + size].decode("utf-8")  # whole characters
        assert 0 < token_count(chunk) <= 127
        assert offset <= end  # no gap: each chunk starts within or right after the last one
        end = max(end, offset + size)
    assert end == len(data)
    assert any(b[0] < a[0] + a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert len(set(features["simprints"])) > 1

    one = semantic.semantic_text_features(SHORT)
    assert one["offsets"] == [0] and one["sizes"] == [len(SHORT.encode())]


def test_empty_text_has_no_semantic_code():
    """iscc-sct refuses an empty text (ValueError); iscc-lab says so as a bad request, and a
    document without text fails as it does without semantic=True."""
    import iscc_sct

    with pytest.raises(ValueError, match="cannot be empty"):
        iscc_sct.gen_text_code_semantic("")
    with pytest.raises(BadRequest, match="empty"):
        semantic.semantic_text_features("")
    with pytest.raises(BadRequest, match="empty"):
        create_simprints("  \n ")
    for flag in (True, False):
        with pytest.raises(Unprocessable, match="No text extracted"):
            create_iscc(b" \n\t \n", "blank.txt", semantic=flag)


def test_image_gets_a_semantic_code_image_unit():
    result = create_iscc(DEMO, semantic=True)
    plain = create_iscc(DEMO, semantic=False)
    unit = semantic_unit(result)
    assert subtype(unit) == ic.ST_CC.IMAGE and bits(unit) == 256
    assert [u for u in result["units"] if u != unit] == plain["units"]
    import iscc_sci

    assert unit == iscc_sci.code_image_semantic(DEMO, bits=256)["iscc"]
    assert create_iscc(DEMO, semantic=True) == result
    # other media get no semantic unit, and no error
    audio = create_iscc(iscc_samples.AUDIO / "demo.mp3", semantic=True)
    assert all(ic.iscc_decode(u)[0] != ic.MT.SEMANTIC for u in audio["units"])


def test_semantic_options_do_not_leak():
    import iscc_sci
    import iscc_sct

    before = (iscc_sct.sct_opts.bits, iscc_sci.sci_opts.bits)
    create_iscc(DEMO, semantic=True)
    create_iscc(SHORT.encode(), "a.txt", semantic=True)
    assert (iscc_sct.sct_opts.bits, iscc_sci.sci_opts.bits) == before
