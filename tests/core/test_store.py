"""The media store: ids, atomic writes, limits, owners, expiry, look-ups."""

import hashlib
import io
import os

import pytest

from iscc_lab import BadRequest, Forbidden, NotFound, Store
from iscc_lab.media import embed_media, iscc_media, metadata_media
from iscc_lab.store import check_filename, new_media_id
from tests.conftest import IMAGE_EXAMPLE


def leftovers(store):
    return sorted(os.listdir(store.root / ".incoming")) + sorted(os.listdir(store.root / ".trash"))


def test_media_ids_are_flakes():
    ids = {new_media_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 13 and set(i) <= set("abcdefghijklmnopqrstuv0123456789") for i in ids)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "X" * 13,
        "06h0cert a1ql",
        "../../etc/pas",
        "06h0certa1ql",
        "06h0certa1ql2x",
        None,
        13,
        "06h0certa1qlw",
    ],
)
def test_malformed_ids_are_not_found_before_disk_access(store, bad):
    with pytest.raises(NotFound):
        store.get(bad)
    with pytest.raises(NotFound):
        store.delete(bad)


@pytest.mark.parametrize("kind", ["path", "bytes", "stream"])
def test_put_get_open(store, tmp_path, kind):
    data = b"hello media" * 10
    (tmp_path / "in.txt").write_bytes(data)
    source = {"path": tmp_path / "in.txt", "bytes": data, "stream": io.BytesIO(data)}[kind]
    record = store.put(source, "Grüße.txt", "text/plain", owner="o1")
    assert record.size == len(data) and record.filename == "Grüße.txt"
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get(record.media_id) == record
    with store.open(record.media_id) as f:
        assert f.read() == data
    assert list(store) == [record] and record.media_id in store and len(store) == 1
    assert leftovers(store) == []


def test_size_limit_while_streaming_leaves_nothing(store):
    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            b[: len(b)] = b"x" * len(b)
            return len(b)

    with pytest.raises(BadRequest, match="larger than the limit of 1000"):
        store.put(Endless(), "endless.bin")
    assert list(store) == [] and leftovers(store) == []
    store.put(b"x" * 1000, "exact.bin")  # exactly the limit is fine


def test_empty_upload_is_refused(store):
    with pytest.raises(BadRequest, match="empty"):
        store.put(b"", "empty.bin")
    assert leftovers(store) == []


def test_failure_mid_write_cleans_up(store):
    class Broken(io.RawIOBase):
        calls = 0

        def readable(self):
            return True

        def readinto(self, b):
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk vanished")
            b[:10] = b"0123456789"
            return 10

    with pytest.raises(OSError):
        store.put(Broken(), "broken.bin")
    assert list(store) == [] and leftovers(store) == []


def test_uncommitted_uploads_are_invisible_and_swept(store):
    upload = store.begin("partial.bin")
    upload.write(b"half")
    assert list(store) == []
    store.sweep(older_than=0)
    assert leftovers(store) == []


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "a/b.txt",
        "a\\b.txt",
        "nul\x00byte.txt",
        "tab\there",
        "bell\x07",
        "x" * 300,
        "",
        "  ",
        ".",
        "..",
    ],
)
def test_hostile_filenames_are_refused(store, name):
    with pytest.raises(BadRequest):
        check_filename(name)
    with pytest.raises(BadRequest):
        store.put(b"data", name)
    assert leftovers(store) == [] and list(store) == []


@pytest.mark.parametrize(
    "name", [".hidden", "record.json", "iscc.json", "naïve café.jpg", "日本語のファイル名.png"]
)
def test_odd_but_valid_names_stay_inside(store, name):
    record = store.put(b"data", name)
    assert record.filename == name
    path = store.path(record.media_id)
    assert path.parent == store.root / record.media_id and path.read_bytes() == b"data"
    assert not path.name.startswith(".") and path.name not in ("record.json", "iscc.json")


def test_owners_are_salted_hashes(store, tmp_path):
    owner = store.owner_of("127.0.0.1")
    assert "127.0.0.1" not in owner and len(owner) == 64
    assert owner == store.owner_of("127.0.0.1") != store.owner_of("127.0.0.2")
    other = Store(tmp_path / "other")
    assert other.owner_of("127.0.0.1") != owner  # another salt
    assert Store(store.root).owner_of("127.0.0.1") == owner  # the salt is kept
    record = store.put(b"x", "x.bin", owner=owner)
    store.check_owner(record, owner)
    store.check_owner(record, None)  # private files off
    with pytest.raises(Forbidden):
        store.check_owner(record, store.owner_of("127.0.0.2"))


