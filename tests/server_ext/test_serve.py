"""`iscc-lab serve` as a user runs it: a subprocess, then the contract's curl examples."""

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import EXPLAIN_CODE, EXPLAIN_EXAMPLE, IMAGE_EXAMPLE

TOKEN = "test-token-0123456789"
SIMPRINT = "SCXX_obwF2sK-xsnk9p1hhsH1fvrzwyZZBhhsVxMLTM"  # the reference service's, bare
CURL = shutil.which("curl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(tmp_path_factory, *extra: str):
    """`iscc-lab serve --port P --token T --media-path DIR [extra]`, stopped with SIGTERM (a
    SIGINT would be ignored where the tests run as a shell's background job)."""
    media = tmp_path_factory.mktemp("serve-media")
    cwd = tmp_path_factory.mktemp("serve-cwd")
    port = free_port()
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "iscc-lab"),
        "serve",
        "--port",
        str(port),
        "--token",
        TOKEN,
        "--media-path",
        str(media),
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ISCC_WEB_", "JUPYTER_"))}
    log = open(tmp_path_factory.mktemp("serve-log") / "serve.log", "w+")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    banner = ""
    for _ in range(300):
        time.sleep(0.1)
        log.seek(0)
        banner = log.read()
        if "API docs:" in banner or proc.poll() is not None:
            break
    assert "API docs:" in banner, banner
    try:
        yield {
            "port": port,
            "base": f"http://127.0.0.1:{port}",
            "media": media,
            "banner": banner,
            "proc": proc,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory) as s:
        yield s


def curl(*args) -> tuple[int, str]:
    out = subprocess.run(
        [CURL, "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=120
    )
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def test_banner_shows_api_base_docs_and_token(server):
    banner = server["banner"]
    assert f"API base: http://127.0.0.1:{server['port']}/api/v1" in banner
    assert f"API docs: http://127.0.0.1:{server['port']}/docs" in banner
    assert f"token:    {TOKEN}" in banner


def test_contract_curl_examples(server, demo_bmp, tmp_path):
    base, auth = server["base"] + "/api/v1", f"Authorization: token {TOKEN}"
    image = tmp_path / "test-image.jpg"
    image.write_bytes(demo_bmp.read_bytes())
    name = base64.b64encode(b"test-image.jpg").decode()

    # POST /iscc with the contract's image example
    status, body = curl(
        "-X",
        "POST",
        f"{base}/iscc",
        "-H",
        auth,
        "-H",
        f"X-Upload-Filename: {name}",
        "-H",
        "Content-Type: image/jpeg",
        "--data-binary",
        f"@{image}",
    )
    assert status == 201, body
    result = json.loads(body)
    assert {k: result[k] for k in IMAGE_EXAMPLE} == IMAGE_EXAMPLE
    assert re.fullmatch(rf"{base}/media/[a-v0-9]{{13}}", result["content"])

    # POST /media
    status, body = curl(
        "-X",
        "POST",
        f"{base}/media",
        "-H",
        auth,
        "-H",
        f"X-Upload-Filename: {name}",
        "-H",
        "Content-Type: image/jpeg",
        "--data-binary",
        f"@{image}",
    )
    assert status == 201
    media_id = json.loads(body)["media_id"]

    # POST /metadata/{media_id}: a JPEG that takes embedded metadata
    import iscc_samples

    jpeg = tmp_path / "cat.jpg"
    jpeg.write_bytes((iscc_samples.IMAGE / "demo.jpg").read_bytes())
    status, body = curl(
        "-X",
        "POST",
        f"{base}/media",
        "-H",
        auth,
        "-H",
        f"X-Upload-Filename: {base64.b64encode(b'test-image.jpg').decode()}",
        "-H",
        "Content-Type: image/jpeg",
        "--data-binary",
        f"@{jpeg}",
    )
    jpeg_id = json.loads(body)["media_id"]
    status, body = curl(
        "-X",
        "POST",
        f"{base}/metadata/{jpeg_id}",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"name": "The Never Ending Story", "creator": "Joanne K. Rowling"}',
    )
    assert status == 201, body
    embedded = json.loads(body)
    assert embedded["name"] == "The Never Ending Story"
    assert embedded["creator"] == "Some Cat Lover, Joanne K. Rowling"  # as in the contract
    assert embedded["iscc"].startswith("ISCC:KECTN76LTY")

    # GET /explain/{iscc}
    status, body = curl(f"{base}/explain/{EXPLAIN_CODE}", "-H", auth)
    assert status == 200 and json.loads(body)["readable"] == EXPLAIN_EXAMPLE["readable"]

    # POST /simprint
    status, body = curl(
        "-X",
        "POST",
        f"{base}/simprint",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"text": "Hello World! This is a short text for simprint generation."}',
    )
    assert status == 200 and json.loads(body)["CONTENT_TEXT_V0"] == [SIMPRINT]

    # GET /media/{media_id} returns the bytes, DELETE removes them
    out = tmp_path / "download.jpg"
    status, _ = curl(f"{base}/media/{media_id}", "-H", auth, "-o", str(out))
    assert status == 200 and out.read_bytes() == image.read_bytes()
    assert curl("-X", "DELETE", f"{base}/media/{media_id}", "-H", auth)[0] == 204
    assert curl(f"{base}/media/{media_id}", "-H", auth)[0] == 404


