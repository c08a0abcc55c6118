"""Conformance with the contract's reference service (issue 14), over real HTTP: the shapes of
POST /simprint, reference values, plain messages for invalid codes. Every response is checked
against the OpenAPI document by the `api` fixture."""

import json

import iscc_samples
import pytest

from iscc_lab.explain import code_problem
from tests.core.test_conformance import (
    BAD_CODES, DOC_FIRST_SIMPRINTS, DOC_ISCC, HELLO, HELLO_SIMPRINT, JPG_ISCC, PYTHON_ERRORS,
)
from tests.server_ext.conftest import upload

JSON = {"Content-Type": "application/json"}


async def simprint(api, text, params=None):
    return await api("POST", "simprint", body=json.dumps({"text": text}).encode(), headers=JSON, params=params)


async def test_simprint_default_is_bare_strings(api):
    r = await simprint(api, HELLO)
    assert r.status == 200
    assert r.json == {"CONTENT_TEXT_V0": [HELLO_SIMPRINT]}  # the reference service, byte for byte
    for value in ("false", "0", "no"):
        assert (await simprint(api, HELLO, {"offsets": value})).json == r.json


async def test_simprint_offsets_true_gives_entries_in_the_same_order(api):
    r = await simprint(api, HELLO, {"offsets": "true"})
    assert r.status == 200
    assert r.json == {"CONTENT_TEXT_V0": [{"simprint": HELLO_SIMPRINT, "offset": 0, "size": 58}]}
    text = " ".join(f"Zeile {i}: Grüße aus Köln, 東京 {i * 3}." for i in range(400))
    bare = (await simprint(api, text)).json
    entries = (await simprint(api, text, {"offsets": "1"})).json
    assert set(bare) == set(entries)
    for kind in bare:
        assert len(bare[kind]) > 1 and bare[kind] == [e["simprint"] for e in entries[kind]]
    data = text.encode("utf-8")
    for e in entries["CONTENT_TEXT_V0"]:
        data[e["offset"] : e["offset"] + e["size"]].decode("utf-8")  # UTF-8 byte positions


@pytest.mark.parametrize("value", ["maybe", "2", "", "truee"])
async def test_simprint_bad_offsets_is_400(api, value):
    r = await simprint(api, HELLO, {"offsets": value})
    assert r.status == 400
    assert "Query parameter offsets must be true or false" in r.text


async def test_demo_doc_granular_reference_values(api):
    data = (iscc_samples.TEXT / "demo.doc").read_bytes()
    r = await upload(api, data, "demo.doc", params={"granular": "true"})
    assert r.status == 201 and r.json["iscc"] == DOC_ISCC
    [content] = [f for f in r.json["features"] if f["maintype"] == "content"]
    assert len(content["simprints"]) >= 6 and content["simprints"][:2] == DOC_FIRST_SIMPRINTS


async def test_demo_jpg_reference_value(api, demo_jpg):
    r = await upload(api, demo_jpg.read_bytes(), "demo.jpg", content_type="image/jpeg")
    assert r.status == 201 and r.json["iscc"] == JPG_ISCC


@pytest.mark.parametrize("code, words", [c for c in BAD_CODES if isinstance(c[0], str)])
async def test_explain_invalid_codes_say_what_is_wrong(api, code, words):
    r = await api("GET", "explain", code or " ")  # jp_fetch percent-encodes the path
    assert r.status == 400
    assert r.text.rstrip("\n") == code_problem(code) and words in r.text  # the same message as in Python
    assert not any(e in r.text for e in PYTHON_ERRORS), r.text
