"""The manifest repository: C2PA manifest stores kept with their asset's ISCC soft binding, and
found again by the binding's similarity (the Soft Binding Resolution API's back end).

One SQLite file (WAL, one transaction per change: a manifest is there whole or not at all) in
the media folder, `{media_path}/.c2pa/manifests.sqlite`, apart from the uploads, so it outlives
their expiry. Matching compares the 256-bit units of a query binding with those of every kept
binding of the same unit type (Hamming distance), in memory: the units are loaded once into
arrays and reloaded only when the repository has changed (a `generation` counted up by every
change, in the same transaction: seen by every connection and process); 10,000 manifests are
10,000 x 32 bytes per unit type.

Score (0-100) of a kept manifest: the best `similarity_score` over the unit types that both
bindings have, Meta-Code left out (equal titles say nothing of the content); matches below
`MIN_SCORE` are not answered. Units of unrelated content are about 128 bits apart (score 0);
a re-encoded copy's Content-Code is typically within 30 bits (score 75 and more).
"""

import json
import sqlite3
import threading
import time
from functools import lru_cache
from pathlib import Path

from iscc_lab.errors import BadRequest, Forbidden, NotFound
from iscc_lab.provenance.binding import similarity_score, unit_bodies

__all__ = ["ManifestRepository", "MIN_SCORE", "repository_path"]

MIN_SCORE = 50  # a unit within 64 of 256 bits
META = 0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    manifest_id TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    value BLOB NOT NULL,
    units TEXT NOT NULL,
    store BLOB NOT NULL,
    media_id TEXT,
    filename TEXT,
    mediatype TEXT,
    owner TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
    manifest_id TEXT NOT NULL REFERENCES manifests(manifest_id) ON DELETE CASCADE,
    kind INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS units_kind ON units(kind);