def test_without_token_every_call_is_refused(server):
    status, body = curl(f"{server['base']}/api/v1/explain/{EXPLAIN_CODE}")
    assert status == 403 and "token" in body


def test_another_address_gets_403_on_private_media(server, tmp_path):
    """A client bound to 127.0.0.2 is another uploader."""
    base, auth = server["base"] + "/api/v1", f"Authorization: token {TOKEN}"
    name = base64.b64encode(b"mine.txt").decode()
    status, body = curl(
        "-X",
        "POST",
        f"{base}/media",
        "-H",
        auth,
        "-H",
        f"X-Upload-Filename: {name}",
        "--data-binary",
        "private words",
    )
    media_id = json.loads(body)["media_id"]
    other = ["--interface", "127.0.0.2", "-H", auth]
    assert curl(f"{base}/media/{media_id}", *other)[0] == 403
    assert curl("-X", "DELETE", f"{base}/media/{media_id}", *other)[0] == 403
    assert curl(f"{base}/metadata/{media_id}", *other)[0] == 404
    assert curl(f"{base}/media/{media_id}", "-H", auth)[0] == 200


def test_docs_page_is_served(server):
    status, body = curl(f"{server['base']}/docs")
    assert status == 200 and "swagger-ui" in body
    status, body = curl(f"{server['base']}/docs/openapi.yaml")
    assert status == 200 and "openapi: 3.0" in body


def test_only_the_api_is_served_unless_asked(server, tmp_path_factory):
    """The token opens the ISCC API and nothing else of Jupyter's (no kernel, no file, no
    terminal: a stand-alone API server runs no code for its callers), and Jupyter's other
    server extensions (JupyterLab, terminals, ...) stay off; --full-jupyter is Jupyter as
    usual."""
    auth = ["-H", f"Authorization: token {TOKEN}"]
    assert curl(f"{server['base']}/api/v1/explain/{EXPLAIN_CODE}", *auth)[0] == 200
    assert curl("-X", "POST", f"{server['base']}/api/kernels", *auth)[0] == 403
    assert curl(f"{server['base']}/api/contents", *auth)[0] == 403
    assert curl(f"{server['base']}/api/terminals", *auth)[0] == 404
    assert curl(f"{server['base']}/lab", *auth)[0] == 404
    with serving(tmp_path_factory, "--full-jupyter") as full:
        assert curl(f"{full['base']}/api/v1/explain/{EXPLAIN_CODE}", *auth)[0] == 200
        assert curl(f"{full['base']}/api/contents", *auth)[0] == 200
        assert curl(f"{full['base']}/api/terminals", *auth)[0] == 200
