"""Every row of the contract's status tables, against a real Jupyter server over HTTP.

The server runs with pytest-jupyter's non-root base URL (`/a%40b/`); every response is also
validated against the served OpenAPI document (see conftest.api).
"""

import asyncio
import re

import iscc_samples
import pytest

from tests.conftest import EXPLAIN_CODE, EXPLAIN_EXAMPLE, IMAGE_EXAMPLE
from tests.server_ext.conftest import b64, raw_request, upload

MEDIA_ID = re.compile(r"^[a-v0-9]{13}$")


def media_ids(media_path):
    return sorted(p.name for p in media_path.iterdir() if MEDIA_ID.match(p.name))


# -- POST /iscc -----------------------------------------------------------------------------


async def test_post_iscc_201_reproduces_the_contract_example(api, demo_bmp, jp_base_url, port):
    r = await upload(api, demo_bmp.read_bytes(), "test-image.jpg", content_type="image/jpeg")
    assert r.status == 201
    body = r.json
    for key, value in IMAGE_EXAMPLE.items():
        assert body[key] == value, key
    assert MEDIA_ID.match(body["media_id"])
    assert r.headers["Location"] == f"{jp_base_url}api/v1/media/{body['media_id']}"
    assert body["content"] == f"http://127.0.0.1:{port}{r.headers['Location']}"
    assert list(body)[:6] == ["@context", "@type", "$schema", "iscc", "media_id", "content"]


async def test_post_iscc_granular_text_features(api):
    text = ("A text that is long enough to be cut into several chunks of content. " * 80).encode()
    r = await upload(api, text, "notes.txt", params={"granular": "true"})
    assert r.status == 201 and r.json["features"][0]["maintype"] == "content"
    r = await upload(api, text, "notes.txt", params={"granular": "false"})
    assert r.status == 201 and "features" not in r.json


@pytest.mark.parametrize(
    "headers, body, params, message",
    [
        ({}, b"abc", None, "Missing header X-Upload-Filename"),
        ({"X-Upload-Filename": "not base64!"}, b"abc", None, "not valid base64"),
        ({"X-Upload-Filename": "//79"}, b"abc", None, "UTF-8"),
        ({"X-Upload-Filename": b64("")}, b"abc", None, "empty"),
        ({"X-Upload-Filename": b64("../../etc/passwd")}, b"abc", None, "without folders"),
        ({"X-Upload-Filename": b64("a.txt")}, b"", None, "empty"),
        (
            {"X-Upload-Filename": b64("a.txt")},
            b"abc",
            {"semantic": "maybe"},
            "semantic must be true or false",
        ),
        (
            {"X-Upload-Filename": b64("a.txt")},
            b"abc",
            {"granular": "2"},
            "granular must be true or false",
        ),
    ],
)
async def test_post_iscc_400(api, media_path, headers, body, params, message):
    r = await api("POST", "iscc", body=body, headers=headers, params=params)
    assert r.status == 400 and message in r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    assert media_ids(media_path) == []


@pytest.mark.iscc_env(ISCC_SDK_FALLBACK="false")
async def test_post_iscc_422_when_fallback_is_off(api, media_path):
    r = await upload(api, bytes(range(256)) * 16, "random.bin")
    assert r.status == 422 and "unsupported media type" in r.text
    assert media_ids(media_path) == []  # a failed ISCC leaves no media behind


async def test_post_iscc_fallback_gives_a_wide_iscc_sum(api):
    r = await upload(api, bytes(range(256)) * 16, "random.bin")
    assert r.status == 201 and len(r.json["units"]) == 2
    assert r.json["iscc"].startswith("ISCC:K4A")  # ISCC-WIDE: Data + Instance, 256 bits each


async def test_post_iscc_422_for_a_broken_file(api, media_path):
    r = await upload(api, bytes(range(256)) * 16, "random.pdf")  # named PDF, but is not one
    assert r.status == 422 and "random.pdf" in r.text and "PDF" in r.text
    assert media_ids(media_path) == []


# -- GET /iscc/{media_id} -------------------------------------------------------------------


