"""The collection routes (issue 12) against a real Jupyter server over HTTP, on a non-root base
URL, every response validated against the OpenAPI document: GET /media (pages, ordering,
search), GET /lookup, POST /known, GET and POST /search; private files; the catalogue kept in
step with the store (uploads, results, embedding, deletion, expiry) and rebuilt when missing."""

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import iscc_core as ic
import iscc_samples
import pytest

from iscc_lab.errors import BadRequest
from iscc_lab.media_catalogue import CataloguedStore
from iscc_lab.store import Store
from tests.server_ext.conftest import b64, raw_request, upload

IMAGES = ["demo.bmp", "demo.gif", "demo.jpg", "demo.png", "demo.tif"]
BMP_ISCC = "ISCC:KEC6P2X7C73P72Z4YNBTBHR4T2HGOYBAGBNWZ767PKO3JQGZ42GFEAY"


def service(jp_serverapp):
    return jp_serverapp.web_app.settings["iscc_lab_service"]


async def stored_images(api, names=IMAGES):
    """Upload sample images with POST /iscc; {filename: (media_id, ISCC result)}."""
    out = {}
    for name in names:
        path = iscc_samples.IMAGE / name
        r = await upload(api, path.read_bytes(), name, content_type="image/whatever")
        assert r.status == 201, r.text
        out[name] = (r.json["media_id"], r.json)
    return out


def brute_force(query: str, code: str, on: str) -> int | None:
    """Reference distance: the Hamming distance of the two codes' `on` units over their common
    bit length, with iscc-core alone; None when they have no comparable units."""

    def unit(c):
        for u in ic.iscc_decompose(c):
            co = ic.Code(u)
            if ic.MT(co.maintype).name.lower() == on:
                return co
        return None

    a, b = unit(query), unit(code)
    if (
        a is None
        or b is None
        or (a.maintype, a.subtype, a.version) != (b.maintype, b.subtype, b.version)
    ):
        return None
    n = min(a.length, b.length)
    return sum(x != y for x, y in zip(a.hash_bits[:n], b.hash_bits[:n], strict=True))


async def as_other_client(port, token, method, path, body=b"", headers=""):
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {token}\r\n{headers}"
    )
    status, _, body = await raw_request(port, head, body, local_addr=("127.0.0.2", 0))
    return status, body


# -- GET /media ---------------------------------------------------------------------------------


async def test_list_media_pages_ordering_and_urls(api, jp_base_url, port):
    stored = await stored_images(api, IMAGES[:3])
    plain = await upload(api, b"just bytes", "Notes.TXT", route="media", content_type="text/plain")
    r = await api("GET", "media")
    assert r.status == 200
    page = r.json
    assert page["count"] == 4 and page["next"] is None and page["previous"] is None
    first = page["results"][0]  # newest first by default
    assert first["media_id"] == plain.json["media_id"] and first["iscc"] is None
    assert first["filename"] == "Notes.TXT" and first["filesize"] == 10
    assert first["mediatype"] == "text/plain" and first["created"].endswith("Z")
    assert (
        first["content"]
        == f"http://127.0.0.1:{port}{jp_base_url}api/v1/media/{plain.json['media_id']}"
    )
    by_id = {m["media_id"]: m for m in page["results"]}
    for name, (media_id, result) in stored.items():
        assert by_id[media_id]["iscc"] == result["iscc"]
        assert by_id[media_id]["mediatype"] == result["mediatype"]  # detected, not the one sent
        assert by_id[media_id]["filesize"] == (iscc_samples.IMAGE / name).stat().st_size

    names = [
        m["filename"]
        for m in (await api("GET", "media", params={"ordering": "filename"})).json["results"]
    ]
    assert names == ["demo.bmp", "demo.gif", "demo.jpg", "Notes.TXT"]
    sizes = [
        m["filesize"]
        for m in (await api("GET", "media", params={"ordering": "-filesize"})).json["results"]
    ]
    assert sizes == sorted(sizes, reverse=True)
    created = [
        m["created"]
        for m in (await api("GET", "media", params={"ordering": "created"})).json["results"]
    ]
    assert created == sorted(created)

    # Pages: next/previous are absolute URLs under the server's base_url, keeping the options.
    seen = []
    r = await api("GET", "media", params={"page_size": "3", "ordering": "filename"})
    assert r.json["count"] == 4 and len(r.json["results"]) == 3 and r.json["previous"] is None
    seen += [m["filename"] for m in r.json["results"]]
    nxt = urlsplit(r.json["next"])
    assert f"{nxt.scheme}://{nxt.netloc}" == f"http://127.0.0.1:{port}"
    assert nxt.path == f"{jp_base_url}api/v1/media"
    query = {k: v[0] for k, v in parse_qs(nxt.query).items()}
    assert query == {"page": "2", "page_size": "3", "ordering": "filename"}
    r = await api("GET", "media", params=query)
    seen += [m["filename"] for m in r.json["results"]]
    assert r.json["next"] is None and parse_qs(urlsplit(r.json["previous"]).query)["page"] == ["1"]
    assert seen == names
    assert (await api("GET", "media", params={"page": "9"})).json["results"] == []


