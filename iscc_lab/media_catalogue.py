"""The catalogue of a media store: one SQLite row per stored media (owner, file name, size, media
type, creation time, sha256, datahash, ISCC), for listing in pages, look-ups by checksum or code,
"which of these are known?" and exact similarity search, without reading every record.json.

It is an index, not the truth: the store's folders are. `CataloguedStore` (a `Store`) keeps it in
step as media are stored, deleted or expire, and `MediaCatalogue.after_job` as worker jobs write
results; `sync()` reconciles it with the folders (media added or removed behind its back, results
written while nobody listened). A missing catalogue is rebuilt from the folders into a temporary
file that is renamed into place. One process writes it (the server); any number may read it.

Search: the units of one type (`on`) of every catalogued ISCC, kept in memory as the exact Hamming
kernels of `iscc_lab.hamming` want them (built on the first search on that type, then kept in
step); a search of one owner compares that owner's rows only.

Why not `iscc_lab.Collection`: a collection is keyed by file path and holds `batch()` rows; the
server's media are keyed by media_id and need owner, filename, size, media type and creation
time, in indexes for pages ordered three ways; and a collection's search index is rebuilt from
the catalogue when its generation moves on, which a server receiving uploads would do for every
search. Both use the same exact kernels (`iscc_lab.hamming`).

Core: sqlite3, numpy and the store; no tornado, no pandas.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from iscc_lab import hamming
from iscc_lab.errors import BadRequest, NotFound
from iscc_lab.explain import UNIT_TYPES, normalize
from iscc_lab.store import MEDIA_ID_RE, MediaRecord, Store, Upload

__all__ = [
    "LOOKUP_FIELDS",
    "ORDERINGS",
    "UNIT_TYPES",
    "MediaCatalogue",
    "CataloguedStore",
    "check_lookup_value",
    "check_on",
]

#: `ordering` values of `MediaCatalogue.listing` (also with a leading `-`) and their columns.
ORDERINGS = {"created": "created", "filename": "folded", "filesize": "filesize"}
LOOKUP_FIELDS = ("sha256", "datahash", "iscc")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DATAHASH = re.compile(r"^1e20[0-9a-f]{64}$")  # blake3 multihash, hex, as in ISCC results
_WIDTH = 4  # 64-bit words per unit hash: ISCC units are at most 256 bits
_COLUMNS = "media_id, filename, filesize, mediatype, created, iscc"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS media (
    media_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    filename TEXT NOT NULL,
    folded TEXT NOT NULL,
    filesize INTEGER NOT NULL,
    mediatype TEXT NOT NULL,
    created REAL NOT NULL,
    sha256 TEXT NOT NULL,
    datahash TEXT,
    iscc TEXT
);
CREATE INDEX IF NOT EXISTS by_owner_created ON media (owner, created, media_id);
CREATE INDEX IF NOT EXISTS by_owner_folded ON media (owner, folded, media_id);
CREATE INDEX IF NOT EXISTS by_owner_filesize ON media (owner, filesize, media_id);
CREATE INDEX IF NOT EXISTS by_created ON media (created, media_id);
CREATE INDEX IF NOT EXISTS by_folded ON media (folded, media_id);
CREATE INDEX IF NOT EXISTS by_filesize ON media (filesize, media_id);
CREATE INDEX IF NOT EXISTS by_sha256 ON media (sha256);
CREATE INDEX IF NOT EXISTS by_datahash ON media (datahash);
CREATE INDEX IF NOT EXISTS by_iscc ON media (iscc);
"""


@functools.lru_cache(maxsize=4096)
def canonical(code: str) -> str:
    """`explain.normalize`, remembered: checking a code with iscc-core takes about a
    millisecond, and the same codes come back (a search, then its look-ups)."""
    return normalize(code)


def check_on(on) -> str:
    """`on`, a unit type to search by; BadRequest naming the unit types when it is none."""
    if on not in UNIT_TYPES:
        raise BadRequest(f"on must be one of {', '.join(UNIT_TYPES)}, not {str(on)[:40]!r}.")
    return on