async def test_get_iscc_200_without_volatile_fields(api, demo_bmp):
    created = (await upload(api, demo_bmp.read_bytes(), "test-image.jpg")).json
    r = await api("GET", "iscc", created["media_id"])
    assert r.status == 200
    assert "media_id" not in r.json and "content" not in r.json
    assert r.json == {k: v for k, v in created.items() if k not in ("media_id", "content")}


async def test_get_iscc_404(api):
    assert (await api("GET", "iscc", "0000000000000")).status == 404
    media = (await upload(api, b"no iscc for me", "x.txt", route="media")).json
    r = await api("GET", "iscc", media["media_id"])
    assert r.status == 404 and "POST /media" in r.text


# -- POST /media, GET and DELETE /media/{media_id} ----------------------------------------------


async def test_media_round_trip(api, demo_jpg, jp_base_url, port, media_path):
    data = demo_jpg.read_bytes()
    r = await upload(api, data, "Kätzchen 1.jpg", route="media", content_type="image/jpeg")
    assert r.status == 201 and set(r.json) == {"media_id", "content"}
    media_id = r.json["media_id"]
    assert r.headers["Location"] == f"{jp_base_url}api/v1/media/{media_id}"
    assert r.json["content"] == f"http://127.0.0.1:{port}{jp_base_url}api/v1/media/{media_id}"

    r = await api("GET", "media", media_id)
    assert r.status == 200 and r.body == data
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"K_tzchen 1.jpg\"; filename*=UTF-8''K%C3%A4tzchen%201.jpg"
    )

    r = await api("DELETE", "media", media_id)
    assert r.status == 204 and r.body == b""
    assert (await api("GET", "media", media_id)).status == 404
    assert (await api("DELETE", "media", media_id)).status == 404
    assert media_ids(media_path) == []


async def test_post_media_400(api):
    assert (await api("POST", "media", body=b"abc")).status == 400
    r = await api("POST", "media", body=b"", headers={"X-Upload-Filename": b64("a.bin")})
    assert r.status == 400 and "empty" in r.text


@pytest.mark.parametrize(
    "shape",
    [
        "0000000000000",
        "06H0CERTA1QL2",
        "06h0certa1ql",
        "06h0certa1ql2x",
        "06h0certa1qlw",
        "..%2f..%2fetc",
    ],
)
async def test_media_id_route_pattern(api, shape):
    """Unknown ids and other shapes are 404, in plain text."""
    for method, route in (
        ("GET", "media"),
        ("DELETE", "media"),
        ("GET", "iscc"),
        ("GET", "metadata"),
    ):
        r = await api(method, route, shape, validate=False)
        assert r.status == 404, (method, route, shape)
        assert r.headers["Content-Type"].startswith("text/plain")


async def test_large_upload_streams_to_disk(api, media_path):
    data = bytes(range(256)) * (64 * 1024 * 3)  # 48 MiB
    r = await upload(api, data, "large.bin", route="media")
    assert r.status == 201
    assert (media_path / r.json["media_id"] / "large.bin").stat().st_size == len(data)


# -- size limits, as curl and other clients send bodies ------------------------------------------


SMALL_LIMIT = 100_000
small_limit = pytest.mark.iscc_env(ISCC_WEB_MAX_UPLOAD_SIZE=SMALL_LIMIT)


@small_limit
@pytest.mark.parametrize("mode", ["expect-100-continue", "whole-body", "chunked"])
@pytest.mark.parametrize("size", [100_001, 1_000_000])
async def test_oversize_is_400_for_every_client(
    jp_serverapp, jp_base_url, port, token, media_path, mode, size
):
    head = (
        f"POST {jp_base_url}api/v1/iscc HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token {token}\r\nX-Upload-Filename: {b64('big.bin')}\r\n"
    )
    status, headers, body = await raw_request(
        port, head, b"x" * size, expect=mode == "expect-100-continue", chunked=mode == "chunked"
    )
    assert status == 400, body
    assert b"larger than the limit of 100000 bytes" in body
    assert headers["content-type"].startswith("text/plain")
    assert media_ids(media_path) == [] and list((media_path / ".incoming").iterdir()) == []


@small_limit
async def test_exactly_the_limit_is_accepted(api):
    r = await upload(api, b"y" * SMALL_LIMIT, "exact.bin", route="media")
    assert r.status == 201