async def test_list_media_search_is_a_case_insensitive_substring(api):
    for name in ("Kätzchen 1.png", "KATZE.txt", "dog.txt"):
        await upload(api, name.encode() * 3, name, route="media")
    found = lambda r: sorted(m["filename"] for m in r.json["results"])  # noqa: E731
    assert found(await api("GET", "media", params={"search": "KÄTZ"})) == ["Kätzchen 1.png"]
    assert found(await api("GET", "media", params={"search": "katz"})) == ["KATZE.txt"]
    assert found(await api("GET", "media", params={"search": ".TXT"})) == ["KATZE.txt", "dog.txt"]
    r = await api("GET", "media", params={"search": "nothing like it"})
    assert r.json == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"page": "0"}, "page must be a whole number of at least 1"),
        ({"page": "two"}, "page must be"),
        ({"page_size": "0"}, "page_size must be a whole number from 1 to 100"),
        ({"page_size": "101"}, "page_size must be a whole number from 1 to 100"),
        ({"page_size": "-5"}, "page_size must be"),
        ({"ordering": "size"}, "ordering must be one of created, filename, filesize"),
        ({"ordering": "--created"}, "ordering must be"),
        ({"search": "x" * 256}, "search is longer than 255"),
        ({"sort": "filename"}, "Unknown query parameter 'sort'"),
    ],
)
async def test_list_media_400_names_the_parameter(api, params, message):
    r = await api("GET", "media", params=params)
    assert r.status == 400 and message in r.text, r.text
    assert r.headers["Content-Type"].startswith("text/plain")


async def test_repeated_parameter_is_400(jp_base_url, port, token):
    head = (
        f"GET {jp_base_url}api/v1/media?page=1&page=2 HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token {token}\r\n"
    )
    status, _, body = await raw_request(port, head)
    assert status == 400 and b"page is given more than once" in body


async def test_post_media_still_uploads_and_get_needs_the_token(api, jp_base_url, port):
    r = await upload(api, b"abc", "a.txt", route="media")
    assert r.status == 201
    head = f"GET {jp_base_url}api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
    status, _, body = await raw_request(port, head)
    assert status == 403 and b"token" in body
    for method, route in (("PUT", "media"), ("PATCH", "search"), ("DELETE", "search")):
        # no upload header: still 405, not the upload's 400
        r = await api(method, route, body=b"x" if method != "DELETE" else None, validate=False)
        assert r.status == 405 and r.headers["Allow"] == "GET, POST", (method, route)
    r = await api("DELETE", "lookup", validate=False)
    assert r.status == 405 and r.headers["Allow"] == "GET"


# -- GET /lookup and POST /known ------------------------------------------------------------------


