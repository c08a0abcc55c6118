"""`Collection`: a persistent, incrementally updated catalogue of ISCCs with exact similarity
search and near-duplicate groups, in one folder.

    col = iscc_lab.Collection("my-archive.isccs")   # created if missing
    col.update("/data/archive")                     # only new and changed files are processed
    col.search("photo.jpg", k=5)                    # the nearest items, by Content-Code bits
    col.near_duplicates(threshold=12)               # groups, as iscc_lab.near_duplicates

The folder holds `catalogue.sqlite` (see `catalogue`) and `index/` (see `index`). Paths are
stored absolute, so a collection means the same from any working directory; `relocate(old,
new)` follows an archive that moved or is mounted elsewhere.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from iscc_lab import hamming
from iscc_lab.analysis import DEFAULT_THRESHOLD
from iscc_lab.batch import iter_rows
from iscc_lab.batch.paths import collect_paths
from iscc_lab.batch.rows import COLUMNS, UNIT_TYPES, string_dtype, to_frame
from iscc_lab.collection.catalogue import Catalogue, entry
from iscc_lab.collection.index import Index
from iscc_lab.errors import BadRequest
from iscc_lab.explain import normalize
from iscc_lab.settings import Settings

__all__ = ["Collection"]

_ROW_KEYS = (*COLUMNS, *UNIT_TYPES, "features", "thumbnail", "error")
_SEARCH_COLUMNS = ("query", "rank", "path", "iscc", "distance")
_HASH_CHUNK = 1 << 20


def _datahash(path: str) -> str:
    """The datahash of a file as ISCC results give it: the BLAKE3 multihash of its bytes."""
    import blake3

    h = blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return "1e20" + h.hexdigest()


def _name_from_filename(row: dict) -> bool:
    """Did iscc-sdk take the row's `name` (and so its Meta-Code) from its filename? Then a copy
    under another name gets another Meta-Code and must be processed."""
    if not row.get("name") or not row.get("path"):
        return False
    from iscc_sdk.text import text_name_from_uri

    return row["name"] == text_name_from_uri(row["path"])


@lru_cache(maxsize=1)
def _dtypes():
    """The dtypes of search results, resolved once (pandas parses a dtype name each time)."""
    import pandas as pd

    return pd.api.types.pandas_dtype(string_dtype()), pd.Int64Dtype()


def _check_bits(bits):
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits <= 0 or bits % 8:
        raise BadRequest("bits must be a positive multiple of 8 (or None: the common length).")
    return int(bits)


def _check_on(on) -> tuple[str, ...]:
    on = (on,) if isinstance(on, str) else tuple(on)
    unknown = [t for t in on if t not in UNIT_TYPES]
    if not on or unknown:
        raise BadRequest(f"on: expected unit types out of {', '.join(UNIT_TYPES)}, got {on!r}.")
    return on


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA raise or compare unequal
    except (TypeError, ValueError):
        return True


def _canonical(code: str) -> str:
    """The code as the catalogue keeps it: `ISCC:` and upper-case base32."""
    if code.startswith("ISCC:") and code[5:].isalnum() and code[5:].isupper():
        return code
    return normalize(code)


class Collection:
    """A folder holding a catalogue of ISCCs (SQLite) and its search index.

    :param path: the collection's folder: created when missing; an empty folder becomes a new
        collection; any other folder without a catalogue is refused (BadRequest), so that a
        media folder is never mistaken for one.
    :param readonly: open for reading only (search, frame): writes raise BadRequest.
    """

    def __init__(self, path, *, readonly: bool = False):
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise BadRequest("Collection() needs the path of a folder.")
        self.path = Path(os.path.abspath(Path(path).expanduser()))
        self._catalogue = Catalogue(self.path, readonly=readonly)
        self._index = Index(self._catalogue)

    # -- the basics ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._catalogue)

    def __repr__(self) -> str:
        return f"Collection({str(self.path)!r}): {len(self)} items"

    def close(self) -> None:
        self._catalogue.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check` of the catalogue: 'ok' when it is sound."""
        return self._catalogue.integrity()

    # -- writing -------------------------------------------------------------------------------

    def update(
        self,
        source,
        *,
        workers: int | None = None,
        semantic: bool | None = None,
        granular: bool | None = None,
        progress: bool = True,
        client=None,
        settings: Settings | None = None,
    ):
        """Bring the collection up to date with `source`, processing only what changed.

        :param source: as in `batch()`: a folder (recursive), a glob, a file, a list or Series
            of paths.
        :return: `batch()`'s frame of the rows this call added or changed (paths absolute),
            in path order. `frame.attrs["summary"]` counts them: `new`, `changed`, `copied`
            (new paths whose bytes were in the collection, moved or copied files: their row
            without content extraction; so is a changed file whose bytes are the same),
            `failed` (rows with an `error`), `unchanged` (same size and
            modification time: skipped) and `removed` (gone from a scanned folder, or listed
            and missing: dropped from the catalogue).

        Each file's row is committed as it finishes: an interrupt or a killed process loses
        at most the files in flight, and the next `update()` goes on from there.
        """
        if workers is not None and int(workers) < 1:
            raise BadRequest("workers must be at least 1.")
        paths, _ = collect_paths(source)
        folder = None
        if isinstance(source, (str, os.PathLike)) and Path(source).expanduser().is_dir():
            folder = os.path.abspath(Path(source).expanduser())
        cat = self._catalogue
        with cat.writing():
            known = cat.files()
            order, seen, todo, removed = [], set(), [], []
            summary = dict.fromkeys(("new", "changed", "copied", "failed", "unchanged"), 0)
            own = str(self.path) + os.sep  # a collection inside the scanned folder: not media
            for p in paths:
                if p is None:
                    continue
                key = os.path.abspath(p)
                if key in seen or key.startswith(own):
                    continue
                seen.add(key)
                before = known.get(key)
                try:
                    st = os.stat(key)
                except OSError:
                    if before:
                        removed.append(before[0])
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if before and (before[1], before[2]) == (st.st_size, st.st_mtime_ns):
                    summary["unchanged"] += 1
                    continue
                order.append(key)
                todo.append((key, st.st_size, st.st_mtime_ns, before is not None))
            if folder is not None:
                prefix = folder.rstrip(os.sep) + os.sep
                removed += [
                    v[0] for k, v in known.items() if k.startswith(prefix) and k not in seen
                ]
            done: dict = {}
            process = self._copies(todo, done, summary)
            rows = iter_rows(
                [t[0] for t in process], workers=workers, semantic=semantic, granular=granular,
                settings=settings, progress=progress, client=client,
            )  # fmt: skip
            try:
                for pos, row in rows:
                    key, size, mtime_ns, existed = process[pos]
                    cat.put([entry(key, row, size, mtime_ns)])
                    done[key] = row
                    summary["changed" if existed else "new"] += 1
                    summary["failed"] += row.get("error") is not None
            finally:
                rows.close()
            cat.remove(removed)
        summary["removed"] = len(removed)
        frame = to_frame([done[k] for k in sorted(order) if k in done], granular=bool(granular))
        frame.attrs["summary"] = summary
        return frame

    def relocate(self, old, new) -> int:
        """The files under the folder `old` are now under `new` (the archive was moved, or is
        mounted elsewhere): give their items the same paths under `new`, in one transaction.
        Nothing is read or recomputed; the next `update(new)` finds them unchanged.

        :return: the number of items moved.
        :raises BadRequest: when `new` is not a folder, or a new path is in the collection
            already; then nothing is changed.
        """
        for name, value in (("old", old), ("new", new)):
            if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
                raise BadRequest(f"relocate(): {name} must be the path of a folder.")
        old_path = os.path.abspath(Path(old).expanduser())
        new_path = os.path.abspath(Path(new).expanduser())
        if not os.path.isdir(new_path):
            raise BadRequest(f"relocate(): {new_path} is not a folder.")
        if old_path == new_path:
            return 0
        with self._catalogue.writing():
            return self._catalogue.move(old_path.rstrip(os.sep), new_path.rstrip(os.sep))

    def _copies(self, todo: list, done: dict, summary: dict) -> list:
        """Give files whose bytes are already in the catalogue their row (with their own path
        and filename) without extraction; return the files still to process."""
        cat = self._catalogue
        sizes = cat.sizes()
        process = []
        for item in todo:
            key, size, mtime_ns, existed = item
            if size in sizes:
                try:
                    row = cat.by_datahash(_datahash(key))
                except OSError:
                    row = None
                if row is not None and (
                    Path(row["path"] or "").name == Path(key).name or not _name_from_filename(row)
                ):
                    row = dict(row, path=key, filename=Path(key).name)
                    cat.put([entry(key, row, size, mtime_ns)])
                    done[key] = row
                    summary["changed" if existed else "copied"] += 1
                    continue
            process.append(item)
        return process

    def add(self, rows) -> int:
        """Add `batch()` rows, or ISCC codes made elsewhere, in one transaction.

        :param rows: a `batch()` frame (items keyed by their path, made absolute; rows without
            a path by their ISCC), or an ISCC, or a list or Series of ISCCs (keyed by the code).
            An item whose key is in the collection is replaced.
        :return: the number of items written.
        :raises BadRequest: on a code that is not an ISCC; then nothing is written.
        """
        import pandas as pd

        if isinstance(rows, pd.DataFrame):
            records = self._records(rows)
        else:
            if isinstance(rows, str):
                values = [rows]
            elif isinstance(rows, pd.Series):
                values = rows.tolist()
            elif isinstance(rows, Iterable) and not isinstance(rows, (bytes, Mapping)):
                values = list(rows)
            else:
                raise BadRequest(
                    "add() takes a batch() DataFrame, an ISCC, or a list or Series of ISCCs."
                )
            codes = [None if _is_missing(v) else v for v in values]
            if any(c is None for c in codes):
                raise BadRequest("add(): a code is missing (None or NA).")
            if not all(isinstance(c, str) for c in codes):
                raise BadRequest("add(): codes must be strings (ISCC:...).")
            hamming.decode(codes, ())  # validates every code, raises on the first bad one
            codes = [_canonical(c) for c in codes]
            records = [(c, None, {"iscc": c}) for c in codes]
        entries = []
        for key, path, row in records:
            size = mtime_ns = None
            if path is not None:
                try:
                    st = os.stat(path)
                    size, mtime_ns = st.st_size, st.st_mtime_ns
                except OSError:
                    pass
            entries.append(entry(key, row, size, mtime_ns))
        with self._catalogue.writing():
            self._catalogue.put(entries)
        return len(entries)

    @staticmethod
    def _records(frame) -> list:
        if "iscc" not in frame.columns:
            raise BadRequest("add() needs a DataFrame with an 'iscc' column (from batch()).")
        columns = [c for c in _ROW_KEYS if c in frame.columns]
        records = []
        codes = []
        for values in frame[columns].itertuples(index=False, name=None):
            row = {c: (None if _is_missing(v) else v) for c, v in zip(columns, values, strict=True)}
            for c in ("filesize", "width", "height"):
                if row.get(c) is not None:
                    row[c] = int(row[c])
            if row.get("duration") is not None:
                row["duration"] = float(row["duration"])
            code = row.get("iscc")
            if code is not None:
                codes.append(code)
            if row.get("path"):
                row["path"] = os.path.abspath(row["path"])
                row["filename"] = Path(row["path"]).name
                records.append((row["path"], row["path"], row))
            elif code is not None:
                records.append((code, None, row))
            else:
                raise BadRequest("add(): a row has neither a path nor an ISCC.")
        hamming.decode(codes, ())
        for _key, _path, row in records:
            if row.get("iscc") is not None:
                row["iscc"] = _canonical(row["iscc"])
        return [(row["path"] or row["iscc"], path, row) for _key, path, row in records]

    # -- reading -------------------------------------------------------------------------------

    def frame(self):
        """Every item as `batch()`'s frame (paths absolute), in the order they were added."""
        rows = self._catalogue.rows()
        granular = any(r.get("features") is not None for r in rows)
        return to_frame(rows, granular=granular)

    def _query_code(self, item) -> tuple[str, str | None]:
        """(the query as shown, its ISCC) of a path or a code."""
        if isinstance(item, os.PathLike) or (
            isinstance(item, str) and not item.upper().startswith("ISCC") and os.path.isfile(item)
        ):
            return os.fspath(item), self._code_of_file(os.fspath(item))
        if isinstance(item, str):
            try:
                return item, item if item.startswith("ISCC:") else normalize(item)
            except BadRequest as e:
                raise BadRequest(
                    f"The query {item[:80]!r} is neither a file nor an ISCC: {e}"
                ) from None
        raise BadRequest(f"A query is a path or an ISCC, not {type(item).__name__}.")

    def _code_of_file(self, path: str) -> str | None:
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except OSError as e:
            raise BadRequest(f"Cannot read the query file {path}: {e.strerror}.") from None
        before = self._catalogue.by_path(key)
        if before and (before[0], before[1]) == (st.st_size, st.st_mtime_ns) and before[2]:
            return before[2]
        try:
            row = self._catalogue.by_datahash(_datahash(key))
        except OSError as e:
            raise BadRequest(f"Cannot read the query file {path}: {e.strerror}.") from None
        if row is not None:
            return row.get("iscc")
        from iscc_lab.generate import create_iscc

        return create_iscc(key).get("iscc")

    def search(self, query, *, k: int = 10, on: str = "content", bits: int | None = 64):
        """The `k` items nearest to each query, exactly (the same as a brute-force scan).

        :param query: a path (its ISCC is taken from the catalogue when the file is known and
            unchanged, else computed), an ISCC, or a list or Series of them.
        :param k: how many items per query (at least 1).
        :param on: the unit type compared: meta, semantic, content (default), data, instance.
        :param bits: compare on at most the first `bits` bits of the units (default 64, as
            `near_duplicates`), over the common length of two units; None: the common length.
        :return: columns `query`, `rank` (1, 2, ...), `path`, `iscc` and `distance` (bits),
            ordered by query, then by distance, then by the order items were added. Items
            without a comparable unit (another sub type, e.g. an image for a text) are not
            matched.
        """
        import pandas as pd

        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise BadRequest(f"k must be a whole number of at least 1, got {k!r}.")
        if on not in UNIT_TYPES:
            raise BadRequest(f"on: expected one of {', '.join(UNIT_TYPES)}, got {on!r}.")
        bits = _check_bits(bits)
        if isinstance(query, pd.Series):
            items = query.tolist()
        elif isinstance(query, (str, os.PathLike)):
            items = [query]
        elif isinstance(query, Iterable) and not isinstance(query, (bytes, Mapping)):
            items = list(query)
        else:
            raise BadRequest("search() takes a path, an ISCC, or a list or Series of them.")
        shown, codes = (
            zip(*(self._query_code(q) for q in items), strict=True) if items else ((), ())
        )
        queries = hamming.decode(list(codes), (on,))[on]
        ids, units = self._index.get((on,))
        found = hamming.nearest(units[on], queries, int(k), bits)
        positions = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64)
        details = self._catalogue.paths_and_codes(ids[positions].tolist())
        text, whole = _dtypes()
        data = {
            "query": [s for s, f in zip(shown, found, strict=True) for _ in range(len(f[0]))],
            "rank": [r + 1 for f in found for r in range(len(f[0]))],
            "path": [d[1] for d in details],
            "iscc": [d[2] for d in details],
            "distance": [int(x) for f in found for x in f[1]],
        }
        return pd.DataFrame(
            {
                "query": pd.array(data["query"], dtype=text),
                "rank": pd.array(data["rank"], dtype=whole),
                "path": pd.array(data["path"], dtype=text),
                "iscc": pd.array(data["iscc"], dtype=text),
                "distance": pd.array(data["distance"], dtype=whole),
            },
            columns=list(_SEARCH_COLUMNS),
        )

    def near_duplicates(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        on: str | Iterable[str] = ("content",),
        *,
        bits: int | None = 64,
    ):
        """Groups of similar items, as `iscc_lab.near_duplicates` makes them, over the whole
        collection from its index (no row but path and ISCC is read).

        :return: columns `path`, `iscc` and `group` (Int64: 0, 1, ... by each group's first
            item; NA for an item without a near duplicate), one row per item in the order
            they were added.
        """
        import pandas as pd

        on = _check_on(on)
        if threshold < 0:
            raise BadRequest("threshold must be at least 0.")
        bits = _check_bits(bits)
        ids, units = self._index.get(on)
        roots = hamming.components(len(ids), hamming.near_pairs(units, on, int(threshold), bits))
        groups = hamming.group_ids(roots)
        details = self._catalogue.paths_and_codes()
        if len(details) != len(ids) or any(
            d[0] != i for d, i in zip(details, ids.tolist(), strict=True)
        ):
            details = self._catalogue.paths_and_codes(ids.tolist())  # changed meanwhile
        text = string_dtype()
        group = pd.array(groups, dtype="Int64")
        group[groups < 0] = pd.NA
        return pd.DataFrame(
            {
                "path": pd.array([d[1] for d in details], dtype=text),
                "iscc": pd.array([d[2] for d in details], dtype=text),
                "group": group,
            }
        )

    def inventory(
        self,
        *,
        content_threshold: int = 10,
        data_threshold: int = 0,
        bits: int | None = 64,
    ):
        """The duplicate inventory of the collection, as `iscc_lab.inventory` makes it of a
        frame: the units from the index, and only path, filename, mediatype, filesize and
        datahash from the catalogue (the instance level compares whole datahashes).

        :return: an `Inventory`, one row per item in the order they were added.
        """
        import pandas as pd

        from iscc_lab.duplicates import inventory_of

        ids, units = self._index.get(("instance", "data", "content"))
        found = {r[0]: r for r in self._catalogue.inventory_rows()}
        keep = np.array([i in found for i in ids.tolist()], dtype=bool)  # none removed meanwhile
        if not keep.all():
            units = {t: u.take(np.flatnonzero(keep)) for t, u in units.items()}
        rows = [found[i] for i in ids[keep].tolist()]
        text = string_dtype()
        files = pd.DataFrame(
            {
                "path": pd.array([r[1] for r in rows], dtype=text),
                "filename": pd.array([r[2] for r in rows], dtype=text),
                "mediatype": pd.array([r[3] for r in rows], dtype=text),
                "filesize": pd.array([r[4] for r in rows], dtype="Int64"),
                "datahash": pd.array([r[5] for r in rows], dtype=text),
            }
        )
        return inventory_of(
            files, units, content_threshold=content_threshold, data_threshold=data_threshold,
            bits=bits,
        )  # fmt: skip
