"""The REST face with the test-made models, over real HTTP: POST /iscc?semantic=true (text and
image) and POST /simprint give what Python gives, run after run."""

import json

import iscc_core as ic
import iscc_samples
import pytest

from iscc_lab import create_iscc, create_simprints
from tests.semantic.helpers import LONG, SHORT, semantic_unit
from tests.server_ext.conftest import upload

pytestmark = pytest.mark.usefixtures("semantic_model")

DEMO = iscc_samples.IMAGE / "demo.jpg"


def same_result(rest: dict, python: dict):
    rest = {k: v for k, v in rest.items() if k not in ("media_id", "content")}
    assert rest == python


async def test_post_iscc_semantic_text_and_image(api):
    text = (SHORT * 20).encode()
    r = await upload(api, text, "notes.txt", params={"semantic": "true", "granular": "true"})
    assert r.status == 201
    python = create_iscc(text, "notes.txt", semantic=True, granular=True)
    same_result(r.json, python)
    assert ic.iscc_decode(semantic_unit(r.json))[1] == ic.ST_CC.TEXT
    assert [f["maintype"] for f in r.json["features"]] == ["content", "semantic"]
    again = await upload(api, text, "notes.txt", params={"semantic": "true", "granular": "true"})
    same_result(again.json, python)

    r = await upload(api, DEMO.read_bytes(), "demo.jpg", params={"semantic": "true"})
    assert r.status == 201
    same_result(r.json, create_iscc(DEMO, semantic=True))
    assert ic.iscc_decode(semantic_unit(r.json))[1] == ic.ST_CC.IMAGE

    r = await upload(api, DEMO.read_bytes(), "demo.jpg", params={"semantic": "false"})
    assert len(r.json["units"]) == 4


async def test_post_simprint_has_semantic_text_v0(api):
    for text in (SHORT, LONG):
        r = await api("POST", "simprint", body=json.dumps({"text": text}))
        assert r.status == 200
        assert r.json == create_simprints(text)
        assert set(r.json) == {"CONTENT_TEXT_V0", "SEMANTIC_TEXT_V0"}
    assert len(r.json["SEMANTIC_TEXT_V0"]) > 10  # the long text: one per chunk
