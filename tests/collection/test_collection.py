"""Collection: the catalogue, exact search and near-duplicates against brute force, updates on
real media, bad input, and a catalogue that survives SIGKILL mid-update."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import iscc_core as ic
import numpy as np
import pandas as pd
import pytest

import iscc_lab
from iscc_lab.collection import Collection
from iscc_lab.errors import BadRequest


def _content(code: str):
    """(sub type, first 64 bits as an int) of a code's Content-Code, through iscc-core."""
    for unit in ic.iscc_decompose(code):
        c = ic.Code(unit)
        if c.maintype == ic.MT.CONTENT:
            return int(c.subtype), int.from_bytes(c.hash_bytes[:8], "big")
    return None


def _brute_search(codes, query, k):
    """The k nearest rows by (distance, row), by a plain scan."""
    qs, qv = _content(query)
    scored = []
    for i, code in enumerate(codes):
        st, v = _content(code)
        if st == qs:
            scored.append(((qv ^ v).bit_count(), i))
    return sorted(scored)[:k]


def _brute_groups(codes, threshold):
    """Single-link groups over all pairs, numbered by first row; -1 alone."""
    parsed = [_content(c) for c in codes]
    sub = np.array([p[0] for p in parsed])
    val = np.array([p[1] for p in parsed], dtype=np.uint64)
    n = len(codes)
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for i in range(n):
        d = np.bitwise_count(val[i] ^ val[i + 1 :])
        for j in np.flatnonzero((d <= threshold) & (sub[i + 1 :] == sub[i])) + i + 1:
            a, b = find(i), find(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = [find(i) for i in range(n)]
    sizes = pd.Series(roots).value_counts()
    ids: dict = {}
    return [ids.setdefault(r, len(ids)) if sizes[r] > 1 else -1 for r in roots]


@pytest.fixture
def col(tmp_path, codes):
    c = Collection(tmp_path / "col")
    c.add(codes)
    yield c
    c.close()


def test_add_codes_len_and_frame(col, codes):
    assert len(col) == len(codes)
    frame = col.frame()
    assert frame["iscc"].tolist() == codes
    assert frame["path"].isna().all()
    # adding the same codes again replaces them (keyed by the code): nothing is duplicated
    assert col.add(codes[:10]) == 10
    assert len(col) == len(codes)


@pytest.mark.parametrize("k", [1, 7, 40])
def test_search_equals_brute_force(col, codes, k):
    queries = [codes[5], codes[123], codes[1500], codes[-1]]
    found = col.search(queries, k=k)
    assert list(found.columns) == ["query", "rank", "path", "iscc", "distance"]
    for q in queries:
        got = found[found["query"] == q]
        expected = _brute_search(codes, q, k)
        assert got["iscc"].tolist() == [codes[i] for _, i in expected]
        assert got["distance"].tolist() == [d for d, _ in expected]
        assert got["rank"].tolist() == list(range(1, len(expected) + 1))


def test_search_ties_are_ordered_by_insertion(tmp_path, codes):
    c = Collection(tmp_path / "ties")
    c.add([codes[0], codes[1], codes[0].replace("ISCC:", "iscc:").lower()])
    # the third is the first code in another spelling: same key, so two items
    assert len(c) == 2
    found = c.search(codes[0], k=2)
    assert found["iscc"].tolist()[0] == codes[0] and found["distance"].tolist()[0] == 0


def test_search_by_file_and_units_of_other_lengths(tmp_path, media):
    c = Collection(tmp_path / "col")
    c.update(media, workers=1, progress=False)
    found = c.search(media / "demo.png", k=3)
    assert found["distance"].tolist()[0] == 0
    assert str(media / "demo.png") in set(found.loc[found["distance"] == 0, "path"])
    assert set(found["path"]) == {str(media / n) for n in ("demo.png", "demo.jpg", "demo.gif")}
    assert found["distance"].max() <= 12
    # a 256-bit Content-Code as the query: compared over the common 64 bits
    unit = c.frame().set_index("filename").loc["demo.png", "content"]
    by_unit = c.search(unit, k=3)
    assert by_unit["distance"].tolist() == found["distance"].tolist()
    # only comparable units: the text's Content-Code-Text never matches an image
    assert str(media / "demo.txt") not in set(c.search(media / "demo.png", k=10)["path"])


def test_near_duplicates_equals_brute_force(col, codes):
    expected = _brute_groups(codes, 12)
    got = col.near_duplicates(threshold=12)
    assert list(got.columns) == ["path", "iscc", "group"]
    assert got["group"].fillna(-1).astype(int).tolist() == expected
    assert max(expected) > 20  # the planted clusters are there
    # the same groups as the frame verb over the same codes
    frame_groups = iscc_lab.near_duplicates(codes, threshold=12)["group"]
    assert frame_groups.fillna(-1).astype(int).tolist() == expected


def test_index_persists_and_follows_other_writers(tmp_path, codes):
    path = tmp_path / "col"
    a = Collection(path)
    a.add(codes[:100])
    assert len(a.search(codes[0], k=1)) == 1
    index = path / "index"
    built = {p.name for p in index.iterdir() if p.is_dir()}
    a.close()
    b = Collection(path)  # reopened: the index on disk is fresh, nothing is rebuilt
    assert b.search(codes[0], k=1)["iscc"].tolist() == [codes[0]]
    assert {p.name for p in index.iterdir() if p.is_dir()} == built
    c = Collection(path)  # another writer adds: b's next search sees it
    c.add(codes[100:200])
    assert b.search(codes[150], k=1)["iscc"].tolist() == [codes[150]]
    assert len(b) == 200


def _index_equals_a_rebuild(col):
    """The collection's index holds what decoding every row of the catalogue gives."""
    from iscc_lab.explain import UNIT_TYPES
    from iscc_lab.hamming import decode

    got_ids, got = col._index.get(UNIT_TYPES)
    _, ids, codes = col._catalogue.codes()
    expected = decode(codes, UNIT_TYPES)
    assert np.asarray(got_ids).tolist() == ids
    for t in UNIT_TYPES:
        a, b = got[t].words, expected[t].words
        width = max(a.shape[0], b.shape[0])
        a, b = (np.pad(w, ((0, width - w.shape[0]), (0, 0))) for w in (a, b))
        assert np.array_equal(got[t].kind, expected[t].kind), t
        assert np.array_equal(got[t].nbits, expected[t].nbits), t
        assert np.array_equal(a, b), t


def test_index_follows_changes_from_the_journal(tmp_path, codes, monkeypatch):
    """After adds, replacements and removals the next search reads only the changed rows (the
    catalogue's change journal), and its index is the one a rebuild from every row gives."""
    path = tmp_path / "col"
    col = Collection(path)
    paths = [f"/archive/{i}.jpg" for i in range(1000)]
    col.add(pd.DataFrame({"path": paths, "iscc": codes[:1000]}))
    assert len(col.search(codes[0], k=1)) == 1  # the index, built whole

    def journal() -> int:
        with sqlite3.connect(path / "catalogue.sqlite") as db:
            return db.execute("SELECT count(*) FROM changes").fetchone()[0]

    assert journal() == 0  # a written index lets the catalogue forget its journal

    col.add(pd.DataFrame({"path": paths[10:20], "iscc": codes[2000:2010]}))  # replaced
    col.add(codes[1000:1050])  # new items, keyed by code
    ids = [r[0] for r in col._catalogue.paths_and_codes()[:5]]
    col._catalogue.remove(ids)  # as update() drops files gone from a folder
    col.add([])  # a write that changes nothing
    assert journal() == 15  # replaced and removed; new items are known by their ids

    def no_rebuild():
        raise AssertionError("the index was rebuilt from every row")

    with monkeypatch.context() as m:
        m.setattr(col._catalogue, "codes", no_rebuild)
        current = [c for _, _, c in col._catalogue.paths_and_codes()]
        for query in (codes[15], codes[2015], codes[1020], codes[2], codes[600]):
            got = col.search(query, k=5)
            expected = _brute_search(current, query, 5)
            assert got["distance"].tolist() == [d for d, _ in expected]
            assert got["iscc"].tolist() == [current[i] for _, i in expected]
    assert journal() == 0
    assert len(col) == 1045
    _index_equals_a_rebuild(col)
    # another process opening the collection finds the refreshed index on disk
    other = Collection(path)
    with monkeypatch.context() as m:
        m.setattr(other._catalogue, "codes", no_rebuild)
        got = other.search(codes[2012], k=5)
        assert got["iscc"].tolist() == [
            current[i] for _, i in _brute_search(current, codes[2012], 5)
        ]


def test_ids_used_again_after_removals_are_followed(tmp_path, codes, monkeypatch):
    """SQLite's own numbering gives a new row the largest id + 1: once the rows above a gap
    are removed, it would hand out ids an older index knew as removed long ago. The catalogue
    numbers new items above every id given before, so the index finds them."""
    col = Collection(tmp_path / "col")
    col.add(codes[:5])  # ids 1 to 5
    ids = lambda: [r[0] for r in col._catalogue.paths_and_codes()]  # noqa: E731
    col._catalogue.remove([2, 4])
    col.search(codes[0], k=1)  # an index of 1, 3, 5; the journal forgotten
    col._catalogue.remove([3, 5])
    for code in codes[5:9]:  # one transaction each, as update() commits files
        col.add([code])
    assert ids() == [1, 6, 7, 8, 9]  # never 2 or 4 again

    def no_rebuild():
        raise AssertionError("the index was rebuilt from every row")

    with monkeypatch.context() as m:
        m.setattr(col._catalogue, "codes", no_rebuild)
        for code in codes[5:9]:
            assert col.search(code, k=1)["distance"].tolist() == [0]
    _index_equals_a_rebuild(col)


def test_a_read_only_collection_follows_another_writer(tmp_path, codes, monkeypatch):
    """A read-only process brings a stale index on disk, then its own in memory, up to date
    from the journal, and writes nothing."""
    path = tmp_path / "col"
    writer = Collection(path)
    writer.add(codes[:500])
    writer.search(codes[0], k=1)  # an index on disk
    fresh = Collection(path, readonly=True)
    assert len(fresh.search(codes[3], k=1)) == 1  # the index on disk, as it is
    before = (path / "index" / "manifest.json").read_bytes()
    writer.add([])  # a write that changes no item: the same arrays, and still not written
    assert len(fresh.search(codes[3], k=1)) == 1
    assert (path / "index" / "manifest.json").read_bytes() == before
    writer.add(codes[500:600])  # ... now stale
    files = sorted(p.name for p in (path / "index").rglob("*"))
    manifest = (path / "index" / "manifest.json").read_bytes()
    ro = Collection(path, readonly=True)

    def no_rebuild():
        raise AssertionError("the index was rebuilt from every row")

    def check(query):
        current = [c for _, _, c in writer._catalogue.paths_and_codes()]
        got = ro.search(query, k=5)
        assert got["iscc"].tolist() == [current[i] for _, i in _brute_search(current, query, 5)]

    with monkeypatch.context() as m:
        m.setattr(ro._catalogue, "codes", no_rebuild)
        check(codes[550])  # from the index on disk and the rows added since
        writer.add(codes[600:700])
        writer._catalogue.remove([r[0] for r in writer._catalogue.paths_and_codes()[:3]])
        check(codes[650])  # from its index in memory and the journal
        check(codes[1])
        writer.add([])  # a write that changes no item
        check(codes[2])
    assert sorted(p.name for p in (path / "index").rglob("*")) == files  # nothing written
    assert (path / "index" / "manifest.json").read_bytes() == manifest
    assert len(ro) == 697
    _index_equals_a_rebuild(ro)


def test_a_catalogue_from_before_the_journal_gets_one(tmp_path, codes):
    path = tmp_path / "col"
    col = Collection(path)
    col.add(codes[:300])
    col.search(codes[0], k=1)
    col.close()
    db = sqlite3.connect(path / "catalogue.sqlite")
    with db:  # as a collection written by iscc-lab before the journal
        db.executescript(
            "DROP TRIGGER items_updated; DROP TRIGGER items_deleted; DROP TABLE changes;"
            " DELETE FROM meta WHERE key IN ('changes_since', 'high_water');"
        )
    db.close()
    col = Collection(path)  # writable: the journal is added, from now on
    col.add(codes[300:400])
    assert col.search(codes[350], k=1)["iscc"].tolist() == [codes[350]]
    _index_equals_a_rebuild(col)
    assert len(col) == 400


def test_bad_input_is_refused_and_nothing_is_written(tmp_path, col, codes):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"x")
    with pytest.raises(BadRequest, match="not a collection folder"):
        Collection(other)
    assert sorted(os.listdir(other)) == ["a.jpg"]
    with pytest.raises(BadRequest, match="is a file"):
        Collection(other / "a.jpg")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "catalogue.sqlite").write_bytes(b"not a database")
    with pytest.raises(BadRequest, match="not a collection catalogue"):
        Collection(tmp_path / "fake")
    before = (len(col), col._catalogue.generation())
    with pytest.raises(BadRequest, match="Invalid ISCC"):
        col.add([codes[0], "ISCC:NOTACODE"])
    with pytest.raises(BadRequest, match="neither a file nor an ISCC"):
        col.search("no-such-file.jpg")
    with pytest.raises(BadRequest, match="Invalid ISCC"):
        col.search([codes[0], "ISCC:KAAAA"])
    for k in (0, -1, 1.5, True):
        with pytest.raises(BadRequest, match="k must be"):
            col.search(codes[0], k=k)
    with pytest.raises(BadRequest, match="on:"):
        col.search(codes[0], on="colour")
    with pytest.raises(BadRequest, match="on:"):
        col.near_duplicates(on=())
    assert (len(col), col._catalogue.generation()) == before


