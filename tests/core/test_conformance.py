"""Conformance with the contract's reference service (issue 14), in the Python core: reference
values byte for byte, the simprint shapes, and plain messages for invalid codes."""

import iscc_samples
import pandas as pd
import pytest

import iscc_lab
from iscc_lab import BadRequest, create_iscc, create_simprints, explain
from iscc_lab.explain import code_problem, decompose, normalize
from tests.conftest import EXPLAIN_CODE

HELLO = "Hello World! This is a short text for simprint generation."
HELLO_SIMPRINT = "SCXX_obwF2sK-xsnk9p1hhsH1fvrzwyZZBhhsVxMLTM"
DOC_ISCC = "ISCC:KACV5NAQXBCHCWFWAYCJRAL5Z36G7AZALCN3HBKABNDND26WJ5IVG4I"
DOC_FIRST_SIMPRINTS = [
    "k5TpwXVE3j9N5IBxm36c4hkXP6fHOv8bkY2f68_8XSg",
    "OERRAF2u5WWuLHZLZzgcCSoCoL9R0NYrBJD7s7A43t0",
]
JPG_ISCC = "ISCC:KECWRY3VY6R5SNV4YNBTBHR4T2HGP3HKVFO7TYUP2BKVFG724W63HVI"

# (bad code, words the message must contain): each names what is wrong with the code.
BAD_CODES = [
    ("", "empty"),
    ("   ", "empty"),
    (None, "no code"),
    (42, "not int"),
    ("ISCC:", "nothing follows"),
    ("KMUIV3NRGY", "unknown version 2 for main type ISCC"),
    ("ISCC:AAAAAAAAAA2", "length (11 characters)"),
    ("ISCC:AAAA", "truncated"),
    (EXPLAIN_CODE[:-8], "truncated: its header announces 256 bits"),
    (EXPLAIN_CODE[:-1], "a character is missing or one too many"),
    (EXPLAIN_CODE + "A", "too long"),
    (EXPLAIN_CODE + "==", "padding"),
    (
        "uzAFTBsinBjnrEWezZ6nDeHxlweWC4uZi9yi0-kJIXjoKXS80",
        "a multiformat encoding of " + EXPLAIN_CODE,
    ),
    ("ISCC:" + EXPLAIN_CODE, "not base32: ':'"),
    (EXPLAIN_CODE.replace("K", "0", 1), "not base32: '0'"),
    ("ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NB", "not in canonical form"),
    ("ISCC:ZZZZZZZZZZZZZZZZ", "unknown main type"),
    ("ISCC:CE22222222", "unknown version 3 for main type SEMANTIC"),
    ("ISCC:BEAAAAAAAAAAAAAA", "unknown sub type 24 for main type META"),
    ("ISCC:6AAAAAAAAAAAAAAA", "header is truncated"),
    ("ISCC:Hello World", "not base32: ' '"),
]
PYTHON_ERRORS = ("tuple index", "Incorrect padding", "IndexError", "KeyError", "Error:")


def test_simprint_reference_value_bare_and_with_offsets():
    assert create_simprints(HELLO) == {"CONTENT_TEXT_V0": [HELLO_SIMPRINT]}
    with_offsets = create_simprints(HELLO, offsets=True)
    assert with_offsets == {
        "CONTENT_TEXT_V0": [{"simprint": HELLO_SIMPRINT, "offset": 0, "size": 58}]
    }


def test_simprints_same_order_multilingual():
    text = " ".join(
        f"Satz {i} über Käse, Straße {i * 7}; 東京の街 {i}。 Café n°{i * 13}." for i in range(300)
    )
    bare = create_simprints(text)["CONTENT_TEXT_V0"]
    entries = create_simprints(text, offsets=True)["CONTENT_TEXT_V0"]
    assert len(bare) > 1 and bare == [e["simprint"] for e in entries]
    assert all(isinstance(s, str) and len(s) == 43 for s in bare)


def test_demo_doc_reference_values():
    result = create_iscc(iscc_samples.TEXT / "demo.doc", granular=True)
    assert result["iscc"] == DOC_ISCC
    [content] = [f for f in result["features"] if f["maintype"] == "content"]
    assert len(content["simprints"]) >= 6
    assert content["simprints"][:2] == DOC_FIRST_SIMPRINTS


def test_demo_jpg_reference_value(demo_jpg):
    assert create_iscc(demo_jpg)["iscc"] == JPG_ISCC


@pytest.mark.parametrize("code, words", BAD_CODES)
def test_invalid_codes_say_what_is_wrong(code, words):
    problem = code_problem(code)
    assert problem and words in problem and problem.startswith("Invalid ISCC")
    assert not any(e in problem for e in PYTHON_ERRORS), problem
    for verb in (normalize, explain, decompose):
        with pytest.raises(BadRequest) as info:
            verb(code)
        assert str(info.value) == problem  # one message, from one place


STRING_CODES = [c for c in BAD_CODES if isinstance(c[0], str) and c[0].strip()]


@pytest.mark.parametrize("code, words", STRING_CODES)
def test_compare_gives_the_same_message(code, words):
    with pytest.raises(BadRequest) as info:
        iscc_lab.compare([EXPLAIN_CODE, code])
    assert str(info.value) == code_problem(code)


@pytest.mark.parametrize("code, words", STRING_CODES)
def test_near_duplicates_gives_the_same_message(code, words):
    with pytest.raises(BadRequest) as info:
        iscc_lab.near_duplicates(pd.DataFrame({"iscc": [EXPLAIN_CODE, code]}))
    assert str(info.value) == code_problem(code)


VALID = [
    EXPLAIN_CODE,
    EXPLAIN_CODE.lower(),
    EXPLAIN_CODE[5:],
    f" {EXPLAIN_CODE}\n",
    DOC_ISCC,
    JPG_ISCC,
]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code):
    assert code_problem(code) is None
    assert normalize(code) == "ISCC:" + code.strip().upper().removeprefix("ISCC:")
    assert decompose(code)[0].startswith("ISCC:")
