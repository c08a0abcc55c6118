"""The catalogue of a collection: one SQLite database (stdlib sqlite3, WAL) in the collection's
folder, one row per item.

An item is keyed by its absolute path, or by its ISCC when it has no path (codes made
elsewhere). It carries the file's size and modification time (to find changed files), its
datahash (the BLAKE3 multihash of its bytes, to find moved and copied files), its ISCC and its
`batch()` row as JSON. Every write is one transaction that also counts up `generation`, which
tells the search index when it is stale: a reader sees a row whole or not at all, and a killed
process leaves the database as of its last commit.

Writers hold an advisory lock (`.lock`, flock) for the length of an `update()` or `add()`, so
that two processes never interleave their updates; readers need no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from iscc_lab.errors import BadRequest

__all__ = ["FILE", "FORMAT", "REMOVED", "Catalogue", "Entry"]

FILE = "catalogue.sqlite"
#: The ISCC `Catalogue.changes` gives for an item that was removed.
REMOVED = ""
FORMAT = "iscc-lab collection 1"
_LOCK = ".lock"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    path TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    datahash TEXT,
    iscc TEXT,
    error TEXT,
    row TEXT NOT NULL
);
CREATE INDEX items_datahash ON items (datahash);
CREATE INDEX items_size ON items (size);
"""
# The change journal: the id of every item replaced or removed, with the generation its
# transaction commits (the current one + 1: `_transaction` counts up at its end). New items
# need no entry: `put` numbers them itself above `high_water` in meta, the largest id ever
# given, so an id is never used again (SQLite's own numbering, the largest id + 1, hands out
# removed ids again once the rows above them are gone) and a new item is above every id an
# older index holds (the index asks for the rows above its last id). The search index reads
# the journal and those rows to bring itself up to date from what changed instead of every row.
# `changes_since` in meta: every change after that generation is in the journal.
_JOURNAL = """
CREATE TABLE IF NOT EXISTS changes (gen INTEGER NOT NULL, id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_gen ON changes (gen);
CREATE TRIGGER IF NOT EXISTS items_updated AFTER UPDATE ON items BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER) + 1, new.id FROM meta
    WHERE key = 'generation';
END;
CREATE TRIGGER IF NOT EXISTS items_deleted AFTER DELETE ON items BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER) + 1, old.id FROM meta
    WHERE key = 'generation';
END;
"""
_HIGH_WATER = (
    "UPDATE meta SET value = CAST(max(CAST(value AS INTEGER),"
    " coalesce((SELECT max(id) FROM items), 0)) AS TEXT) WHERE key = 'high_water'"
)
#: (key, path, size, mtime_ns, datahash, iscc, error, row JSON): one item as written.
Entry = tuple
_UPSERT = """
INSERT INTO items (id, key, path, size, mtime_ns, datahash, iscc, error, row)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    path = excluded.path, size = excluded.size, mtime_ns = excluded.mtime_ns,
    datahash = excluded.datahash, iscc = excluded.iscc, error = excluded.error,
    row = excluded.row
"""


def entry(key: str, row: dict, size=None, mtime_ns=None) -> Entry:
    """The catalogue entry of a `batch()` row."""
    return (
        key, row.get("path"), size, mtime_ns, row.get("datahash"), row.get("iscc"),
        row.get("error"), json.dumps(row, separators=(",", ":")),
    )  # fmt: skip


