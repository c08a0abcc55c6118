"""Access: nobody reaches what is not theirs (adds to tests/server_ext/test_api.py, which covers
the 403/404 of another address on download, delete, embed, GET /metadata and GET /iscc, every
endpoint without a token, and anonymous access when configured).

Against a real `iscc-lab serve` with private files on (the default): the embedded copy of a
media is as private as the media; another client cannot learn more from GET /iscc or GET
/metadata than that nothing is there; forwarding headers do not make another client the
uploader; the Host and Origin checks of Jupyter hold for the API; and the browser path needs the
XSRF token for every write.
"""

import base64
import re

import iscc_samples
import pytest
import requests

from tests.reliability.conftest import EXPLAIN_PATH, exchange, media_ids, serve

OTHER = ("127.0.0.2", 0)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = serve(tmp_path_factory.mktemp("access"))
    try:
        yield s
    finally:
        s.stop()


def raw(server, method, path, *, body=b"", headers="", local_addr=None, token=True):
    """One request over its own connection, optionally from another client address."""
    auth = f"Authorization: token {server.token}\r\n" if token else ""
    head = (
        f"{method} /api/v1/{path} HTTP/1.1\r\nHost: localhost\r\n{auth}{headers}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    out = exchange(server.port, head + body, local_addr=local_addr)
    if method == "HEAD":  # a Content-Length but no body
        first = out["raw"].split(b"\r\n", 1)[0]
        return int(first.split()[1]), {}, out["raw"].partition(b"\r\n\r\n")[2]
    assert out["responses"], out
    return out["responses"][0]


@pytest.fixture(scope="module")
def owned(server):
    """A JPEG of the uploader (127.0.0.1) with its ISCC, and an embedded copy of it."""
    jpeg = (iscc_samples.IMAGE / "demo.jpg").read_bytes()
    r = server.upload(jpeg, "private.jpg", route="iscc", content_type="image/jpeg")
    assert r.status_code == 201
    original = r.json()["media_id"]
    r = server.call("POST", f"metadata/{original}", json={"name": "Private copy"})
    assert r.status_code == 201, r.text
    return {"original": original, "copy": r.json()["media_id"]}


@pytest.mark.parametrize("which", ["original", "copy"])
def test_another_address_cannot_reach_the_media_or_its_embedded_copy(server, owned, which):
    media_id = owned[which]
    assert raw(server, "GET", f"media/{media_id}", local_addr=OTHER)[0] == 403
    assert raw(server, "DELETE", f"media/{media_id}", local_addr=OTHER)[0] == 403
    body = b'{"name": "mine now"}'
    assert (
        raw(
            server,
            "POST",
            f"metadata/{media_id}",
            body=body,
            local_addr=OTHER,
            headers="Content-Type: application/json\r\n",
        )[0]
        == 403
    )
    for route in ("iscc", "metadata"):
        status, _, text = raw(server, "GET", f"{route}/{media_id}", local_addr=OTHER)
        assert status == 404 and b"private.jpg" not in text and b"Private copy" not in text
    # The uploader still has it, whole.
    assert server.call("GET", f"media/{media_id}").status_code == 200
    assert media_id in media_ids(server.media)


def test_someone_elses_media_looks_like_no_media(server, owned):
    """GET /iscc and GET /metadata answer another client exactly as for an id that does not
    exist (no oracle beyond the contract's 403 on download and delete)."""
    unknown = "0000000000000"
    for route in ("iscc", "metadata"):
        s1, h1, theirs = raw(server, "GET", f"{route}/{owned['original']}", local_addr=OTHER)
        s2, h2, nothing = raw(server, "GET", f"{route}/{unknown}", local_addr=OTHER)
        assert (s1, h1["content-type"]) == (s2, h2["content-type"]) == (404, h2["content-type"])
        assert theirs.replace(owned["original"].encode(), b"ID") == nothing.replace(
            unknown.encode(), b"ID"
        )


@pytest.mark.parametrize(
    "spoof",
    [
        "X-Forwarded-For: 127.0.0.1\r\n",
        "X-Real-Ip: 127.0.0.1\r\n",
        "Forwarded: for=127.0.0.1\r\n",
        "X-Forwarded-For: 127.0.0.1\r\nX-Real-Ip: 127.0.0.1\r\nX-Scheme: https\r\n",
    ],
)
def test_forwarding_headers_do_not_make_another_client_the_uploader(server, owned, spoof):
    assert (
        raw(server, "GET", f"media/{owned['original']}", headers=spoof, local_addr=OTHER)[0] == 403
    )
    assert (
        raw(server, "DELETE", f"media/{owned['original']}", headers=spoof, local_addr=OTHER)[0]
        == 403
    )
    assert (
        raw(server, "GET", f"iscc/{owned['original']}", headers=spoof, local_addr=OTHER)[0] == 404
    )


def test_the_other_address_owns_what_it_uploads(server, owned):
    """Private files work both ways: 127.0.0.2's upload is its own, and not 127.0.0.1's."""
    name = base64.b64encode(b"theirs.txt").decode()
    status, _, body = raw(
        server,
        "POST",
        "media",
        body=b"their bytes",
        local_addr=OTHER,
        headers=f"X-Upload-Filename: {name}\r\n",
    )
    assert status == 201
    theirs = re.search(rb'"media_id": "([a-v0-9]{13})"', body).group(1).decode()
    assert raw(server, "GET", f"media/{theirs}", local_addr=OTHER)[2] == b"their bytes"
    assert server.call("GET", f"media/{theirs}").status_code == 403
    assert server.call("DELETE", f"media/{theirs}").status_code == 403
    assert raw(server, "DELETE", f"media/{theirs}", local_addr=OTHER)[0] == 204


def test_head_and_undeclared_methods_give_no_bytes(server, owned):
    for method in ("HEAD", "PUT", "PATCH"):
        status, _, body = raw(server, method, f"media/{owned['original']}", local_addr=OTHER)
        assert status == 405 and b"\xff\xd8" not in body and len(body) < 100


# -- tokens, Host and Origin ----------------------------------------------------------------------


def test_token_in_the_query_and_wrong_tokens(server):
    base = f"{server.api}/{EXPLAIN_PATH}"
    assert requests.get(f"{base}?token={server.token}", timeout=30).status_code == 200
    for bad in ("nope", server.token[:-1], server.token + "x", ""):
        assert requests.get(f"{base}?token={bad}", timeout=30).status_code == 403
        assert (
            requests.get(base, headers={"Authorization": f"token {bad}"}, timeout=30).status_code
            == 403
        )
    # Jupyter also takes the token as a bearer token.
    assert (
        requests.get(
            f"{base}", headers={"Authorization": f"Bearer {server.token}"}, timeout=30
        ).status_code
        == 200
    )


def test_foreign_host_header_is_refused_even_with_the_token(server):
    """Jupyter's DNS-rebinding protection covers the API: a page on evil.example that resolves
    to 127.0.0.1 sends `Host: evil.example`."""
    head = (
        f"GET /api/v1/{EXPLAIN_PATH} HTTP/1.1\r\nHost: evil.example\r\n"
        f"Authorization: token {server.token}\r\nConnection: close\r\n\r\n"
    ).encode()
    ((status, _, _),) = exchange(server.port, head)["responses"]
    assert status == 403


# -- the browser path: Jupyter's session cookie and XSRF token -------------------------------------


def login(server) -> requests.Session:
    """Log in as a browser does: GET /login (sets the _xsrf cookie), POST /login with the token
    as password and the _xsrf value; Jupyter sets its session cookie."""
    s = requests.Session()
    r = s.get(f"{server.base}/login?next=%2Fdocs", timeout=30)
    assert r.status_code == 200 and "_xsrf" in s.cookies
    r = s.post(
        f"{server.base}/login?next=%2Fdocs",
        data={"password": server.token, "_xsrf": s.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302 and r.headers["Location"] == "/docs"
    assert any(c.name.startswith("username-") for c in s.cookies)
    return s


def test_wrong_password_gives_no_session(server):
    s = requests.Session()
    s.get(f"{server.base}/login", timeout=30)
    r = s.post(
        f"{server.base}/login",
        data={"password": "wrong", "_xsrf": s.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code != 302 and not any(c.name.startswith("username-") for c in s.cookies)
    assert s.get(f"{server.api}/{EXPLAIN_PATH}", timeout=30).status_code == 403


def test_cookie_session_needs_the_xsrf_token_for_every_write(server):
    s = login(server)
    api = server.api
    name = base64.b64encode(b"browser.txt").decode()
    xsrf = {"X-XSRFToken": s.cookies["_xsrf"]}
    before = media_ids(server.media)

    # Reads work with the cookie alone.
    assert s.get(f"{api}/{EXPLAIN_PATH}", timeout=30).status_code == 200

    # Writes without X-XSRFToken: refused, nothing stored.
    for route, body, headers in (
        ("media", b"browser bytes", {"X-Upload-Filename": name}),
        ("iscc", b"browser bytes", {"X-Upload-Filename": name}),
        ("simprint", b'{"text": "browser text"}', {}),
    ):
        r = s.post(
            f"{api}/{route}", data=body, headers={**headers, "Connection": "close"}, timeout=30
        )
        assert r.status_code == 403 and "_xsrf" in r.text, (route, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("text/plain")
    assert media_ids(server.media) == before

    # With a forged or another session's token: refused too.
    other = login(server)
    for token in (
        "2|00000000|0123456789abcdef0123456789abcdef|1700000000",
        other.cookies["_xsrf"] + "x",
    ):
        r = s.post(
            f"{api}/media",
            data=b"x",
            headers={"X-Upload-Filename": name, "X-XSRFToken": token, "Connection": "close"},
            timeout=30,
        )
        assert r.status_code == 403, token
    assert media_ids(server.media) == before

    # With the _xsrf cookie's value as X-XSRFToken: accepted.
    r = s.post(
        f"{api}/media",
        data=b"browser bytes",
        headers={"X-Upload-Filename": name, **xsrf},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    media_id = r.json()["media_id"]
    r = s.post(f"{api}/simprint", data=b'{"text": "browser text"}', headers=xsrf, timeout=30)
    assert r.status_code == 200

    # DELETE and POST /metadata need it as well.
    assert (
        s.delete(f"{api}/media/{media_id}", headers={"Connection": "close"}, timeout=30).status_code
        == 403
    )
    assert (
        s.post(
            f"{api}/metadata/{media_id}",
            json={"name": "x"},
            headers={"Connection": "close"},
            timeout=30,
        ).status_code
        == 403
    )
    assert s.get(f"{api}/media/{media_id}", timeout=30).content == b"browser bytes"
    assert s.delete(f"{api}/media/{media_id}", headers=xsrf, timeout=30).status_code == 204

    # A cross-origin page cannot use the session even with the token (Jupyter's origin check).
    # (Connection: close on refused streaming POSTs: see the keep-alive finding below.)
    r = s.post(
        f"{api}/media",
        data=b"x",
        timeout=30,
        headers={
            "X-Upload-Filename": name,
            **xsrf,
            "Origin": "http://evil.example",
            "Connection": "close",
        },
    )
    assert r.status_code in (403, 404) and "Access-Control-Allow-Origin" not in r.headers
    r = s.get(f"{api}/{EXPLAIN_PATH}", headers={"Origin": "http://evil.example"}, timeout=30)
    assert r.status_code in (403, 404)
    assert media_ids(server.media) == before


# -- findings ------------------------------------------------------------------------------------


def test_connection_after_a_refused_streaming_post_is_usable_or_announced_closed(server):
    import socket

    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(
            b'POST /api/v1/simprint HTTP/1.1\r\nHost: localhost\r\nContent-Length: 17\r\n\r\n{"text": "hello"}'
        )
        first = b""
        while b"\r\n\r\n" not in first or not first.endswith(b"\n"):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 403")
        if b"connection: close" in first.lower():
            return  # announced: the client knows not to reuse it
        sock.sendall(
            f"GET /api/v1/{EXPLAIN_PATH} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {server.token}\r\n\r\n".encode()
        )
        second = sock.recv(65536)
        assert second.startswith(b"HTTP/1.1 200"), second[:200]
    finally:
        sock.close()


@pytest.mark.parametrize("route", ["media", "simprint"])
def test_post_without_a_token_says_that_a_token_is_needed(server, route):
    name = base64.b64encode(b"a.txt").decode()
    status, _, body = raw(
        server,
        "POST",
        route,
        body=b'{"text": "x"}',
        token=False,
        headers=f"X-Upload-Filename: {name}\r\n",
    )
    assert status == 403
    assert b"token" in body, body