def test_locked_and_read_only_catalogues(tmp_path, codes):
    path = tmp_path / "col"
    Collection(path).add(codes[:5])
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys, time
            fd = os.open({str(path / '.lock')!r}, os.O_RDWR | os.O_CREAT)
            fcntl.flock(fd, fcntl.LOCK_EX)
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        c = Collection(path)
        with pytest.raises(BadRequest, match="locked: another process is updating it"):
            c.add(codes[5:10])
        assert len(c) == 5  # reading goes on
        assert c.search(codes[0], k=1)["iscc"].tolist() == [codes[0]]
    finally:
        holder.kill()
        holder.wait()
    ro = Collection(path, readonly=True)
    assert len(ro.search(codes[1], k=2)) == 2
    with pytest.raises(BadRequest, match="read-only"):
        ro.add(codes[5:10])
    with pytest.raises(BadRequest, match="read-only"):
        ro.update(tmp_path)
    assert len(ro) == 5
    # SQLite itself refuses a write on a read-only connection: a BadRequest too
    with pytest.raises(BadRequest, match="read-only"):
        ro._catalogue.put([])


def test_update_processes_only_what_changed(tmp_path, media, reference_batch):
    c = Collection(tmp_path / "col")
    first = c.update(media, workers=1, progress=False)
    assert first.attrs["summary"] == {
        "new": 5, "changed": 0, "copied": 0, "failed": 0, "unchanged": 0, "removed": 0,
    }  # fmt: skip
    assert list(first.columns) == list(reference_batch.columns)
    # the values batch() gives, paths made absolute
    ours = c.frame().sort_values("filename").reset_index(drop=True)
    ref = reference_batch.sort_values("filename").reset_index(drop=True)
    pd.testing.assert_frame_equal(ours.drop(columns=["path"]), ref.drop(columns=["path"]))
    again = c.update(media, workers=1, progress=False)
    assert len(again) == 0 and again.attrs["summary"]["unchanged"] == 5
    # a changed file, a copy (its row without extraction), a file gone
    png = media / "demo.png"
    os.utime(png, ns=(png.stat().st_atime_ns, png.stat().st_mtime_ns + 10**9))
    shutil.copy(media / "demo.jpg", media / "sub" / "copy of demo.jpg")
    (media / "demo.gif").unlink()
    third = c.update(media, workers=1, progress=False)
    assert third.attrs["summary"] == {
        "new": 0, "changed": 1, "copied": 1, "failed": 0, "unchanged": 3, "removed": 1,
    }  # fmt: skip
    assert sorted(third["filename"]) == ["copy of demo.jpg", "demo.png"]
    assert len(c) == 5
    frame = c.frame().set_index("filename")
    assert "demo.gif" not in frame.index
    copied = frame.loc["copy of demo.jpg"]
    assert copied["path"] == str(media / "sub" / "copy of demo.jpg")
    # the copy's row is what batch() gives for it: the picture has its name in its metadata
    direct = iscc_lab.batch([media / "sub" / "copy of demo.jpg"], workers=1, progress=False)
    for column in ("iscc", "name", "datahash", "content", "meta"):
        assert copied[column] == direct.loc[0, column]
    assert c.integrity_check() == "ok"


