"""Without a model, or without iscc-sci: a clear error saying what is missing and how to
provide it (ToolMissing, HTTP 422), and never a download."""

import json
import os
import subprocess
import sys

import iscc_samples
import pytest

from iscc_lab import ToolMissing, create_iscc, create_simprints
from tests.semantic.helpers import SHORT
from tests.server_ext.conftest import upload

DEMO = iscc_samples.IMAGE / "demo.jpg"


def test_without_models_the_error_says_what_is_missing(no_semantic_model):
    with pytest.raises(ToolMissing) as e:
        create_iscc(SHORT.encode(), "a.txt", semantic=True)
    text = str(e.value)
    assert e.value.status == 422
    assert "iscc-sct-v0.2.0.onnx" in text and str(no_semantic_model / "sct") in text
    assert "ISCC_SCT_MODEL_DIR" in text and "iscc-lab models install" in text
    assert "does not download" in text
    with pytest.raises(ToolMissing) as e:
        create_iscc(DEMO, semantic=True)
    assert "iscc-sci-v0.1.0-w16.onnx" in str(e.value) and "ISCC_SCI_MODEL_DIR" in str(e.value)
    with pytest.raises(ToolMissing, match="iscc-sct-v0.2.0.onnx"):
        create_simprints(SHORT, semantic_features=True)
    assert set(create_simprints(SHORT)) == {"CONTENT_TEXT_V0"}
    assert len(create_iscc(DEMO, semantic=False)["units"]) == 4  # without semantic: as before


# Run in a fresh process: every way out to the network fails loudly and is recorded, before
# iscc-sct or iscc-sci is imported (they bind urlretrieve at import).
GUARD = """
import json, socket, sys, urllib.request
tried = []
def refuse(*args, **kwargs):
    tried.append(repr(args)[:200])
    raise RuntimeError("a download was attempted")
urllib.request.urlretrieve = refuse
urllib.request.urlopen = refuse
socket.socket.connect = refuse
socket.create_connection = refuse
"""


def run_guarded(body: str, env: dict) -> dict:
    code = GUARD + body + "\nprint(json.dumps({'tried': tried, 'out': out}))\n"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_download_is_attempted_without_the_models(tmp_path):
    body = f"""
from pathlib import Path
from iscc_lab import create_iscc, create_simprints, ToolMissing
out = []
for call in (
    lambda: create_iscc(b"{SHORT}", "a.txt", semantic=True),
    lambda: create_iscc(Path({str(DEMO)!r}), semantic=True),
    lambda: create_simprints("{SHORT}", semantic_features=True),
):
    try:
        call()
        out.append("made")
    except ToolMissing as e:
        out.append("ToolMissing")
# iscc-sct and iscc-sci themselves, as iscc-lab leaves them: their download functions are
# replaced, so even a model that goes missing after the check is never fetched
import iscc_sct, iscc_sci
from iscc_lab import semantic
semantic.wire("text"); semantic.wire("image")
for get in (iscc_sct.get_model, iscc_sci.get_model):
    try:
        get()
        out.append("model")
    except ToolMissing:
        out.append("ToolMissing")
"""
    (tmp_path / "sct").mkdir()
    (tmp_path / "sci").mkdir()
    env = {"ISCC_SCT_MODEL_DIR": str(tmp_path / "sct"), "ISCC_SCI_MODEL_DIR": str(tmp_path / "sci")}
    result = run_guarded(body, env)
    assert result == {"tried": [], "out": ["ToolMissing"] * 5}
    assert list((tmp_path / "sct").iterdir()) == [] and list((tmp_path / "sci").iterdir()) == []


def test_no_download_with_a_model_of_another_checksum(semantic_model):
    """iscc-sci checks its model's checksum at load and downloads another on a mismatch;
    iscc-lab loads the file in place (the test model's checksum differs from the published)."""
    body = f"""
from pathlib import Path
from iscc_lab import create_iscc
out = [len(create_iscc(Path({str(DEMO)!r}), semantic=True)["units"]),
       len(create_iscc(b"{SHORT}", "a.txt", semantic=True)["units"])]
"""
    env = {k: os.environ[k] for k in ("ISCC_SCT_MODEL_DIR", "ISCC_SCI_MODEL_DIR")}
    assert run_guarded(body, env) == {"tried": [], "out": [5, 5]}


def test_without_iscc_sci_semantic_image_names_the_package(semantic_model, without_iscc_sci):
    body = f"""
from pathlib import Path
from iscc_lab import create_iscc, ToolMissing
out = []
try:
    create_iscc(Path({str(DEMO)!r}), semantic=True)
except ToolMissing as e:
    out = [str(e), e.status]
out.append(len(create_iscc(b"{SHORT}", "a.txt", semantic=True)["units"]))
"""
    result = run_guarded(body, {})
    message, status, text_units = result["out"]
    assert status == 422 and text_units == 5
    assert "iscc-sci" in message and "pip install 'iscc-lab[semantic-image]'" in message


# -- REST: the server's workers see what the environment said when it started ---------------


async def test_rest_without_models_is_422_saying_what_is_missing(no_semantic_model, api):
    r = await upload(api, (SHORT * 5).encode(), "a.txt", params={"semantic": "true"})
    assert r.status == 422
    assert "iscc-sct-v0.2.0.onnx" in r.text and "ISCC_SCT_MODEL_DIR" in r.text
    r = await upload(api, DEMO.read_bytes(), "demo.jpg", params={"semantic": "true"})
    assert r.status == 422 and "iscc-sci-v0.1.0-w16.onnx" in r.text
    r = await api("POST", "simprint", body=json.dumps({"text": SHORT}))
    assert r.status == 200 and set(r.json) == {"CONTENT_TEXT_V0"}


async def test_rest_without_iscc_sci_is_422_naming_it(semantic_model, without_iscc_sci, api):
    r = await upload(api, DEMO.read_bytes(), "demo.jpg", params={"semantic": "true"})
    assert r.status == 422
    assert "iscc-sci" in r.text and "iscc-lab[semantic-image]" in r.text
    r = await upload(api, (SHORT * 5).encode(), "a.txt", params={"semantic": "true"})
    assert r.status == 201 and len(r.json["units"]) == 5