def check_lookup_value(name: str, value) -> str:
    """The look-up value in the form the catalogue keeps it (hex lowercased, ISCC canonical);
    BadRequest naming the parameter when it is malformed."""
    if name not in LOOKUP_FIELDS:
        raise BadRequest(f"Unknown look-up key {str(name)[:40]!r}: use sha256, datahash or iscc.")
    if not isinstance(value, str):
        raise BadRequest(f"{name}: expected a string, not {type(value).__name__}.")
    text = value
    if name == "iscc":
        try:
            return canonical(text.strip())
        except BadRequest as e:
            raise BadRequest(f"iscc: {e.message}") from None
    pattern, what = (
        (_SHA256, "64 hexadecimal characters")
        if name == "sha256"
        else (_DATAHASH, "a blake3 multihash in hex (1e20 and 64 hexadecimal characters)")
    )
    if not pattern.match(text.lower()):
        raise BadRequest(f"{name} must be {what}, not {text[:80]!r}.")
    return text.lower()


class _Vectors:
    """The rows with an ISCC, in memory for search: the media_id and owner of each position,
    and per unit type searched so far its units (kind NONE where a row has none or is gone)."""

    def __init__(self):
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.owner = np.zeros(1024, np.int32)
        self.owner_codes: dict[str, int] = {}
        self.units: dict[str, hamming.Units] = {}  # capacity-sized arrays; first `n` in use
        self.dead = 0
        self.version = 0  # changes with every add or remove (cached owner subsets follow it)
        self._subsets: dict = {}

    @property
    def n(self) -> int:
        return len(self.ids)

    def grow(self, need: int) -> None:
        cap = len(self.owner)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        self.owner = np.resize(self.owner, new)
        for name, u in self.units.items():
            grown = hamming.Units.empty(new, _WIDTH)
            grown.kind[:cap], grown.nbits[:cap], grown.words[:, :cap] = u.kind, u.nbits, u.words
            self.units[name] = grown

    def add(self, media_id: str, owner: str, code: str) -> None:
        self.remove(media_id)
        p = self.n
        self.grow(p + 1)
        self.ids.append(media_id)
        self.pos[media_id] = p
        self.owner[p] = self.owner_codes.setdefault(owner, len(self.owner_codes))
        if self.units:
            try:
                decoded = hamming.decode([code], list(self.units))
            except BadRequest:  # a damaged code is listed, never searched
                return
            for name, u in self.units.items():
                d = decoded[name]
                u.kind[p], u.nbits[p] = d.kind[0], d.nbits[0]
                u.words[:, p] = 0
                u.words[: d.words.shape[0], p] = d.words[:, 0]
        self.version += 1

    def remove(self, media_id: str) -> None:
        p = self.pos.pop(media_id, None)
        if p is None:
            return
        for u in self.units.values():
            u.kind[p] = hamming.NONE
        self.owner[p] = -1
        self.dead += 1
        self.version += 1

    def fill(self, name: str, rows: Iterable[tuple[str, str]]) -> None:
        """Build the units of `name` from (media_id, iscc) of every live row."""
        units = hamming.Units.empty(len(self.owner), _WIDTH)
        ids, codes = [], []
        for media_id, code in rows:
            if media_id in self.pos:
                ids.append(self.pos[media_id])
                codes.append(code)
        if codes:
            try:
                d = hamming.decode(codes, [name])[name]
            except BadRequest:  # a damaged iscc.json: leave its row out of search
                good = [i for i, c in enumerate(codes) if _decodes(c)]
                ids, codes = [ids[i] for i in good], [codes[i] for i in good]
                d = hamming.decode(codes, [name])[name]
            at = np.array(ids, dtype=np.int64)
            units.kind[at], units.nbits[at] = d.kind, d.nbits
            units.words[: d.words.shape[0], at] = d.words
        self.units[name] = units

    def subset(self, name: str, owner: str | None) -> tuple[hamming.Units, np.ndarray | None]:
        """The units to search (of `owner`'s rows, or all) and their positions (None: all)."""
        u = self.units[name]
        n = self.n
        if owner is None:
            return hamming.Units(u.kind[:n], u.nbits[:n], u.words[:, :n]), None
        key = (name, owner)
        cached = self._subsets.get(key)
        if cached is None or cached[0] != self.version:
            code = self.owner_codes.get(owner, -2)
            rows = np.flatnonzero(self.owner[:n] == code)
            cached = (self.version, u.take(rows), rows)
            if len(self._subsets) > 64:
                self._subsets.clear()
            self._subsets[key] = cached
        return cached[1], cached[2]