async def test_content_length_must_be_a_number(jp_base_url, port, token, jp_serverapp):
    head = (
        f"POST {jp_base_url}api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token {token}\r\nX-Upload-Filename: {b64('a.bin')}\r\n"
        "Content-Length: 0\r\n"
    )
    status, _, body = await raw_request(port, head)
    assert status == 400 and b"empty" in body


# -- private files: another client address ------------------------------------------------------


async def as_other_client(port, token, method, path, body=b"", headers=""):
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {token}\r\n{headers}"
    )
    return await raw_request(port, head, body, local_addr=("127.0.0.2", 0))


async def test_private_files_403_for_another_client(api, demo_jpg, jp_base_url, port, token):
    media_id = (
        await upload(api, demo_jpg.read_bytes(), "cat.jpg", content_type="image/jpeg")
    ).json["media_id"]
    base = f"{jp_base_url}api/v1"
    status, _, body = await as_other_client(port, token, "GET", f"{base}/media/{media_id}")
    assert status == 403 and b"uploaded" in body
    status, _, _ = await as_other_client(port, token, "DELETE", f"{base}/media/{media_id}")
    assert status == 403
    status, _, _ = await as_other_client(
        port,
        token,
        "POST",
        f"{base}/metadata/{media_id}",
        b'{"name": "mine now"}',
        "Content-Type: application/json\r\n",
    )
    assert status == 403
    # Nor does another client learn its metadata or ISCC (which carries a thumbnail).
    for route in ("metadata", "iscc"):
        status, _, _ = await as_other_client(port, token, "GET", f"{base}/{route}/{media_id}")
        assert status == 404
    # The uploader still can.
    assert (await api("GET", "media", media_id)).status == 200
    assert (await api("DELETE", "media", media_id)).status == 204


@pytest.mark.iscc_env(ISCC_WEB_PRIVATE_FILES="false")
async def test_private_files_off_lets_anyone(api, jp_base_url, port, token):
    media_id = (await upload(api, b"shared bytes", "shared.txt", route="media")).json["media_id"]
    status, _, body = await as_other_client(
        port, token, "GET", f"{jp_base_url}api/v1/media/{media_id}"
    )
    assert status == 200 and body == b"shared bytes"


# -- GET and POST /metadata/{media_id} ----------------------------------------------------------


async def test_get_metadata(api, demo_jpg):
    media_id = (await upload(api, demo_jpg.read_bytes(), "cat.jpg", route="media")).json["media_id"]
    r = await api("GET", "metadata", media_id)
    assert r.status == 200 and r.json == {"name": "Concentrated Cat", "creator": "Some Cat Lover"}
    plain = (await upload(api, b"just some words", "plain.bin", route="media")).json["media_id"]
    r = await api("GET", "metadata", plain)
    assert r.status == 200 and r.json == {}
    assert (await api("GET", "metadata", "0000000000000")).status == 404


async def test_post_metadata_embeds_into_a_copy(api, demo_jpg, jp_base_url):
    original = demo_jpg.read_bytes()
    media_id = (
        await upload(api, original, "test-image.jpg", route="media", content_type="image/jpeg")
    ).json["media_id"]
    r = await api(
        "POST",
        "metadata",
        media_id,
        headers={"Content-Type": "application/json"},
        body=b'{"name": "The Never Ending Story", "creator": "Joanne K. Rowling"}',
    )
    assert r.status == 201
    new_id = r.json["media_id"]
    assert new_id != media_id and r.headers["Location"] == f"{jp_base_url}api/v1/media/{new_id}"
    assert r.json["name"] == "The Never Ending Story" and "Joanne K. Rowling" in r.json["creator"]
    assert r.json["iscc"].startswith("ISCC:KECTN76LTY")
    assert (await api("GET", "media", media_id)).body == original  # the original is unchanged
    copy = await api("GET", "media", new_id)
    assert copy.body != original and copy.headers["Content-Type"] == "image/jpeg"
    assert (await api("GET", "metadata", new_id)).json["name"] == "The Never Ending Story"
    assert (await api("GET", "iscc", new_id)).json["iscc"] == r.json["iscc"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty"),
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"name": 5}', "name"),
        (b'{"colour": "red"}', "colour"),
        (b'{"name": "' + b"x" * 129 + b'"}', "name"),
        (b'{"meta": "not a data url"}', "Data-URL"),
        (b"{}", "No metadata"),
    ],
)
async def test_post_metadata_400(api, demo_jpg, body, message):
    media_id = (await upload(api, demo_jpg.read_bytes(), "cat.jpg", route="media")).json["media_id"]
    r = await api(
        "POST", "metadata", media_id, body=body, headers={"Content-Type": "application/json"}
    )
    assert r.status == 400 and message in r.text