async def test_lookup_by_sha256_datahash_and_iscc(api):
    stored = await stored_images(api, ["demo.jpg", "demo.png"])
    data = (iscc_samples.IMAGE / "demo.jpg").read_bytes()
    media_id, result = stored["demo.jpg"]
    sha = hashlib.sha256(data).hexdigest()
    for params in (
        {"sha256": sha},
        {"sha256": sha.upper()},
        {"datahash": result["datahash"]},
        {"iscc": result["iscc"]},
        {"iscc": result["iscc"].removeprefix("ISCC:")},
    ):
        r = await api("GET", "lookup", params=params)
        assert r.status == 200 and [m["media_id"] for m in r.json["results"]] == [media_id], params
    copy = await upload(api, data, "copy.jpg", route="media")  # the same bytes again, no ISCC
    r = await api("GET", "lookup", params={"sha256": sha})
    assert [m["media_id"] for m in r.json["results"]] == [media_id, copy.json["media_id"]]
    assert (await api("GET", "lookup", params={"sha256": "0" * 64})).json == {"results": []}


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "exactly one of the query parameters sha256, datahash or iscc"),
        ({"sha256": "0" * 64, "datahash": "1e20" + "0" * 64}, "exactly one"),
        ({"sha256": "abc"}, "sha256 must be 64 hexadecimal characters"),
        ({"sha256": "g" * 64}, "sha256 must be"),
        ({"sha256": " " + "0" * 64}, "sha256 must be"),
        ({"datahash": "0" * 64}, "datahash must be a blake3 multihash"),
        ({"iscc": "ISCC:NOTACODE1"}, "iscc: Invalid ISCC"),
        ({"md5": "0" * 32}, "Unknown query parameter 'md5'"),
    ],
)
async def test_lookup_400(api, params, message):
    r = await api("GET", "lookup", params=params)
    assert r.status == 400 and message in r.text, r.text


async def test_known_answers_every_value_sent(api):
    stored = await stored_images(api, ["demo.jpg"])
    media_id, result = stored["demo.jpg"]
    sha = hashlib.sha256((iscc_samples.IMAGE / "demo.jpg").read_bytes()).hexdigest()
    body = {
        "sha256": [sha, "0" * 64],
        "datahash": [result["datahash"], "1e20" + "f" * 64],
        "iscc": [result["iscc"], "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"],
    }
    r = await api(
        "POST", "known", body=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert r.status == 200
    assert r.json == {
        sha: {"known": True}, "0" * 64: {"known": False},
        result["datahash"]: {"known": True}, "1e20" + "f" * 64: {"known": False},
        result["iscc"]: {"known": True},
        "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA": {"known": False},
    }  # fmt: skip
    r = await api("POST", "known", body=json.dumps({"sha256": []}))
    assert r.status == 200 and r.json == {}
    r = await api("POST", "known", body=json.dumps({"sha256": ["0" * 64] * 1000}))
    assert r.status == 200 and r.json == {"0" * 64: {"known": False}}


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "empty"),
        ("[1, 2]", "must be a JSON object"),
        ("{}", "names no values"),
        ('{"md5": []}', "Unknown key 'md5'"),
        ('{"sha256": "abc"}', "sha256 must be a list of strings"),
        ('{"sha256": ["abc"]}', "sha256 must be 64 hexadecimal characters"),
        ('{"sha256": [1]}', "sha256: expected a string"),
        ('{"iscc": ["ISCC:NOPE"]}', "iscc: Invalid ISCC"),
        (
            json.dumps({"sha256": ["0" * 64] * 600, "datahash": ["1e20" + "0" * 64] * 401}),
            "At most 1000",
        ),
    ],
)
async def test_known_400(api, body, message):
    r = await api("POST", "known", body=body, headers={"Content-Type": "application/json"})
    assert r.status == 400 and message in r.text, r.text


# -- GET and POST /search -------------------------------------------------------------------------


