"""Conformance with the contract's reference service (issue 14), over real HTTP: the shapes of
POST /simprint, reference values, plain messages for invalid codes. Every response is checked
against the OpenAPI document by the `api` fixture."""

import json

import iscc_samples
import pytest

from iscc_lab.explain import code_problem
from tests.core.test_conformance import (
    BAD_CODES,
    DOC_FIRST_SIMPRINTS,
    DOC_ISCC,
    HELLO,
    HELLO_SIMPRINT,
    JPG_ISCC,
    PYTHON_ERRORS,
)
from tests.server_ext.conftest import upload


def json_headers() -> dict:
    return {"Content-Type": "application/json"}  # a new dict: jp_fetch adds its token to it


async def simprint(api, text, params=None):
    return await api(
        "POST",
        "simprint",
        body=json.dumps({"text": text}).encode(),
        headers=json_headers(),
        params=params,
    )


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
    assert (
        r.text.rstrip("\n") == code_problem(code) and words in r.text
    )  # the same message as in Python
    assert not any(e in r.text for e in PYTHON_ERRORS), r.text


# -- POST /metadata/{id}: nothing a client embeds is lost without a word --------------------------

CONTRACT_FIELDS = {
    "name": "The Never Ending Story",
    "description": "A story about a boy and a book.",
    "meta": "data:application/json;base64,eyJpc2JuIjogIjk3ODAwMDAwMDAwMDIifQ==",
    "identifier": "urn:isbn:9780000000002",
    "creator": "Joanne K. Rowling",
    "license": "https://creativecommons.org/licenses/by/4.0/",
    "acquire": "https://example.com/acquire",
    "credit": "Photo: Zoë Müller / Agentur",
    "rights": "© 2024 Example Rights Holder",
    "keywords": ["cat", "story"],
}


async def test_post_metadata_keeps_every_field_on_demo_png_as_test_image_jpg(api):
    data = (iscc_samples.IMAGE / "demo.png").read_bytes()
    up = await upload(api, data, "test-image.jpg", route="media", content_type="image/jpeg")
    body = json.dumps(CONTRACT_FIELDS).encode()
    r = await api("POST", "metadata", up.json["media_id"], body=body, headers=json_headers())
    assert r.status == 201, r.text
    for field, value in CONTRACT_FIELDS.items():
        if field == "creator":  # after the creator already there, as the reference service does
            assert r.json["creator"] == "Another Cat Lover, Joanne K. Rowling"
        elif field != "keywords":  # not a field of the ISCC JSON or of GET /metadata
            assert r.json[field] == value, field
    new_id = r.json["media_id"]
    back = await api("GET", "metadata", new_id)
    assert back.status == 200
    expected = {k: v for k, v in CONTRACT_FIELDS.items() if k != "keywords"}
    assert back.json == expected | {"creator": "Another Cat Lover, Joanne K. Rowling"}
    assert (await api("GET", "iscc", new_id)).json["credit"] == CONTRACT_FIELDS["credit"]


async def test_post_metadata_422_names_the_field_and_the_format(api):
    data = (iscc_samples.TEXT / "demo.docx").read_bytes()
    up = await upload(api, data, "demo.docx", route="media")
    body = json.dumps({"name": "Kept", "credit": "Lost?"}).encode()
    r = await api("POST", "metadata", up.json["media_id"], body=body, headers=json_headers())
    assert r.status == 422
    assert r.text.startswith("demo.docx (application/vnd.openxmlformats")
    assert "cannot carry the field credit:" in r.text
    ok = await api(
        "POST", "metadata", up.json["media_id"], body=b'{"name": "Kept"}', headers=json_headers()
    )
    assert ok.status == 201 and ok.json["name"] == "Kept"
