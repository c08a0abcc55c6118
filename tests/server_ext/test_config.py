"""The extension's options are traitlets of IsccLabApp: set in Jupyter's config (files, the
server's command line, `iscc-lab serve`), with the ISCC_WEB_* environment as their defaults."""

import argparse
import os
import subprocess
import sys
import time

import pytest
from tornado.ioloop import PeriodicCallback
from traitlets.config import Config

from iscc_lab.cli import serve_config
from iscc_lab.server_ext.app import IsccLabApp
from tests.server_ext.conftest import b64, raw_request, upload
from tests.server_ext.test_serve import free_port


@pytest.fixture
def configured(tmp_path):
    return tmp_path / "configured-media"


@pytest.fixture
def jp_server_config(media_path, configured):
    """Options in the server's config; the environment (ISCC_WEB_MEDIA_PATH, set by the
    media_path fixture) says otherwise and must lose."""
    return {
        "ServerApp": {"jpserver_extensions": {"iscc_lab.server_ext": True}},
        "IsccLabApp": {
            "media_path": str(configured),
            "allow_anonymous": True,
            "max_upload_size": 1000,
            "cleanup_interval": 5,
        },
    }


def extension_app(serverapp) -> IsccLabApp:
    apps = [
        ext.app
        for ext in serverapp.extension_manager.extension_points.values()
        if isinstance(ext.app, IsccLabApp)
    ]
    assert len(apps) == 1
    return apps[0]


async def test_config_sets_the_options_over_the_environment(
    jp_serverapp, jp_base_url, api, port, media_path, configured
):
    app = extension_app(jp_serverapp)
    settings = app.service.settings
    assert os.environ["ISCC_WEB_MEDIA_PATH"] == str(media_path)
    assert settings.media_path == configured and settings.max_upload_size == 1000
    assert settings.allow_anonymous is True
    # the service uses them: media go to the configured folder, the limit holds
    r = await upload(api, b"configured bytes", "a.txt", route="media")
    assert r.status == 201
    assert (configured / r.json["media_id"]).is_dir() and not media_path.exists()
    r = await upload(api, b"x" * 1001, "big.txt", route="media")
    assert r.status == 400 and "1000" in r.text
    # anonymous access: no token, yet served
    head = f"POST {jp_base_url}api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
    head += f"X-Upload-Filename: {b64('anon.txt')}\r\n"
    status, _, body = await raw_request(port, head, b"anonymous bytes")
    assert status == 201, body


async def test_cleanup_runs_on_a_periodic_callback(jp_serverapp, api):
    app = extension_app(jp_serverapp)
    for _ in range(50):  # scheduled once the loop turns
        if app._cleanup is not None:
            break
        await api("GET", "explain", "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA")
    assert isinstance(app._cleanup, PeriodicCallback)
    assert app._cleanup.is_running() and app._cleanup.callback_time == 5000
    await app.stop_extension()
    assert not app._cleanup.is_running()


def test_environment_gives_the_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("ISCC_WEB_MEDIA_PATH", str(tmp_path / "env-media"))
    monkeypatch.setenv("ISCC_WEB_ALLOW_ANONYMOUS", "true")
    monkeypatch.setenv("ISCC_WEB_MAX_WORKERS", "3")
    app = IsccLabApp()
    assert app.media_path == str(tmp_path / "env-media")
    assert app.allow_anonymous is True and app.max_workers == 3
    settings = app.service_settings()
    assert settings.media_path == tmp_path / "env-media" and settings.max_workers == 3
    # config wins over the environment
    c = Config()
    c.IsccLabApp.max_workers = 1
    c.IsccLabApp.allow_anonymous = False
    app = IsccLabApp(config=c)
    assert app.max_workers == 1 and app.allow_anonymous is False


def test_invalid_option_says_which(monkeypatch):
    c = Config()
    c.IsccLabApp.max_workers = 0
    with pytest.raises(ValueError, match=r"IsccLabApp\.max_workers"):
        IsccLabApp(config=c).service_settings()


def test_serve_sets_config_not_environment(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("ISCC_"):
            monkeypatch.delenv(key)
    args = argparse.Namespace(
        ip="127.0.0.1", port=8123, token="t", media_path=str(tmp_path / "m"), anonymous=True,
        workers=2, jupyter_args=[],
    )  # fmt: skip
    c = serve_config(args)
    assert c.IsccLabApp.media_path == str(tmp_path / "m")
    assert c.IsccLabApp.allow_anonymous is True and c.IsccLabApp.max_workers == 2
    assert c.IsccLabApp.banner is True and c.IdentityProvider.token == "t"
    assert c.ServerApp.port == 8123 and c.ServerApp.port_retries == 0
    assert not [k for k in os.environ if k.startswith("ISCC_")]


def test_serve_takes_extension_options_on_its_command_line(tmp_path):
    """`iscc-lab serve ... --IsccLabApp.allow_anonymous=True`: a real server, no token sent."""
    import requests

    port = free_port()
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "iscc-lab"), "serve", "--port", str(port),
        "--media-path", str(tmp_path / "media"), "--IsccLabApp.allow_anonymous=True",
        "--IsccLabApp.max_upload_size=1000", "--IsccLabApp.max_workers=1",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ISCC_WEB_", "JUPYTER_"))}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "API docs:" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert proc.poll() is None, log.read_text()
        api = f"http://127.0.0.1:{port}/api/v1"
        r = requests.post(
            f"{api}/media",
            data=b"no token",
            headers={"X-Upload-Filename": b64("a.txt")},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        assert (tmp_path / "media" / r.json()["media_id"]).is_dir()
        r = requests.post(
            f"{api}/media",
            data=b"x" * 1001,
            headers={"X-Upload-Filename": b64("b.txt")},
            timeout=30,
        )
        assert r.status_code == 400 and "1000" in r.text
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