class Catalogue:
    """The SQLite catalogue in `folder` (created when the folder is new or empty)."""

    def __init__(self, folder: Path, *, readonly: bool = False):
        self.folder = folder
        self.file = folder / FILE
        self.readonly = readonly
        self._guard = threading.RLock()
        self._lock_fd: int | None = None
        if folder.exists() and not folder.is_dir():
            raise BadRequest(f"{folder} is a file, not a collection folder.")
        if not self.file.exists():
            if readonly:
                raise BadRequest(f"{folder} is not a collection: it has no {FILE}.")
            if folder.is_dir() and any(folder.iterdir()):
                raise BadRequest(
                    f"{folder} is not a collection folder: it holds other files and no {FILE}. "
                    "Give a new or empty folder for a new collection."
                )
            self._create()
        self._db = self._connect()

    # -- opening -------------------------------------------------------------------------------

    def _create(self) -> None:
        """A new catalogue, written under a temporary name and renamed into place whole."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadRequest(f"Cannot create the collection folder {self.folder}: {e}") from None
        tmp = self.folder / f".{FILE}.{uuid.uuid4().hex}.tmp"
        try:
            db = sqlite3.connect(tmp)
            with db:
                db.executescript(_SCHEMA + _JOURNAL)
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        ("format", FORMAT),
                        ("generation", "0"),
                        ("changes_since", "0"),
                        ("high_water", "0"),
                    ],  # fmt: skip
                )
            db.close()
            os.replace(tmp, self.file)
        except (OSError, sqlite3.Error) as e:
            tmp.unlink(missing_ok=True)
            raise BadRequest(f"Cannot create a collection in {self.folder}: {e}") from None

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                db = sqlite3.connect(
                    f"{self.file.as_uri()}?mode=ro", uri=True, check_same_thread=False
                )
            else:
                db = sqlite3.connect(
                    self.file, timeout=10, isolation_level=None, check_same_thread=False
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            fmt = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.Error as e:
            raise BadRequest(f"{self.file} is not a collection catalogue: {e}.") from None
        if not fmt or fmt[0] != FORMAT:
            db.close()
            raise BadRequest(f"{self.file} is not an iscc-lab collection catalogue ({FORMAT}).")
        if not self.readonly:
            self._add_journal(db)
        return db

    def _add_journal(self, db: sqlite3.Connection) -> None:
        """Give a catalogue written without the whole change journal its journal, from now on
        (an index older than now is rebuilt once)."""
        if db.execute("SELECT 1 FROM meta WHERE key = 'high_water'").fetchone():
            return
        try:
            db.executescript(
                "BEGIN IMMEDIATE;"
                " INSERT OR REPLACE INTO meta SELECT 'changes_since', value FROM meta"
                " WHERE key = 'generation';"
                " INSERT OR REPLACE INTO meta VALUES ('high_water',"
                " CAST(coalesce((SELECT max(id) FROM items), 0) AS TEXT));"
                f" DROP TRIGGER IF EXISTS items_reinserted; {_JOURNAL} COMMIT;"
            )
        except sqlite3.Error:  # read-only files or busy: the index rebuilds whole, as before
            if db.in_transaction:
                db.execute("ROLLBACK")

    def close(self) -> None:
        with self._guard:
            self._db.close()
            self._unlock()

    # -- writing -------------------------------------------------------------------------------

    def check_writable(self) -> None:
        if self.readonly:
            raise BadRequest(f"The collection at {self.folder} is open read-only.")
        if not os.access(self.folder, os.W_OK) or not os.access(self.file, os.W_OK):
            raise BadRequest(f"The collection at {self.folder} is read-only.")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writer's lock: BadRequest at once when another process holds it."""
        self.check_writable()
        with self._guard:
            if self._lock_fd is not None:  # re-entered (add inside update)
                yield
                return
            fd = os.open(self.folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise BadRequest(
                    f"The collection at {self.folder} is locked: another process is updating it."
                ) from None
            self._lock_fd = fd
            try:
                yield
            finally:
                self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise self._refused(e) from None
            try:
                yield self._db
                self._db.execute(_HIGH_WATER)
                self._db.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                )
                self._db.execute("COMMIT")
            except BaseException as e:
                self._db.execute("ROLLBACK")
                if isinstance(e, sqlite3.OperationalError):
                    raise self._refused(e) from None
                raise

    def _refused(self, e: sqlite3.Error) -> BadRequest:
        text = str(e)
        if "readonly" in text or "read-only" in text:
            return BadRequest(f"The collection at {self.folder} is read-only ({text}).")
        if "locked" in text or "busy" in text:
            return BadRequest(f"The collection at {self.folder} is locked ({text}).")
        return BadRequest(f"The collection at {self.folder} refused the write: {text}.")

    def put(self, entries: Iterable[Entry]) -> None:
        """Insert or replace items (by key), in one transaction. A new item gets an id above
        every id given before (one replaced keeps its own)."""
        with self._transaction() as db:
            (top,) = db.execute(
                "SELECT max(coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                " WHERE key = 'high_water'), 0), coalesce((SELECT max(id) FROM items), 0))"
            ).fetchone()
            db.executemany(_UPSERT, ((top + i, *e) for i, e in enumerate(entries, 1)))

    def move(self, old: str, new: str) -> int:
        """Give the items under the folder `old` (absolute, no trailing separator) the same
        paths under `new`, in one transaction; returns how many moved. BadRequest (nothing
        written) when a new path is in the catalogue already."""
        n = len(old) + 1
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "UPDATE items SET key = :new || substr(key, :n),"
                    " path = :new || substr(path, :n),"
                    " row = json_set(row, '$.path', :new || substr(path, :n))"
                    " WHERE path IS NOT NULL AND key = path AND substr(path, 1, :n) = :prefix",
                    {"new": new, "n": n, "prefix": old + os.sep},
                )
                return cursor.rowcount
        except sqlite3.IntegrityError:
            raise BadRequest(
                f"Cannot move the items under {old} to {new}: some of their new paths are in "
                "the collection already (was the new folder updated too?). Nothing was changed."
            ) from None

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._transaction() as db:
            db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in ids])

    # -- reading -------------------------------------------------------------------------------

    def _read(self, sql: str, params=()) -> list:
        with self._guard:
            return self._db.execute(sql, params).fetchall()

    def __len__(self) -> int:
        return self._read("SELECT count(*) FROM items")[0][0]

    def generation(self) -> int:
        return int(self._read("SELECT value FROM meta WHERE key = 'generation'")[0][0])

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one read transaction: every read sees the same catalogue."""
        with self._guard:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    @staticmethod
    def _meta(db: sqlite3.Connection) -> dict[str, str]:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())

    def codes(self) -> tuple[int, list, list]:
        """(generation, ids, ISCCs) of every item in id order, from one snapshot."""
        with self._snapshot() as db:
            generation = int(self._meta(db)["generation"])
            pairs = db.execute("SELECT id, iscc FROM items ORDER BY id").fetchall()
        ids = [p[0] for p in pairs]
        codes = [p[1] for p in pairs]
        return generation, ids, codes

    def changes(self, since: int, after_id: int, limit: int) -> tuple[int, list, list] | None:
        """(generation, ids, ISCCs) in id order of the items written or removed after
        generation `since`, for an index of that generation whose largest id is `after_id`,
        from one snapshot; the ISCC of a removed item is `REMOVED`. None when the journal does
        not reach back to `since` (pruned, or a catalogue from before the journal) or more
        than `limit` items changed."""
        with self._snapshot() as db:
            meta = self._meta(db)
            generation = int(meta["generation"])
            if "high_water" not in meta or since < int(meta.get("changes_since", since + 1)):
                return None  # no journal, an incomplete one, or not reaching back to since
            if since > generation:
                return None  # an index of another catalogue under this folder's name
            changed = db.execute(
                "SELECT c.id, i.id IS NOT NULL, i.iscc FROM"
                " (SELECT DISTINCT id FROM changes WHERE gen > ? AND id <= ? LIMIT ?) c"
                " LEFT JOIN items i ON i.id = c.id ORDER BY c.id",
                (since, after_id, limit + 1),
            ).fetchall()
            if len(changed) <= limit:
                changed += db.execute(
                    "SELECT id, 1, iscc FROM items WHERE id > ? ORDER BY id LIMIT ?",
                    (after_id, limit + 1 - len(changed)),
                ).fetchall()
        if len(changed) > limit:
            return None
        ids = [r[0] for r in changed]
        codes = [r[2] if r[1] else REMOVED for r in changed]
        return generation, ids, codes

    def forget_changes(self, upto: int) -> None:
        """Drop the journal up to generation `upto` (an index of that generation is written).
        Best effort: a busy or read-only catalogue keeps its journal for now."""
        if self.readonly:
            return
        with self._guard:
            self._db.execute("PRAGMA busy_timeout=100")  # a writer at work: forget it later
            try:
                self._db.execute("BEGIN IMMEDIATE")
                meta = self._meta(self._db)
                if "changes_since" in meta and int(meta["changes_since"]) < upto:
                    if upto >= int(meta["generation"]):  # all of it: SQLite's quick truncate
                        self._db.execute("DELETE FROM changes")
                    else:
                        self._db.execute("DELETE FROM changes WHERE gen <= ?", (upto,))
                    self._db.execute(
                        "UPDATE meta SET value = ? WHERE key = 'changes_since'", (str(upto),)
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            finally:
                self._db.execute("PRAGMA busy_timeout=10000")

    def files(self) -> dict[str, tuple]:
        """{path: (id, size, mtime_ns)} of every item with a path."""
        rows = self._read("SELECT path, id, size, mtime_ns FROM items WHERE path IS NOT NULL")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def by_path(self, path: str) -> tuple | None:
        """(size, mtime_ns, iscc) of the item at `path`, or None."""
        found = self._read("SELECT size, mtime_ns, iscc FROM items WHERE key = ?", (path,))
        return found[0] if found else None

    def sizes(self) -> set[int]:
        """The sizes of the items that have a datahash (candidates for copies)."""
        rows = self._read("SELECT DISTINCT size FROM items WHERE datahash IS NOT NULL")
        return {r[0] for r in rows if r[0] is not None}

    def by_datahash(self, datahash: str) -> dict | None:
        """The row of an item with these bytes and no error, or None."""
        found = self._read(
            "SELECT row FROM items WHERE datahash = ? AND error IS NULL LIMIT 1", (datahash,)
        )
        return json.loads(found[0][0]) if found else None

    def rows(self, ids: list[int] | None = None) -> list[dict]:
        """The `batch()` rows of `ids` (in that order), or of every item in id order."""
        if ids is None:
            return [json.loads(r[0]) for r in self._read("SELECT row FROM items ORDER BY id")]
        found = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for i, row in self._read(f"SELECT id, row FROM items WHERE id IN ({marks})", part):
                found[i] = json.loads(row)
        return [found[i] for i in ids]

    def paths_and_codes(self, ids: list[int] | None = None) -> list[tuple]:
        """(id, path, iscc) of `ids` (in that order), or of every item in id order."""
        if ids is None:
            return self._read("SELECT id, path, iscc FROM items ORDER BY id")
        found = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for r in self._read(f"SELECT id, path, iscc FROM items WHERE id IN ({marks})", part):
                found[r[0]] = r
        return [found[i] for i in ids]

    def inventory_rows(self) -> list[tuple]:
        """(id, path, filename, mediatype, filesize, datahash) of every item in id order: what
        `inventory()` needs besides the units, without the rest of the rows (SQLite's JSON)."""
        return self._read(
            "SELECT id, path, json_extract(row, '$.filename'), json_extract(row, '$.mediatype'),"
            " coalesce(json_extract(row, '$.filesize'), size), datahash FROM items ORDER BY id"
        )

    def integrity(self) -> str:
        return self._read("PRAGMA integrity_check")[0][0]
