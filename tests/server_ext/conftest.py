"""A real Jupyter server with the extension, on a non-root base URL (pytest-jupyter's
`/a%40b/`), its media in a temporary folder; every response is checked against the OpenAPI
document."""

import asyncio
import base64
import json
from dataclasses import dataclass

import pytest
from tornado.httpclient import HTTPClientError

from tests.server_ext.openapi_check import check


@pytest.fixture
def media_path(tmp_path, monkeypatch):
    path = tmp_path / "media"
    monkeypatch.setenv("ISCC_WEB_MEDIA_PATH", str(path))
    return path


@pytest.fixture
def jp_server_config(media_path, request, monkeypatch):
    """The extension enabled; `@pytest.mark.iscc_env(KEY=value)` sets ISCC_WEB_* / ISCC_SDK_*
    settings before the server starts (the extension reads them once, at start)."""
    marker = request.node.get_closest_marker("iscc_env")
    for key, value in (marker.kwargs if marker else {}).items():
        monkeypatch.setenv(key, str(value))
    return {"ServerApp": {"jpserver_extensions": {"iscc_lab.server_ext": True}}}


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8")


def b64(name: str) -> str:
    return base64.b64encode(name.encode("utf-8")).decode("ascii")


@pytest.fixture
def api(jp_fetch, jp_base_url):
    """Call the API: `await api("POST", "iscc", body=..., headers=...)` -> Reply, validated
    against the OpenAPI document."""

    async def call(method, *parts, body=None, headers=None, params=None, validate=True):
        try:
            r = await jp_fetch(
                "api",
                "v1",
                *parts,
                method=method,
                body=body,
                headers=headers or {},
                params=params,
                allow_nonstandard_methods=True,
                request_timeout=120,
            )
        except HTTPClientError as e:
            r = e.response
        reply = Reply(r.code, dict(r.headers), r.body or b"")
        if validate:
            path = "/" + "/".join(parts)
            check(method, path, reply.status, r.headers.get("Content-Type"), reply.body)
        return reply

    return call


@pytest.fixture
def port(jp_fetch, jp_http_port):
    """The port of the running server (requesting jp_fetch starts its HTTP server)."""
    return jp_http_port


@pytest.fixture
def token(jp_serverapp):
    return jp_serverapp.identity_provider.token


async def upload(
    api,
    data: bytes,
    filename: str,
    route="iscc",
    content_type="application/octet-stream",
    params=None,
):
    return await api(
        "POST",
        route,
        body=data,
        params=params,
        headers={"X-Upload-Filename": b64(filename), "Content-Type": content_type},
    )


async def raw_request(
    port: int, head: str, body: bytes = b"", *, expect=False, local_addr=None, chunked=False
):
    """A raw HTTP/1.1 exchange over a socket, as curl and other clients do it.

    With `expect`, send `Expect: 100-continue` and the body only after `100 Continue`.
    Returns (status, headers, body) of the final response, or raises ConnectionError.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local_addr)
    try:
        lines = head.rstrip("\r\n") + "\r\n"
        if chunked:
            lines += "Transfer-Encoding: chunked\r\n"
        elif body or "Content-Length" not in head:
            lines += f"Content-Length: {len(body)}\r\n"
        if expect:
            lines += "Expect: 100-continue\r\n"
        writer.write((lines + "Connection: close\r\n\r\n").encode("latin-1"))
        await writer.drain()
        if expect:
            status_line = await asyncio.wait_for(reader.readline(), 10)
            if b" 100 " not in status_line:  # a final answer instead of 100 Continue
                return await _read_response(reader, status_line)
            await reader.readline()
        step = 1 << 16
        for i in range(0, len(body), step):
            piece = body[i : i + step]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return await _read_response(reader, await asyncio.wait_for(reader.readline(), 60))
    finally:
        writer.close()


async def _read_response(reader, status_line: bytes):
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    status = int(status_line.split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = await reader.read(int(headers.get("content-length", 0)) or -1)
    return status, headers, body