async def test_search_is_exact_and_nearest_first(api):
    stored = await stored_images(api)
    text = await upload(api, ("A few words of text. " * 40).encode(), "words.txt")  # a Text-Code
    assert text.status == 201
    codes = {mid: res["iscc"] for mid, res in stored.values()}
    codes[text.json["media_id"]] = text.json["iscc"]
    query = stored["demo.jpg"][1]["iscc"]
    for on in ("content", "data", "instance", "meta"):
        r = await api("GET", "search", params={"iscc": query, "k": "100", "on": on})
        assert r.status == 200 and r.json["query"] == {"iscc": query}
        matches = r.json["matches"]
        expected = sorted(
            (d, mid)
            for mid, code in codes.items()
            if (d := brute_force(query, code, on)) is not None
        )
        assert [m["distance"] for m in matches] == [d for d, _ in expected], on
        assert {m["media_id"] for m in matches} == {mid for _, mid in expected}, on
        for m in matches:
            assert m["iscc"] == codes[m["media_id"]] and m["distance"] == brute_force(
                query, m["iscc"], on
            )
    # The image's content unit is not comparable with the text's: the text is no match.
    r = await api("GET", "search", params={"iscc": query, "k": "100"})
    assert text.json["media_id"] not in {m["media_id"] for m in r.json["matches"]}
    assert len(r.json["matches"]) == len(IMAGES)
    assert r.json["matches"][0]["distance"] == 0
    r = await api("GET", "search", params={"iscc": query, "k": "2", "on": "instance"})
    assert [m["media_id"] for m in r.json["matches"]][:1] == [stored["demo.jpg"][0]]
    assert len(r.json["matches"]) == 2 and r.json["matches"][0]["filename"] == "demo.jpg"


async def test_post_search_processes_the_body_without_storing_it(api, media_path):
    stored = await stored_images(api, ["demo.jpg", "demo.png"])
    before = sorted(p.name for p in media_path.iterdir())
    data = (iscc_samples.IMAGE / "demo.jpg").read_bytes()
    r = await upload(api, data, "demo.jpg", route="search", params={"k": "1", "on": "instance"})
    assert r.status == 200, r.text
    assert r.json["query"]["iscc"] == stored["demo.jpg"][1]["iscc"]
    assert r.json["matches"] == [{
        "media_id": stored["demo.jpg"][0], "iscc": stored["demo.jpg"][1]["iscc"],
        "filename": "demo.jpg", "distance": 0,
    }]  # fmt: skip
    assert sorted(p.name for p in media_path.iterdir()) == before  # nothing stored
    assert list((media_path / ".incoming").iterdir()) == []  # nor left behind
    assert (await api("GET", "media")).json["count"] == 2


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "Missing query parameter iscc"),
        ({"iscc": "ISCC:XYZ"}, "iscc: Invalid ISCC"),
        (
            {"iscc": "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA", "k": "0"},
            "k must be a whole number from 1 to 100",
        ),
        (
            {"iscc": "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA", "k": "101"},
            "k must be",
        ),
        (
            {
                "iscc": "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA",
                "on": "colour",
            },
            "on must be one of meta, semantic, content, data, instance",
        ),
        ({"iscc": BMP_ISCC, "on": "semantic"}, "has no semantic unit"),
    ],
)
async def test_search_400(api, params, message):
    r = await api("GET", "search", params=params)
    assert r.status == 400 and message in r.text, r.text


async def test_post_search_400_before_the_body_is_read(api, media_path):
    r = await api(
        "POST",
        "search",
        body=b"abc",
        params={"k": "500"},
        headers={"X-Upload-Filename": b64("a.txt")},
    )
    assert r.status == 400 and "k must be" in r.text
    r = await api("POST", "search", body=b"abc")
    assert r.status == 400 and "X-Upload-Filename" in r.text
    assert list((media_path / ".incoming").iterdir()) == []


# -- private files ------------------------------------------------------------------------------


async def test_another_address_sees_nothing(api, jp_base_url, port, token):
    stored = await stored_images(api, ["demo.jpg"])
    media_id, result = stored["demo.jpg"]
    sha = hashlib.sha256((iscc_samples.IMAGE / "demo.jpg").read_bytes()).hexdigest()
    base = f"{jp_base_url}api/v1"
    status, body = await as_other_client(port, token, "GET", f"{base}/media")
    assert status == 200 and json.loads(body) == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    status, body = await as_other_client(port, token, "GET", f"{base}/lookup?sha256={sha}")
    assert status == 200 and json.loads(body) == {"results": []}
    known = json.dumps({"sha256": [sha], "iscc": [result["iscc"]]}).encode()
    status, body = await as_other_client(
        port, token, "POST", f"{base}/known", known, "Content-Type: application/json\r\n"
    )
    assert status == 200 and json.loads(body) == {
        sha: {"known": False},
        result["iscc"]: {"known": False},
    }
    status, body = await as_other_client(port, token, "GET", f"{base}/search?iscc={result['iscc']}")
    assert status == 200 and json.loads(body)["matches"] == []
    # The other address's own media are its own.
    head = (
        f"POST {base}/media HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {token}\r\n"
        f"X-Upload-Filename: {b64('theirs.txt')}\r\n"
    )
    status, _, _ = await raw_request(port, head, b"their bytes", local_addr=("127.0.0.2", 0))
    assert status == 201
    status, body = await as_other_client(port, token, "GET", f"{base}/media")
    assert [m["filename"] for m in json.loads(body)["results"]] == ["theirs.txt"]
    r = await api("GET", "media")
    assert [m["media_id"] for m in r.json["results"]] == [media_id]  # and the uploader sees theirs