CREATE INDEX IF NOT EXISTS units_manifest ON units(manifest_id);
CREATE TABLE IF NOT EXISTS generation (n INTEGER NOT NULL);
INSERT INTO generation SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM generation);
"""
_BUMP = "UPDATE generation SET n = n + 1"


def repository_path(media_path) -> Path:
    return Path(media_path) / ".c2pa" / "manifests.sqlite"


class ManifestRepository:
    """Manifest stores by manifest id, with their soft bindings. Safe to share between threads
    and processes (each thread has its own connection)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._cache_lock = threading.Lock()
        self._cache = None  # (generation, {kind: (ids ndarray, bodies ndarray)})
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def for_media(cls, media_path) -> "ManifestRepository":
        return cls(repository_path(media_path))

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    # -- changes -------------------------------------------------------------------------------
    def add(self, manifest_id: str, store: bytes, binding: dict, *, media_id=None,
            filename=None, mediatype=None, owner: str = "") -> None:  # fmt: skip
        """Keep `store` (the manifest store's bytes) under `manifest_id` with its soft binding
        (`{"alg", "value" (base64), "units"}`); replaces an earlier copy of the same id."""
        import base64

        units = list(binding["units"])
        bodies = unit_bodies(units)
        if not bodies:
            raise BadRequest("The soft binding has no 256-bit ISCC units to match by.")
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM manifests WHERE manifest_id = ?", (manifest_id,))
            db.execute(
                "INSERT INTO manifests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (manifest_id, binding.get("alg", "io.iscc.v0"), base64.b64decode(binding["value"]),
                 json.dumps(units), bytes(store), media_id, filename, mediatype, owner or "",
                 time.time()),
            )  # fmt: skip
            db.executemany(
                "INSERT INTO units VALUES (?, ?, ?)",
                [(manifest_id, _kind(mt, st), body) for (mt, st), body in bodies.items()],
            )
            db.execute(_BUMP)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete(self, manifest_id: str, owner: str | None = None) -> None:
        """Remove a manifest; Forbidden unless `owner` registered it (None: anyone may)."""
        row = self._row(manifest_id, "owner")
        if owner is not None and row[0] != owner:
            raise Forbidden(f"Manifest {manifest_id} was registered by another client.")
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM manifests WHERE manifest_id = ?", (manifest_id,))
            db.execute(_BUMP)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- look-ups ------------------------------------------------------------------------------
    def _row(self, manifest_id: str, columns: str):
        row = (
            self._connect()
            .execute(f"SELECT {columns} FROM manifests WHERE manifest_id = ?", (manifest_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"No manifest with id {manifest_id[:100]} in this repository.")
        return row

    def store(self, manifest_id: str, *, active_only: bool = False) -> bytes:
        """The manifest store's bytes (`application/c2pa`); with `active_only`, the store with
        only its active manifest (see `jumbf.active_only`)."""
        data = bytes(self._row(manifest_id, "store")[0])
        if active_only:
            from iscc_lab.provenance.jumbf import active_only as cut

            data = cut(data, manifest_id)
        return data

    def info(self, manifest_id: str) -> dict:
        mid, media_id, filename, mediatype, created, units = self._row(
            manifest_id, "manifest_id, media_id, filename, mediatype, created, units"
        )
        return {"manifestId": mid, "media_id": media_id, "filename": filename,
                "mediatype": mediatype, "created": created, "units": json.loads(units)}  # fmt: skip

    def __len__(self) -> int:
        return self._connect().execute("SELECT count(*) FROM manifests").fetchone()[0]

    def __contains__(self, manifest_id) -> bool:
        return (
            self._connect()
            .execute("SELECT 1 FROM manifests WHERE manifest_id = ?", (manifest_id,))
            .fetchone()
            is not None
        )

    def _arrays(self) -> dict:
        import numpy as np

        db = self._connect()
        version = db.execute("SELECT n FROM generation").fetchone()[0]
        with self._cache_lock:
            if self._cache and self._cache[0] == version:
                return self._cache[1]
            arrays = {}
            rows = db.execute("SELECT kind, manifest_id, body FROM units ORDER BY kind").fetchall()
            by_kind: dict[int, tuple[list, list]] = {}
            for kind, mid, body in rows:
                ids, bodies = by_kind.setdefault(kind, ([], []))
                ids.append(mid)
                bodies.append(body)
            for kind, (ids, bodies) in by_kind.items():
                arrays[kind] = (
                    np.array(ids, dtype=object),
                    np.frombuffer(b"".join(bodies), dtype=np.uint8).reshape(len(ids), -1),
                )
            self._cache = (version, arrays)
            return arrays

    def match(self, units, max_results: int = 10, min_score: int = MIN_SCORE) -> list[dict]:
        """`[{"manifestId", "similarityScore"}]` of the kept manifests most like a binding's
        `units`, best first, at most `max_results`, none below `min_score`."""
        import numpy as np

        arrays = self._arrays()
        limit = _max_distance(min_score)
        best: dict[str, int] = {}
        for (mt, st), body in unit_bodies(units).items():
            if mt == META:
                continue
            found = arrays.get(_kind(mt, st))
            if found is None:
                continue
            ids, bodies = found
            if bodies.shape[1] != len(body) or len(body) % 8:
                continue
            query = np.frombuffer(body, dtype=np.uint64)
            distances = np.bitwise_count(bodies.view(np.uint64) ^ query).sum(axis=1)
            for i in np.flatnonzero(distances <= limit):
                score = similarity_score(int(distances[i]))
                if score > best.get(ids[i], -1):
                    best[ids[i]] = score
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:max_results]
        return [{"manifestId": mid, "similarityScore": score} for mid, score in ranked]


def _kind(maintype: int, subtype: int) -> int:
    return maintype * 16 + subtype


@lru_cache(maxsize=16)
def _max_distance(min_score: int) -> int:
    """The largest distance whose score is at least `min_score`."""
    d = 0
    while d < 256 and similarity_score(d + 1) >= min_score:
        d += 1
    return d