def test_relocate_follows_a_moved_archive(tmp_path, media):
    c = Collection(tmp_path / "col")
    c.update(media, workers=1, progress=False)
    before = c.frame().set_index("filename")
    query = c.search(media / "demo.png", k=3)
    moved = tmp_path / "mounted elsewhere" / "media"
    moved.parent.mkdir()
    os.rename(media, moved)
    with pytest.raises(BadRequest, match="is not a folder"):
        c.relocate(media, tmp_path / "nowhere")
    assert c.relocate(media, moved) == 5
    after = c.frame().set_index("filename")
    assert after["path"].tolist() == [str(moved / p.relative_to(media)) for p in map(
        Path, before["path"])]  # fmt: skip
    pd.testing.assert_frame_equal(after.drop(columns="path"), before.drop(columns="path"))
    again = c.update(moved, workers=1, progress=False)  # nothing is recomputed
    assert again.attrs["summary"]["unchanged"] == 5 and len(again) == 0
    found = c.search(moved / "demo.png", k=3)
    assert found["distance"].tolist() == query["distance"].tolist()
    assert found["path"].tolist() == [
        str(moved / Path(p).relative_to(media)) for p in query["path"]
    ]
    # a folder whose new paths are taken already: refused, nothing changed
    shutil.copytree(moved, media)
    c.update(media, workers=1, progress=False)
    with pytest.raises(BadRequest, match="in the collection already"):
        c.relocate(moved, media)
    assert len(c) == 10 and c.integrity_check() == "ok"