class MediaCatalogue:
    """The SQLite catalogue of a store's media, at `path` (created, or rebuilt from `store`
    when missing). Thread-safe: one connection behind a lock."""

    def __init__(self, path, store: Store):
        self.path = Path(path)
        self.store = store
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._vectors: _Vectors | None = None
        self._seen_version = None
        with open(self.path.parent / "lock", "a") as lock:  # one builder at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.path.exists():
                self._rebuild()
            try:
                self._db = self._connect(self.path)
            except sqlite3.DatabaseError:  # not a database, or damaged: it is only an index
                os.replace(self.path, self.path.with_name(f"{self.path.name}.damaged"))
                for extra in ("-wal", "-shm"):
                    Path(f"{self.path}{extra}").unlink(missing_ok=True)
                self._rebuild()
                self._db = self._connect(self.path)
        self.sync(results=True)

    # -- the database ------------------------------------------------------------------------
    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def _rebuild(self) -> None:
        """Build the catalogue from the store's folders in a temporary file, then rename it
        into place: a reader sees no catalogue or a complete one."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            db.executescript(_SCHEMA)
            db.execute("BEGIN")
            for record in self.store:
                db.execute(_UPSERT, _row(record, self.store.read_result(record.media_id, "iscc")))
            db.execute("COMMIT")
            db.close()
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -----------------------------------------------------------------------------
    def add(self, record: MediaRecord, result: dict | None = None) -> None:
        """Catalogue a stored media (again), with its ISCC result if it has one."""
        row = _row(record, result)
        with self._lock:
            self._db.execute(_UPSERT, row)
            self._track(record.media_id, record.owner, row[-1])

    def add_many(self, items: Iterable[tuple[MediaRecord, dict | None]]) -> None:
        """Catalogue many (record, result) pairs in one transaction (a bulk load)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for record, result in items:
                    row = _row(record, result)
                    self._db.execute(_UPSERT, row)
                    self._track(record.media_id, record.owner, row[-1])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._vectors = None
                raise

    def set_result(self, media_id: str, result: dict) -> None:
        """The ISCC result of a catalogued media was written; a media not catalogued (yet) is
        read from the store, one gone meanwhile is left out."""
        try:
            record = self.store.get(media_id)
        except NotFound:
            self.remove([media_id])
            return
        self.add(record, result)

    def after_job(self, job: str, args: tuple, result) -> None:
        """Keep step with what a worker job (`iscc_lab.media.run_job`) wrote to the store."""
        if job == "iscc":
            self.set_result(args[0], result)
        elif job == "embed":
            record, iscc = result
            self.set_result(record["media_id"], iscc)

    def remove(self, media_ids: Iterable[str]) -> None:
        media_ids = list(media_ids)
        with self._lock:
            self._db.executemany("DELETE FROM media WHERE media_id = ?", [(m,) for m in media_ids])
            if self._vectors is not None:
                for m in media_ids:
                    self._vectors.remove(m)

    def _track(self, media_id: str, owner: str, code: str | None) -> None:
        v = self._vectors
        if v is None:
            return
        if code:
            v.add(media_id, owner, code)
        else:
            v.remove(media_id)

    def sync(self, results: bool = False) -> dict:
        """Reconcile with the store's folders: catalogue media it lacks, drop media gone from
        disk; with `results`, also pick up ISCC results of media catalogued without one.
        Returns {"added": n, "removed": n, "results": n}."""
        with self._lock:
            on_disk = {e for e in os.listdir(self.store.root) if MEDIA_ID_RE.match(e)}
            known = {m for (m,) in self._db.execute("SELECT media_id FROM media")}
            added = removed = found = 0
            self._db.execute("BEGIN")
            try:
                for media_id in sorted(on_disk - known):
                    try:
                        record = self.store.get(media_id)
                    except NotFound:
                        continue
                    result = self.store.read_result(media_id, "iscc")
                    row = _row(record, result)
                    self._db.execute(_UPSERT, row)
                    self._track(media_id, record.owner, row[-1])
                    added += 1
                gone = sorted(known - on_disk)
                self._db.executemany("DELETE FROM media WHERE media_id = ?", [(m,) for m in gone])
                for m in gone:
                    if self._vectors is not None:
                        self._vectors.remove(m)
                removed = len(gone)
                if results:
                    pending = self._db.execute("SELECT media_id FROM media WHERE iscc IS NULL")
                    for (media_id,) in pending.fetchall():
                        result = self.store.read_result(media_id, "iscc")
                        if result is not None:
                            try:
                                record = self.store.get(media_id)
                            except NotFound:
                                continue
                            row = _row(record, result)
                            self._db.execute(_UPSERT, row)
                            self._track(media_id, record.owner, row[-1])
                            found += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._vectors = None  # may hold rows the rollback undid: rebuilt when searched
                raise
        return {"added": added, "removed": removed, "results": found}

    def older_than(self, created: float) -> list[str]:
        """Media created before the time `created` (seconds since the epoch)."""
        with self._lock:
            rows = self._db.execute("SELECT media_id FROM media WHERE created < ?", (created,))
            return [m for (m,) in rows]

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM media").fetchone()[0]

    def listing(
        self,
        owner: str | None = None,
        *,
        page: int = 1,
        page_size: int = 50,
        ordering: str = "-created",
        search: str | None = None,
    ) -> tuple[int, list[dict]]:
        """(count, rows of one page) of `owner`'s media (or all), ordered by `ordering`
        (created, filename, filesize; a leading `-` for descending), filtered by a
        case-insensitive substring of the filename."""
        column = ORDERINGS.get(ordering.removeprefix("-"))
        if column is None:
            raise BadRequest(
                f"ordering must be one of {', '.join(ORDERINGS)}, each with an optional "
                f"leading '-', not {ordering[:40]!r}."
            )
        direction = "DESC" if ordering.startswith("-") else "ASC"
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if search:
            where.append("instr(folded, ?) > 0")
            args.append(_fold(search))
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            count = self._db.execute(f"SELECT count(*) FROM media {clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM media {clause} "
                f"ORDER BY {column} {direction}, media_id {direction} LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return count, [_dict(r) for r in rows]

    def lookup(self, name: str, value: str, owner: str | None = None) -> list[dict]:
        """Media whose `name` (sha256, datahash or iscc) is `value` (checked), oldest first."""
        value = check_lookup_value(name, value)
        where, args = f"{name} = ?", [value]
        if owner is not None:
            where += " AND owner = ?"
            args.append(owner)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM media INDEXED BY by_{name} WHERE {where} "
                "ORDER BY created, media_id",
                args,
            ).fetchall()
        return [_dict(r) for r in rows]

    def known(self, name: str, values: list[str], owner: str | None = None) -> set[str]:
        """Which of `values` (already checked, in the catalogue's form) of `name` are there."""
        if name not in LOOKUP_FIELDS:
            raise BadRequest(f"Unknown look-up key {name[:40]!r}.")
        found: set[str] = set()
        with self._lock:
            for i in range(0, len(values), 500):
                chunk = values[i : i + 500]
                marks = ",".join("?" * len(chunk))
                sql = (
                    f"SELECT DISTINCT {name} FROM media INDEXED BY by_{name} "
                    f"WHERE {name} IN ({marks})"
                )
                args = list(chunk)
                if owner is not None:
                    sql += " AND owner = ?"
                    args.append(owner)
                found.update(v for (v,) in self._db.execute(sql, args))
        return found

    def search(self, code: str, *, k: int = 10, on: str = "content", owner: str | None = None):
        """The `k` catalogued media nearest to the ISCC `code` on the unit type `on` (of
        `owner`'s media, or all): a list of {"media_id", "iscc", "filename", "distance"},
        nearest first (ties by catalogue position), distances in bits over the common length
        of the two units, exactly as a brute-force scan orders them."""
        check_on(on)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise BadRequest(f"k must be a whole number from 1 to 100, not {str(k)[:40]!r}.")
        code = check_lookup_value("iscc", code)
        query = hamming.decode([code], [on])[on]
        if query.kind[0] == hamming.NONE:
            raise BadRequest(f"iscc: the code has no {on} unit to compare on (on={on}).")
        with self._lock:
            vectors = self._vectors_for(on)
            units, positions = vectors.subset(on, owner)
            ((rows, dist),) = hamming.nearest(units, query, k)
            if positions is not None:
                rows = positions[rows]
            ids = [vectors.ids[int(r)] for r in rows]
            found = {}
            if ids:
                marks = ",".join("?" * len(ids))
                sql = f"SELECT media_id, iscc, filename FROM media WHERE media_id IN ({marks})"
                found = {m: (c, f) for m, c, f in self._db.execute(sql, ids)}
        return [
            {"media_id": m, "iscc": found[m][0], "filename": found[m][1], "distance": int(d)}
            for m, d in zip(ids, dist.tolist(), strict=True)
            if m in found
        ]

    def _vectors_for(self, on: str) -> _Vectors:
        """The search vectors, with the units of `on` (under the lock). Rebuilt when another
        process wrote the catalogue, or when most of their rows are gone."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        v = self._vectors
        if v is None or version != self._seen_version or (v.dead > 1024 and v.dead > v.n // 2):
            v = _new_vectors(self._db)
            self._vectors, self._seen_version = v, version
        if on not in v.units:
            v.fill(on, self._db.execute("SELECT media_id, iscc FROM media WHERE iscc IS NOT NULL"))
        return v

    def warm(self, on: str = "content") -> bool:
        """Build the search vectors of `on` before the first search needs them (at a million
        media, seconds of reading and decoding), on a connection of the calling thread's own,
        without holding the catalogue while it reads: requests go on meanwhile. The vectors are
        taken into use unless the catalogue changed in the meantime (then the first search
        builds them, as it would have). True when they are in use."""
        check_on(on)
        with self._lock:
            if self._vectors is not None and on in self._vectors.units:
                return True
            stamp = self._stamp()
        db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        try:
            db.execute("BEGIN")  # one snapshot, taken after the stamp
            v = _new_vectors(db)
            v.fill(on, db.execute("SELECT media_id, iscc FROM media WHERE iscc IS NOT NULL"))
            db.execute("COMMIT")
        finally:
            db.close()
        with self._lock:
            if self._stamp() != stamp or self._vectors is not None:
                return False
            self._vectors, self._seen_version = v, stamp[1]
            return True

    def _stamp(self) -> tuple[int, int]:
        """Changes this connection made, and the data version other connections moved on."""
        return self._db.total_changes, self._db.execute("PRAGMA data_version").fetchone()[0]


def _new_vectors(db: sqlite3.Connection) -> _Vectors:
    """Search vectors of every catalogued media with an ISCC (no units yet), in rowid order."""
    v = _Vectors()
    rows = db.execute(
        "SELECT media_id, owner FROM media WHERE iscc IS NOT NULL ORDER BY rowid"
    ).fetchall()
    v.grow(len(rows))
    for p, (media_id, owner) in enumerate(rows):
        v.ids.append(media_id)
        v.pos[media_id] = p
        v.owner[p] = v.owner_codes.setdefault(owner, len(v.owner_codes))
    return v


_UPSERT = (
    "INSERT OR REPLACE INTO media (media_id, owner, filename, folded, filesize, mediatype, "
    "created, sha256, datahash, iscc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _decodes(code: str) -> bool:
    try:
        hamming.decode([code], ["content"])
        return True
    except BadRequest:
        return False


def _fold(text: str) -> str:
    return text.casefold()


def _row(record: MediaRecord, result: dict | None) -> tuple:
    result = result or {}
    return (
        record.media_id,
        record.owner,
        record.filename,
        _fold(record.filename),
        record.size,
        result.get("mediatype") or record.content_type,
        record.created,
        record.sha256,
        result.get("datahash") or record.datahash,
        result.get("iscc"),
    )


def _dict(row) -> dict:
    keys = ("media_id", "filename", "filesize", "mediatype", "created", "iscc")
    return dict(zip(keys, row, strict=True))


class _CataloguedUpload(Upload):
    """An upload that is catalogued when it is committed."""

    def commit(self) -> MediaRecord:
        record = super().commit()
        self.store.catalogue.add(record)
        return record


class CataloguedStore(Store):
    """A `Store` with its `catalogue` (`<root>/.catalogue/media.sqlite`) kept in step: media
    are catalogued when committed and leave it when deleted or expired. Results written by
    worker processes (on plain `Store`s of the same folder) reach it through
    `catalogue.after_job` or `catalogue.sync`."""

    def __init__(self, root, max_upload_size: int = 1_073_741_824):
        super().__init__(root, max_upload_size=max_upload_size)
        self.catalogue = MediaCatalogue(self.root / ".catalogue" / "media.sqlite", self)

    def begin(self, *args, **kwargs) -> Upload:
        return _CataloguedUpload(self, *args, **kwargs)

    def write_result(self, media_id: str, name: str, data: dict) -> None:
        super().write_result(media_id, name, data)
        if name == "iscc":
            self.catalogue.set_result(media_id, data)

    def delete(self, media_id: str) -> None:
        try:
            super().delete(media_id)
        finally:
            self.catalogue.remove([media_id])

    def expire(self, max_age: float, now: float | None = None) -> list[str]:
        """As `Store.expire`, with the candidates from the catalogue (after a `sync`), not from
        reading every record."""
        now = time.time() if now is None else now
        self.catalogue.sync()
        gone = []
        for media_id in self.catalogue.older_than(now - max_age):
            try:
                self.delete(media_id)
                gone.append(media_id)
            except NotFound:
                pass
        self.sweep(older_than=min(max_age, 3600), now=now)
        return gone