@pytest.mark.iscc_env(ISCC_WEB_PRIVATE_FILES="false")
async def test_private_files_off_everyone_sees_everything(api, jp_base_url, port, token):
    stored = await stored_images(api, ["demo.jpg"])
    base = f"{jp_base_url}api/v1"
    status, body = await as_other_client(port, token, "GET", f"{base}/media")
    assert [m["media_id"] for m in json.loads(body)["results"]] == [stored["demo.jpg"][0]]
    status, body = await as_other_client(
        port, token, "GET", f"{base}/search?iscc={stored['demo.jpg'][1]['iscc']}&k=1"
    )
    assert json.loads(body)["matches"][0]["media_id"] == stored["demo.jpg"][0]


# -- in step with the store -----------------------------------------------------------------------


async def test_catalogue_follows_embedding_deletion_and_expiry(api, jp_serverapp):
    stored = await stored_images(api, ["demo.jpg", "demo.png"])
    jpg_id, jpg = stored["demo.jpg"]
    r = await api(
        "POST",
        "metadata",
        jpg_id,
        body=json.dumps({"name": "Renamed"}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 201
    new_id = r.json["media_id"]
    listed = {m["media_id"]: m for m in (await api("GET", "media")).json["results"]}
    assert set(listed) == {jpg_id, stored["demo.png"][0], new_id}
    assert listed[new_id]["iscc"] == r.json["iscc"]  # the embedded copy, with its ISCC

    assert (await api("DELETE", "media", jpg_id)).status == 204
    r = await api("GET", "search", params={"iscc": jpg["iscc"], "k": "100", "on": "instance"})
    assert jpg_id not in {m["media_id"] for m in r.json["matches"]}
    assert (await api("GET", "lookup", params={"iscc": jpg["iscc"]})).json == {"results": []}

    svc = service(jp_serverapp)
    gone = svc.store.expire(-1)  # what the periodic cleanup calls: everything is older than -1 s
    assert set(gone) == {stored["demo.png"][0], new_id}
    assert (await api("GET", "media")).json["count"] == 0
    r = await api("GET", "search", params={"iscc": jpg["iscc"], "k": "100", "on": "instance"})
    assert r.json["matches"] == []


async def test_failed_iscc_leaves_no_row(api):
    r = await upload(api, bytes(range(256)) * 16, "random.pdf")  # named PDF, but is not one
    assert r.status == 422
    assert (await api("GET", "media")).json["count"] == 0


def test_catalogue_is_rebuilt_when_missing_and_synced_with_the_folders(tmp_path, demo_jpg):
    from iscc_lab.media import iscc_media

    store = CataloguedStore(tmp_path / "media")
    a = store.put(demo_jpg, owner="alice")
    iscc_media(store, a.media_id)
    b = store.put(b"plain bytes", "b.txt", owner="bob")
    store.catalogue.close()
    # Behind its back: a plain Store (as a notebook or a worker) adds, computes and removes.
    plain = Store(tmp_path / "media")
    c = plain.put(demo_jpg, "c.jpg", owner="alice")
    iscc_media(plain, c.media_id)
    iscc_media(plain, b.media_id)  # a result for a media catalogued without one
    plain.delete(a.media_id)
    reopened = CataloguedStore(tmp_path / "media")
    count, rows = reopened.catalogue.listing(None)
    assert count == 2 and {r["media_id"] for r in rows} == {b.media_id, c.media_id}
    assert all(r["iscc"] for r in rows)
    assert [m["media_id"] for m in reopened.catalogue.search(rows[0]["iscc"], on="data")][:1]
    reopened.catalogue.close()

    (tmp_path / "media" / ".catalogue" / "media.sqlite").unlink()
    for extra in (tmp_path / "media" / ".catalogue").glob("media.sqlite-*"):
        extra.unlink()
    rebuilt = CataloguedStore(tmp_path / "media")
    assert rebuilt.catalogue.listing(None) == (count, rows)
    assert rebuilt.catalogue.listing("alice")[0] == 1
    assert [p.name for p in (tmp_path / "media" / ".catalogue").iterdir() if "tmp" in p.name] == []


def test_damaged_catalogue_and_codes_are_survived(tmp_path, demo_jpg):
    from iscc_lab.media import iscc_media

    store = CataloguedStore(tmp_path / "media")
    a = store.put(demo_jpg, owner="alice")
    code = iscc_media(store, a.media_id)["iscc"]
    b = store.put(demo_jpg, "b.jpg", owner="alice")
    store.write_result(b.media_id, "iscc", {"iscc": "ISCC:DAMAGED", "mediatype": "image/jpeg"})
    assert [m["media_id"] for m in store.catalogue.search(code, on="data")] == [a.media_id]
    assert store.catalogue.listing("alice")[0] == 2  # listed, never searched
    store.catalogue.close()
    (tmp_path / "media" / ".catalogue" / "media.sqlite").write_bytes(b"not a database" * 100)
    for extra in (tmp_path / "media" / ".catalogue").glob("media.sqlite-*"):
        extra.unlink()
    reopened = CataloguedStore(tmp_path / "media")  # moved aside and rebuilt from the folders
    assert reopened.catalogue.listing("alice")[0] == 2
    assert (tmp_path / "media" / ".catalogue" / "media.sqlite.damaged").exists()
    assert [m["media_id"] for m in reopened.catalogue.search(code, on="data")] == [a.media_id]


def test_search_vectors_are_warmed_off_the_lock(tmp_path, monkeypatch):
    """warm() builds the vectors on its own connection and they answer as a cold build does;
    a change while it reads makes it give them up (the first search builds them instead)."""
    import iscc_lab.media_catalogue as mc
    from iscc_lab.media import iscc_media

    store = CataloguedStore(tmp_path / "media")
    ids = []
    for name in IMAGES:
        record = store.put(iscc_samples.IMAGE / name, owner="alice")
        iscc_media(store, record.media_id)
        ids.append(record.media_id)
    query = store.read_result(ids[0], "iscc")["iscc"]
    cold = CataloguedStore(tmp_path / "media")  # the same catalogue, vectors built by search
    expected = cold.catalogue.search(query, k=10)
    assert store.catalogue.warm("content") is True
    assert store.catalogue._vectors is not None and "content" in store.catalogue._vectors.units
    assert store.catalogue.search(query, k=10) == expected
    assert store.catalogue.warm("content") is True  # already there: nothing read again
    with pytest.raises(BadRequest, match="on must be one of"):
        store.catalogue.warm("colour")

    fresh = CataloguedStore(tmp_path / "media")
    build = mc._new_vectors
    late = []

    def changed_meanwhile(db):  # an upload lands while the vectors are read
        late.append(fresh.put(iscc_samples.IMAGE / IMAGES[0], "late.jpg", owner="bob"))
        iscc_media(fresh, late[0].media_id)
        fresh.catalogue.set_result(late[0].media_id, fresh.read_result(late[0].media_id, "iscc"))
        return build(db)

    monkeypatch.setattr(mc, "_new_vectors", changed_meanwhile)
    assert fresh.catalogue.warm("content") is False and fresh.catalogue._vectors is None
    monkeypatch.setattr(mc, "_new_vectors", build)
    found = fresh.catalogue.search(query, k=10)
    assert late[0].media_id in {m["media_id"] for m in found}
    for s in (store, cold, fresh):
        s.catalogue.close()
