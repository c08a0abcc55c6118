"""The Content Credentials routes over real HTTP on a non-root base URL: soft bindings and
signing under api/v1, the Soft Binding Resolution API under c2pa/v1, and the recovery story
(sign, strip by re-encoding, find the manifest again, validate it)."""

import base64
import io
import json

import c2pa
import iscc_samples
import pytest
from PIL import Image
from tornado.httpclient import HTTPClientError

from iscc_lab.credentials import context
from iscc_lab.provenance import soft_binding
from iscc_lab.provenance.repository import MIN_SCORE
from tests.server_ext.conftest import Reply, raw_request
from tests.server_ext.openapi_check import check

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def call(jp_fetch):
    """`await call("POST", "c2pa/v1", "matches", "byContent", body=...)`, validated."""

    async def fetch(method, prefix, *parts, body=None, headers=None, params=None, validate=True):
        try:
            r = await jp_fetch(
                *prefix.split("/"),
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
            content_type = r.headers.get("Content-Type")
            binary = (content_type or "").startswith("application/c2pa")  # the checker reads text
            body = b"" if binary else reply.body
            check(method, "/" + "/".join(parts), reply.status, content_type, body)
        return reply

    return fetch


def b64(name: str) -> str:
    return base64.b64encode(name.encode()).decode()


async def upload(call, path, content_type="application/octet-stream"):
    r = await call(
        "POST",
        "api/v1",
        "media",
        body=path.read_bytes(),
        headers={"X-Upload-Filename": b64(path.name), "Content-Type": content_type},
    )
    assert r.status == 201, r.text
    return r.json["media_id"]


async def signed(call, path, content_type):
    media_id = await upload(call, path, content_type)
    r = await call(
        "POST",
        "api/v1",
        "sign",
        media_id,
        body=b'{"title": "Signed by the lab"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 201, r.text
    return media_id, r


async def download(call, media_id) -> bytes:
    r = await call("GET", "api/v1", "media", media_id)
    assert r.status == 200
    return r.body


async def by_content(call, data: bytes, content_type: str, **params):
    return await call(
        "POST",
        "c2pa/v1",
        "matches",
        "byContent",
        body=data,
        headers={"Content-Type": content_type},
        params=params or None,
    )


def validates(asset: bytes, mediatype: str, store: bytes) -> dict:
    with c2pa.Reader(mediatype, io.BytesIO(asset), store, context()) as reader:
        return json.loads(reader.json())


def reencode_jpeg(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image = image.resize((int(image.width * 0.9), int(image.height * 0.9)))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


async def test_soft_binding_of_stored_media(
    call, demo_jpg, jp_base_url, jp_http_port, jp_serverapp
):
    media_id = await upload(call, demo_jpg, "image/jpeg")
    r = await call("GET", "api/v1", "soft-binding", media_id)
    assert r.status == 200 and r.json == soft_binding(demo_jpg)
    assert (await call("GET", "api/v1", "soft-binding", "0000000000000")).status == 404
    # private files: another client does not learn of it
    token = jp_serverapp.identity_provider.token
    head = (
        f"GET {jp_base_url}api/v1/soft-binding/{media_id} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token {token}\r\n"
    )
    status, _, _ = await raw_request(jp_http_port, head, local_addr=("127.0.0.2", 0))
    assert status == 404


async def test_sign_writes_a_signed_copy(call, demo_jpg):
    media_id, r = await signed(call, demo_jpg, "image/jpeg")
    result = r.json
    assert result["media_id"] != media_id and r.headers["Location"].endswith(result["media_id"])
    assert await download(call, media_id) == demo_jpg.read_bytes()  # the original untouched
    copy = await download(call, result["media_id"])
    with c2pa.Reader("image/jpeg", io.BytesIO(copy), None, context()) as reader:
        store = json.loads(reader.json())
    manifest = store["manifests"][store["active_manifest"]]
    labels = {a["label"]: a["data"] for a in manifest["assertions"]}
    assert labels["c2pa.soft-binding"]["alg"] == "io.iscc.v0"
    assert labels["c2pa.soft-binding"]["blocks"][0]["value"] == soft_binding(demo_jpg)["value"]
    assert labels["io.iscc.code"]["iscc"].startswith("ISCC:")
    assert manifest["title"] == "Signed by the lab"
    assert result["c2pa"]["active_manifest"] == store["active_manifest"]
    assert result["c2pa"]["validation_state"] == "Valid"
    # GET /iscc of the copy has the same c2pa field
    stored = await call("GET", "api/v1", "iscc", result["media_id"])
    assert stored.json["c2pa"] == result["c2pa"]
    # the collection's listing has the copy with its ISCC (its catalogue kept in step)
    listing = await call("GET", "api/v1", "media", validate=False)
    by_id = {m["media_id"]: m for m in listing.json["results"]}
    assert by_id[result["media_id"]]["iscc"] == result["iscc"]


@pytest.mark.no_signer
async def test_sign_without_signer_is_422_naming_the_setting(call, demo_jpg):
    media_id = await upload(call, demo_jpg, "image/jpeg")
    r = await call(
        "POST", "api/v1", "sign", media_id, body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert r.status == 422 and "ISCC_LAB_SIGN_CERT" in r.text


@pytest.mark.signer_options
async def test_signer_as_extension_options(call, demo_jpg):
    _, r = await signed(call, demo_jpg, "image/jpeg")
    assert r.json["c2pa"]["signer"]["common_name"] == "Alice Archivist"


async def test_supported_algorithms(call):
    r = await call("GET", "c2pa/v1", "services", "supportedAlgorithms")
    assert r.json == {"watermarks": [], "fingerprints": [{"alg": "io.iscc.v0"}]}


async def test_bad_queries_say_which(call, demo_jpg):
    value = soft_binding(demo_jpg)["value"]
    cases = [
        ({"alg": "com.example.v1", "value": value}, "Unknown alg"),
        ({"alg": "io.iscc.v0", "value": "bm90IGEgYmluZGluZw=="}, "not an io.iscc.v0 binding"),
        ({"alg": "io.iscc.v0", "value": "%%%"}, "not base64"),
        ({"alg": "io.iscc.v0", "value": value, "maxResults": "0"}, "maxResults"),
        ({"value": value}, "alg is required"),
    ]
    for params, message in cases:
        r = await call("GET", "c2pa/v1", "matches", "byBinding", params=params)
        assert r.status == 400 and message in r.text, (params, r.text)
    r = await call(
        "POST", "c2pa/v1", "matches", "byBinding", body=json.dumps({"alg": "x", "value": value})
    )
    assert r.status == 400 and "Unknown alg" in r.text
    r = await call("GET", "c2pa/v1", "manifests", "urn:c2pa:00000000-0000-0000-0000-000000000000")
    assert r.status == 404
    r = await call("GET", "c2pa/v1", "manifests", "not-a-urn")
    assert r.status == 400
    r = await by_content(call, b"\x00\x01", "font/woff2")
    assert r.status == 415


async def test_recovery_of_a_stripped_image(call, demo_jpg):
    """Sign demo.jpg; strip its manifest by re-encoding (Pillow, quality 80, 90 %); byContent
    finds the original's manifest first; its bytes validate against the signed file."""
    _, r = await signed(call, demo_jpg, "image/jpeg")
    manifest_id = r.json["c2pa"]["active_manifest"]
    signed_bytes = await download(call, r.json["media_id"])
    stripped = reencode_jpeg(signed_bytes)
    assert c2pa.Reader.try_create("image/jpeg", io.BytesIO(stripped), None, context()) is None
    found = await by_content(call, stripped, "image/jpeg", maxResults="5")
    assert found.status == 200
    matches = found.json["matches"]
    assert matches[0]["manifestId"] == manifest_id and matches[0]["similarityScore"] >= MIN_SCORE
    got = await call("GET", "c2pa/v1", "manifests", manifest_id)
    assert got.headers["Content-Type"].startswith("application/c2pa")
    store = validates(signed_bytes, "image/jpeg", got.body)
    assert store["active_manifest"] == manifest_id and store["validation_state"] == "Valid"
    active = await call(
        "GET", "c2pa/v1", "manifests", manifest_id, params={"returnActiveManifest": "true"}
    )
    assert active.status == 200 and active.body == got.body
    # byBinding with the stripped copy's binding, GET and POST, finds it too
    value = soft_binding(stripped, "stripped.jpg")["value"]
    for method in ("GET", "POST"):
        if method == "GET":
            r = await call(
                "GET",
                "c2pa/v1",
                "matches",
                "byBinding",
                params={"alg": "io.iscc.v0", "value": value},
            )
        else:
            r = await call(
                "POST",
                "c2pa/v1",
                "matches",
                "byBinding",
                body=json.dumps({"alg": "io.iscc.v0", "value": value}),
            )
        assert r.json["matches"][0]["manifestId"] == manifest_id


async def test_recovery_of_a_document_and_an_audio_file(call, tmp_path):
    pdf, mp3 = iscc_samples.TEXT / "demo.pdf", iscc_samples.AUDIO / "demo.mp3"
    _, doc = await signed(call, pdf, "application/pdf")
    _, song = await signed(call, mp3, "audio/mpeg")
    # the document, stripped: its text alone, as a plain text file
    from iscc_lab import tools

    tools.wire()
    import iscc_sdk as idk

    plain = idk.text_extract(pdf).encode("utf-8")
    found = await by_content(call, plain, "text/plain")
    assert found.json["matches"][0]["manifestId"] == doc.json["c2pa"]["active_manifest"]
    # the audio, stripped: re-encoded by ffmpeg to Ogg Vorbis
    signed_mp3 = tmp_path / "signed.mp3"
    signed_mp3.write_bytes(await download(call, song.json["media_id"]))
    ogg = tmp_path / "stripped.ogg"
    tools.run_ffmpeg(["-y", "-v", "error", "-i", str(signed_mp3), "-c:a", "libvorbis", str(ogg)])
    found = await by_content(call, ogg.read_bytes(), "audio/ogg")
    assert found.json["matches"][0]["manifestId"] == song.json["c2pa"]["active_manifest"]
    # a file unlike anything in the repository: no match at or above the threshold
    found = await by_content(call, (iscc_samples.VIDEO / "demo.mp4").read_bytes(), "video/mp4")
    assert found.status == 200 and found.json["matches"] == []


async def test_register_a_sidecar_and_delete(
    call, demo_jpg, jp_base_url, jp_http_port, jp_serverapp
):
    original, r = await signed(call, demo_jpg, "image/jpeg")
    manifest_id = r.json["c2pa"]["active_manifest"]
    store = (await call("GET", "c2pa/v1", "manifests", manifest_id)).body
    # against the signed copy it validates; against the unsigned original it does not
    ok = await call(
        "POST",
        "c2pa/v1",
        "manifests",
        body=store,
        params={"media_id": r.json["media_id"]},
        headers={"Content-Type": "application/c2pa"},
    )
    assert ok.status == 201 and ok.json == {"manifestId": manifest_id}
    bad = await call(
        "POST",
        "c2pa/v1",
        "manifests",
        body=store,
        params={"media_id": original},
        headers={"Content-Type": "application/c2pa"},
    )
    assert bad.status == 400 and "does not validate" in bad.text
    junk = await call(
        "POST",
        "c2pa/v1",
        "manifests",
        body=b"junk",
        params={"media_id": original},
        headers={"Content-Type": "application/c2pa"},
    )
    assert junk.status == 400
    # another client may find and read it, not delete it (private files)
    token = jp_serverapp.identity_provider.token
    url = f"{jp_base_url}c2pa/v1/manifests/{manifest_id}"
    for method, expected in (("GET", 200), ("DELETE", 403)):
        head = f"{method} {url} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {token}\r\n"
        status, _, _ = await raw_request(jp_http_port, head, local_addr=("127.0.0.2", 0))
        assert status == expected, method
    assert (await call("DELETE", "c2pa/v1", "manifests", manifest_id)).status == 204
    assert (await call("GET", "c2pa/v1", "manifests", manifest_id)).status == 404


async def test_register_an_asset_with_its_embedded_manifest(call, signer_files, tmp_path, demo_jpg):
    import iscc_lab

    chain, key = signer_files
    for source, content_type in (
        (demo_jpg, "image/jpeg"),
        (iscc_samples.IMAGE / "demo.png", "image/png"),
    ):
        signed_path, result = iscc_lab.sign(
            source, outpath=tmp_path / source.name, cert=chain, key=key
        )
        manifest_id = result["c2pa"]["active_manifest"]
        r = await call(
            "POST",
            "c2pa/v1",
            "manifests",
            body=signed_path.read_bytes(),
            headers={"Content-Type": content_type},
        )
        assert r.status == 201 and r.json == {"manifestId": manifest_id}, r.text
        got = await call("GET", "c2pa/v1", "manifests", manifest_id)
        assert (
            validates(signed_path.read_bytes(), content_type, got.body)["validation_state"]
            == "Valid"
        )
        found = await by_content(call, reencode_jpeg(signed_path.read_bytes()), "image/jpeg")
        assert manifest_id in [m["manifestId"] for m in found.json["matches"]]
    # a damaged manifest: 400 with c2pa-python's reason; no manifest at all: 400
    data = bytearray((tmp_path / "demo.jpg").read_bytes())
    data[data.find(b"c2pa.signature") + 200] ^= 0xFF
    r = await call(
        "POST", "c2pa/v1", "manifests", body=bytes(data), headers={"Content-Type": "image/jpeg"}
    )
    assert r.status == 400 and "claimSignature.mismatch" in r.text
    r = await call(
        "POST",
        "c2pa/v1",
        "manifests",
        body=demo_jpg.read_bytes(),
        headers={"Content-Type": "image/jpeg"},
    )
    assert r.status == 400 and "no C2PA manifest" in r.text


async def test_return_active_manifest_cuts_the_store_to_it(call, signer_files, tmp_path, demo_jpg):
    """A copy signed again holds two manifests (the first as its parent ingredient's);
    returnActiveManifest=true answers a store with the active one alone, whose claim signature
    and data hash still validate against the asset (its parent's manifest is then missing)."""
    import iscc_lab
    from iscc_lab.provenance.jumbf import manifest_labels

    chain, key = signer_files
    once, first = iscc_lab.sign(demo_jpg, outpath=tmp_path / "once.jpg", cert=chain, key=key)
    twice, second = iscc_lab.sign(once, outpath=tmp_path / "twice.jpg", cert=chain, key=key)
    parent, active_id = first["c2pa"]["active_manifest"], second["c2pa"]["active_manifest"]
    r = await call(
        "POST", "c2pa/v1", "manifests", body=twice.read_bytes(),
        headers={"Content-Type": "image/jpeg"},
    )  # fmt: skip
    assert r.status == 201 and r.json == {"manifestId": active_id}, r.text
    whole = await call("GET", "c2pa/v1", "manifests", active_id)
    assert manifest_labels(whole.body) == [parent, active_id]
    assert validates(twice.read_bytes(), "image/jpeg", whole.body)["validation_state"] == "Valid"
    for flag in ("true", "1"):
        cut = await call(
            "GET", "c2pa/v1", "manifests", active_id, params={"returnActiveManifest": flag}
        )
        assert cut.status == 200 and cut.headers["Content-Type"].startswith("application/c2pa")
        assert manifest_labels(cut.body) == [active_id]
        assert int(cut.headers["Content-Length"]) == len(cut.body) < len(whole.body)
    report = validates(twice.read_bytes(), "image/jpeg", cut.body)
    assert report["active_manifest"] == active_id and list(report["manifests"]) == [active_id]
    results = report["validation_results"]["activeManifest"]
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= {
        s["code"] for s in results["success"]
    }
    assert {f["code"] for f in results["failure"]} == {
        "ingredient.manifest.missing", "signingCredential.untrusted",
    }  # fmt: skip
    off = await call(
        "GET", "c2pa/v1", "manifests", active_id, params={"returnActiveManifest": "false"}
    )
    assert off.body == whole.body
    bad = await call(
        "GET", "c2pa/v1", "manifests", active_id, params={"returnActiveManifest": "maybe"}
    )
    assert bad.status == 400 and "returnActiveManifest" in bad.text