def test_delete_removes_file_and_results(store):
    record = store.put(b"some bytes", "a.bin")
    store.write_result(record.media_id, "iscc", {"iscc": "ISCC:X", "datahash": "1e20ab"})
    store.delete(record.media_id)
    with pytest.raises(NotFound):
        store.get(record.media_id)
    assert store.read_result(record.media_id, "iscc") is None
    assert not (store.root / record.media_id).exists() and leftovers(store) == []
    with pytest.raises(NotFound):
        store.delete(record.media_id)


def test_open_stream_survives_delete(store):
    record = store.put(b"streaming" * 100, "s.bin")
    with store.open(record.media_id) as f:
        store.delete(record.media_id)
        assert f.read() == b"streaming" * 100


def test_expire(store):
    import json

    old = store.put(b"old", "old.bin")
    new = store.put(b"new", "new.bin")
    record_file = store.root / old.media_id / "record.json"
    aged = json.loads(record_file.read_text()) | {"created": new.created - 7200}
    record_file.write_text(json.dumps(aged))
    assert store.expire(3600, now=new.created + 10) == [old.media_id]
    assert old.media_id not in store and new.media_id in store
    assert store.expire(3600, now=new.created + 3601) == [new.media_id]
    assert list(store) == [] and leftovers(store) == []


def test_listing_and_lookups(store):
    a = store.put(b"aaa", "a.bin", owner="alice")
    b = store.put(b"bbb", "b.bin", owner="bob")
    c = store.put(b"aaa", "c.bin", owner="alice")
    page = store.listing(owner="alice", page=1, page_size=1)
    assert page["count"] == 2 and [r["media_id"] for r in page["results"]] == [c.media_id]
    assert store.listing(owner="alice", page=2, page_size=1)["results"][0]["media_id"] == a.media_id
    assert store.listing()["count"] == 3
    assert {r.media_id for r in store.find(sha256=hashlib.sha256(b"aaa").hexdigest())} == {
        a.media_id,
        c.media_id,
    }
    store.write_result(b.media_id, "iscc", {"iscc": "ISCC:X", "datahash": "1e20beef"})
    assert [r.media_id for r in store.find(datahash="1e20beef")] == [b.media_id]
    with pytest.raises(BadRequest):
        store.listing(page=0)


def test_verbs_on_stored_media(tmp_path, demo_jpg, demo_bmp):
    store = Store(tmp_path / "media")
    record = store.put(demo_bmp, "test-image.jpg", "image/jpeg", owner="me")
    result = iscc_media(store, record.media_id)
    assert result["iscc"] == IMAGE_EXAMPLE["iscc"]
    assert store.read_result(record.media_id, "iscc") == result
    assert store.get(record.media_id).datahash == IMAGE_EXAMPLE["datahash"]
    jpg = store.put(demo_jpg, "cat.jpg", "image/jpeg", owner="me")
    assert metadata_media(store, jpg.media_id)["name"] == "Concentrated Cat"
    new, embedded = embed_media(store, jpg.media_id, {"name": "Renamed"}, owner="me")
    assert new.media_id != jpg.media_id and embedded["name"] == "Renamed"
    assert store.path(jpg.media_id).read_bytes() == demo_jpg.read_bytes()
    assert new.filename == "cat.jpg" and new.content_type == "image/jpeg"
    assert leftovers(store) == []


def test_settings_read_only_their_own_variables(monkeypatch):
    from iscc_lab import Settings

    monkeypatch.setenv("GRANULAR", "false")
    monkeypatch.setenv("FALLBACK", "false")
    monkeypatch.setenv("ISCC_SDK_EXPERIMENTAL", "true")
    monkeypatch.setenv("ISCC_WEB_PRIVATE_FILES", "false")
    s = Settings()
    assert s.granular is True and s.fallback is True  # bare names are not ours
    assert s.experimental is True and s.private_files is False
    assert Settings(**s.model_dump()) == s and Settings(fallback=False).fallback is False


def test_a_burst_of_ids_in_one_millisecond_never_fails():
    """iscc-core's Flake counter overflows in bursts (it failed most runs of 1000 before)."""
    ids = [new_media_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)


def test_an_id_taken_meanwhile_is_never_overwritten(store, monkeypatch):
    import iscc_lab.store as store_module

    first = store.put(b"first", "first.bin")
    fresh = iter([first.media_id, new_media_id()])  # the next upload's id coincides with first
    monkeypatch.setattr(store_module, "new_media_id", lambda: next(fresh))
    second = store.put(b"second", "second.bin")
    assert second.media_id != first.media_id
    assert store.open(first.media_id).read() == b"first"
    assert store.open(second.media_id).read() == b"second"
    assert store.get(second.media_id).media_id == second.media_id
    assert leftovers(store) == []