def test_a_copy_named_by_its_filename_is_processed(tmp_path, media):
    c = Collection(tmp_path / "col")
    c.update([media / "demo.txt"], workers=1, progress=False)
    moved = media / "moved.txt"
    shutil.copy(media / "demo.txt", moved)
    out = c.update([moved], workers=1, progress=False)
    # a text has no title: its name, and so its Meta-Code, comes from the file name
    assert out.attrs["summary"]["new"] == 1 and out.attrs["summary"]["copied"] == 0
    assert out.loc[0, "name"] == "moved"


def test_a_collection_inside_the_scanned_folder_is_not_media(tmp_path, media):
    c = Collection(media / "archive.isccs")
    c.update(media / "demo.txt", workers=1, progress=False)
    out = c.update([media / "demo.txt", media / "archive.isccs" / "catalogue.sqlite"])
    assert out.attrs["summary"]["unchanged"] == 1 and len(out) == 0 and len(c) == 1


def test_sigkill_mid_update_loses_nothing_committed(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    n = 40
    for i in range(n):
        (folder / f"t{i:02}.txt").write_text(f"Text number {i}. " * (50 + i))
    path = tmp_path / "col"
    script = textwrap.dedent(f"""
        from iscc_lab.collection import Collection
        if __name__ == "__main__":
            Collection({str(path)!r}).update({str(folder)!r}, workers=1, progress=False)
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                db = sqlite3.connect(f"file:{path / 'catalogue.sqlite'}?mode=ro", uri=True)
                count = db.execute("SELECT count(*) FROM items").fetchone()[0]
                db.close()
            except sqlite3.Error:
                count = 0
            if count >= 3:
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    c = Collection(path)
    assert c.integrity_check() == "ok"
    committed = set(c.frame()["path"])
    assert 3 <= len(committed) < n, "the update was not interrupted mid-way"
    out = c.update(folder, workers=1, progress=False)
    summary = out.attrs["summary"]
    assert summary["unchanged"] == len(committed) and summary["new"] == n - len(committed)
    frame = c.frame()
    assert len(frame) == n and frame["path"].is_unique and frame["error"].isna().all()
    assert set(frame["path"]) == {str(p) for p in folder.iterdir()}