async def test_post_metadata_404_and_422(api, demo_bmp, media_path):
    r = await api("POST", "metadata", "0000000000000", body=b'{"name": "x"}')
    assert r.status == 404
    media_id = (await upload(api, demo_bmp.read_bytes(), "picture.bmp", route="media")).json[
        "media_id"
    ]
    r = await api("POST", "metadata", media_id, body=b'{"name": "x"}')
    assert r.status == 422 and "picture.bmp" in r.text
    assert media_ids(media_path) == [media_id]  # nothing half-made is left


# -- GET /explain/{iscc} and POST /simprint -------------------------------------------------


@pytest.mark.parametrize("code", [EXPLAIN_CODE, EXPLAIN_CODE.removeprefix("ISCC:")])
async def test_explain_200(api, code):
    r = await api("GET", "explain", code)
    assert r.status == 200
    for key in ("iscc", "readable", "multiformat", "decomposed"):
        assert r.json[key] == EXPLAIN_EXAMPLE[key]
    assert r.json["units"][0] == EXPLAIN_EXAMPLE["first_unit"]


@pytest.mark.parametrize(
    "code",
    ["ISCC:", "hello", "ISCC:CE22222222", EXPLAIN_CODE[:-2], EXPLAIN_CODE + "AA", "ISCC:AAAA"],
)
async def test_explain_400(api, code):
    r = await api("GET", "explain", code)
    assert r.status == 400 and "Invalid ISCC" in r.text


async def test_simprint_200(api):
    r = await api(
        "POST",
        "simprint",
        headers={"Content-Type": "application/json"},
        body=b'{"text": "Hello World! This is a short text for simprint generation."}',
    )
    assert r.status == 200
    assert r.json["CONTENT_TEXT_V0"] == ["SCXX_obwF2sK-xsnk9p1hhsH1fvrzwyZZBhhsVxMLTM"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b"not json", "not valid JSON"),
        (b'"text"', "JSON object"),
        (b"{}", "Missing field text"),
        (b'{"text": ""}', "empty"),
        (b'{"text": 42}', "string"),
        (b'{"text": "hi", "lang": "en"}', "Unknown field"),
    ],
)
async def test_simprint_400(api, body, message):
    r = await api("POST", "simprint", body=body, headers={"Content-Type": "application/json"})
    assert r.status == 400 and message in r.text


@small_limit
async def test_simprint_400_when_empty_or_oversized(api):
    assert (await api("POST", "simprint", body=b"")).status == 400
    r = await api("POST", "simprint", body=b'{"text": "' + b"a" * 100_001 + b'"}')
    assert r.status == 400 and "larger than the limit" in r.text


# -- authentication, expiry, docs -----------------------------------------------------------------


@pytest.mark.parametrize(
    "method, route",
    [
        ("POST", "iscc"),
        ("GET", "iscc/0000000000000"),
        ("POST", "media"),
        ("GET", "media/0000000000000"),
        ("DELETE", "media/0000000000000"),
        ("GET", "metadata/0000000000000"),
        ("POST", "metadata/0000000000000"),
        ("GET", f"explain/{EXPLAIN_CODE}"),
        ("POST", "simprint"),
    ],
)
async def test_every_endpoint_needs_a_token(
    jp_serverapp, jp_base_url, port, media_path, method, route
):
    head = f"{method} {jp_base_url}api/v1/{route} HTTP/1.1\r\nHost: localhost\r\n"
    head += f"X-Upload-Filename: {b64('a.txt')}\r\n"
    status, headers, body = await raw_request(port, head, b'{"text": "hello"}')
    assert status == 403, body
    assert headers["content-type"].startswith("text/plain")
    head = head.replace("Host: localhost\r\n", "Host: localhost\r\nAuthorization: token wrong\r\n")
    status, _, _ = await raw_request(port, head, b'{"text": "hello"}')
    assert status == 403
    assert media_ids(media_path) == []


