"""ExplainWidget and SimprintWidget, driven as a person would: set the text, read the view."""

import itertools

import pytest

from iscc_lab.widgets import ExplainWidget, SimprintWidget, simprint_rows

CODE = "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"


def test_explain_the_contract_code():
    w = ExplainWidget(CODE)
    r = w.result
    assert w.error is None
    assert r["iscc"] == CODE
    assert (
        r["readable"]
        == "ISCC-VIDEO-V0-MSDI-c8a70639eb1167b367a9c3787c65c1e582e2e662f728b4fa42485e3a0a5d2f34"
    )
    assert r["decomposed"] == "AAA4RJYGHHVRCZ5T-CMAWPKODPB6GLQPF-GAAYFYXGML3SRNH2-IAAUESC6HIFF2LZU"
    assert r["units"][0]["iscc_unit"] == "ISCC:AAA4RJYGHHVRCZ5T"
    html = w.output.value
    assert 'class="iscc-explain"' in html
    for unit in r["units"]:
        assert unit["iscc_unit"] in html and unit["readable"] in html and unit["hash_hex"] in html
    assert "META-NONE-V0-64-c8a70639eb1167b3" in html
    assert "iscc-errors" not in html


def test_explain_typing_a_code_updates_the_view():
    w = ExplainWidget()
    assert w.output.value == "" and w.result is None
    w.code = CODE.removeprefix("ISCC:")  # as the Text's value changes when the person types
    assert w.text.value == CODE.removeprefix("ISCC:")
    assert w.result["iscc"] == CODE
    w.code = ""
    assert w.result is None and w.error is None and w.output.value == ""


@pytest.mark.parametrize("garbage", ["garbage", "ISCC:AAAA", "<b>bold</b>"])
def test_explain_garbage_shows_the_error(garbage):
    w = ExplainWidget(CODE)
    w.code = garbage
    assert w.result is None
    assert w.error.startswith("Invalid ISCC")
    html = w.output.value
    assert "iscc-errors" in html
    assert "<b>" not in html
    assert CODE not in html  # the previous result is gone


TEXT = (
    "Die Würde des Menschen ist unantastbar. Sie zu achten und zu schützen ist Verpflichtung "
    "aller staatlichen Gewalt. — 日本語のテキストも少し。 "
) * 40


def test_simprint_segments():
    w = SimprintWidget(TEXT)
    assert w.error is None
    content = [r for r in w.rows if r["type"] == "CONTENT_TEXT_V0"]
    assert len(content) > 1
    data = TEXT.encode("utf-8")
    for row in content:
        assert row["segment"] == data[row["offset"] : row["offset"] + row["size"]].decode("utf-8")
    # content-defined chunks follow each other from the start of the text (iscc-sdk drops a
    # short last chunk: it may leave the end uncovered)
    assert content[0]["offset"] == 0
    for a, b in itertools.pairwise(content):
        assert b["offset"] == a["offset"] + a["size"]
    assert TEXT.startswith("".join(r["segment"] for r in content))
    frame = w.frame
    assert list(frame.columns) == ["type", "simprint", "offset", "size", "segment"]
    assert len(frame) == len(w.rows)
    html = w.output.value
    assert 'class="iscc-table"' in html
    assert content[0]["simprint"] in html
    assert "Die Würde des Menschen" in html


def test_simprint_button_and_errors():
    w = SimprintWidget()
    assert w.output.value == "" and w.rows == []
    w.textarea.value = "   "
    w.button.click()
    assert w.error == "text is empty."
    assert "iscc-errors" in w.output.value
    w.text = "Hello World! This is a short text for simprint generation."
    assert w.error is None
    assert len(w.rows) >= 1
    assert w.rows[0]["segment"] == "Hello World! This is a short text for simprint generation."


def test_simprint_rows_cut_characters_are_replaced():
    text = "aé"  # é is two UTF-8 bytes
    rows = simprint_rows(text, {"X": [{"simprint": "s", "offset": 0, "size": 2}]})
    assert rows == [{"type": "X", "simprint": "s", "offset": 0, "size": 2, "segment": "a\ufffd"}]