@pytest.mark.iscc_env(ISCC_WEB_ALLOW_ANONYMOUS="true")
async def test_anonymous_access_when_configured(jp_serverapp, jp_base_url, port):
    head = f"GET {jp_base_url}api/v1/explain/{EXPLAIN_CODE} HTTP/1.1\r\nHost: localhost\r\n"
    status, _, _ = await raw_request(port, head)
    assert status == 200
    head = f"POST {jp_base_url}api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
    head += f"X-Upload-Filename: {b64('a.txt')}\r\n"
    status, _, body = await raw_request(port, head, b"anonymous bytes")
    assert status == 201, body


@pytest.mark.iscc_env(ISCC_WEB_STORAGE_EXPIRY=1, ISCC_WEB_CLEANUP_INTERVAL=1)
async def test_expired_media_are_404(api, media_path):
    media_id = (await upload(api, b"short-lived", "brief.txt", route="media")).json["media_id"]
    for _ in range(50):
        await asyncio.sleep(0.2)
        if not media_ids(media_path):
            break
    assert media_ids(media_path) == []
    assert (await api("GET", "media", media_id)).status == 404


async def test_docs_are_served_locally(jp_fetch):
    page = await jp_fetch("docs")
    html = page.body.decode()
    assert "swagger-ui" in html and "unpkg.com" not in html and "cdn" not in html.lower()
    spec = await jp_fetch("docs", "openapi.yaml")
    import yaml

    from tests.server_ext.openapi_check import SPEC_PATH

    assert yaml.safe_load(spec.body) == yaml.safe_load(SPEC_PATH.read_text())
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert (await jp_fetch("docs", "assets", asset)).code == 200


def test_openapi_document_is_valid():
    from openapi_spec_validator import validate

    from tests.server_ext.openapi_check import spec

    validate(spec())


async def test_round_trip(api, demo_jpg, media_path):
    """Upload, ISCC, download identical bytes, embed metadata, delete, 404."""
    data = demo_jpg.read_bytes()
    created = (await upload(api, data, "cat.jpg", content_type="image/jpeg")).json
    media_id = created["media_id"]
    assert (await api("GET", "iscc", media_id)).json["iscc"] == created["iscc"]
    assert (await api("GET", "media", media_id)).body == data
    embedded = await api("POST", "metadata", media_id, body=b'{"name": "Round Trip"}')
    assert embedded.status == 201 and embedded.json["iscc"] != created["iscc"]
    assert (await api("GET", "media", media_id)).body == data
    for mid in (media_id, embedded.json["media_id"]):
        assert (await api("DELETE", "media", mid)).status == 204
        assert (await api("GET", "media", mid)).status == 404
        assert (await api("GET", "iscc", mid)).status == 404
    assert media_ids(media_path) == []


async def test_every_sample_through_the_api(api):
    """A few files of each kind through POST /iscc (the whole corpus runs in the core tests)."""
    picks = [
        iscc_samples.TEXT / "demo.pdf",
        iscc_samples.AUDIO / "short.wav",
        iscc_samples.VIDEO / "demo.mp4",
    ]
    for path in picks:
        r = await upload(api, path.read_bytes(), path.name)
        assert r.status == 201 and len(r.json["units"]) == 4, path


@pytest.mark.iscc_env(ISCC_WEB_MAX_UPLOAD_SIZE=1000)
async def test_simprint_body_goes_through_the_store_upload_sink(
    api, jp_base_url, port, token, media_path
):
    """POST /simprint receives its body as uploads are received (the store's sink, with its
    limit: the upload limit plus room for the JSON around the text) and keeps nothing."""
    r = await api("POST", "simprint", body=b'{"text": "Hello World! A short text."}')
    assert r.status == 200
    head = (
        f"POST {jp_base_url}api/v1/simprint HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token {token}\r\n"
    )
    body = b'{"text": "' + b"x" * (1000 + (1 << 16)) + b'"}'  # no length said: chunked
    status, _, text = await raw_request(port, head, body, chunked=True)
    assert status == 400
    assert f"The upload is larger than the limit of {1000 + (1 << 16)} bytes." in text.decode()
    assert media_ids(media_path) == [] and list((media_path / ".incoming").iterdir()) == []
