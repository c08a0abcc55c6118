"""ISCCs of media collections as pandas DataFrames: `batch()`, `explain_frame()`, `compare()`,
`near_duplicates()`.

`batch()` runs `iscc_lab.generate.create_iscc` over many files on all cores (a process pool with
the "spawn" start method, so it is safe in notebooks, threads and on every OS) and collects the
contract's ISCC JSON into one row per file. The analysis verbs work on ISCC codes (strings, lists,
Series or frames with an `iscc` column) and compare units the way iscc-core's `iscc_compare`
does: units of the same main type, sub type and version, by the Hamming distance of their
hashes; units of different lengths on their common prefix of bits.

pandas and numpy are imported by the functions that need them, not by this module: the worker
processes of `batch()` import this module for `_work` and start faster without them.
"""

from __future__ import annotations

import glob as _glob
import multiprocessing
import os
import signal
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import iscc_core as ic

from iscc_lab.errors import BadRequest, IsccLabError
from iscc_lab.explain import explain, normalize
from iscc_lab.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "DEFAULT_THRESHOLD",
    "UNIT_TYPES",
    "batch",
    "collect_paths",
    "compare",
    "explain_frame",
    "near_duplicates",
]

#: The unit types, in the order of their columns (iscc-core's main types, lower case).
UNIT_TYPES = ("meta", "semantic", "content", "data", "instance")
_MT_NAMES = {
    ic.MT.META: "meta",
    ic.MT.SEMANTIC: "semantic",
    ic.MT.CONTENT: "content",
    ic.MT.DATA: "data",
    ic.MT.INSTANCE: "instance",
}
#: The columns of a `batch()` frame before the unit columns.
COLUMNS = (
    "path", "filename", "iscc", "mode", "mediatype", "filesize", "name", "width", "height",
    "duration", "datahash", "metahash",
)  # fmt: skip
_INTS = ("filesize", "width", "height")
_FLOATS = ("duration",)
#: Default of `near_duplicates(threshold=...)`: at most 12 differing bits out of 64 (~19 %).
DEFAULT_THRESHOLD = 12
_SORT_LIMIT = 100_000  # submit the largest files first up to this many files
_PAIR_CHUNK = 1 << 20  # pairs compared at once (bounds the memory of compare/near_duplicates)


def _pd():
    """pandas, with the df.iscc accessor registered."""
    import pandas

    from iscc_lab import accessor  # noqa: F401 - registers df.iscc

    return pandas


def _np():
    import numpy

    return numpy


@lru_cache(maxsize=1)
def _popcount():
    np = _np()
    return np.array([i.bit_count() for i in range(256)], dtype=np.uint16)


@lru_cache(maxsize=1)
def _str():
    """The dtype of string columns: pandas 3's `str`, object before."""
    return "str" if int(_pd().__version__.split(".")[0]) >= 3 else object


# --------------------------------------------------------------------------------------------
# batch()
# --------------------------------------------------------------------------------------------


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(folder: Path) -> list[Path]:
    """Regular files under `folder` (symlinks are not followed), hidden files and folders
    skipped, sorted."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not _hidden(d)]
        for name in files:
            if _hidden(name):
                continue
            path = Path(root) / name
            try:
                if stat.S_ISREG(os.lstat(path).st_mode):
                    found.append(path)
            except OSError:
                continue
    return sorted(found)


def _is_glob(text: str) -> bool:
    return _glob.has_magic(text)


def collect_paths(source) -> tuple[list, pd.Index | None]:
    """The paths of `source` in row order, and the index of the rows (None: a RangeIndex).

    `source` is a folder (walked recursively, regular files only, hidden files and folders
    skipped, sorted), a glob pattern (`**` recurses; matches sorted, folders dropped), a single
    file, a list (or other iterable) of paths, or a pandas Series of paths (its index is kept).
    Items of a list or Series are used as given: a missing file gives an error row.
    """
    pd = _pd()
    if isinstance(source, pd.DataFrame):
        if "path" not in source.columns:
            raise BadRequest("A DataFrame source needs a 'path' column.")
        source = source["path"]
    if isinstance(source, pd.Series):
        return [_as_path(p) for p in source.tolist()], source.index
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_dir():
            return _walk(path), None
        if path.is_file():
            return [path], None
        if isinstance(source, str) and _is_glob(text):
            matches = _glob.glob(os.path.expanduser(text), recursive=True)
            return sorted(Path(m) for m in matches if os.path.isfile(m)), None
        raise BadRequest(f"No file, folder or glob match at {text}.")
    if isinstance(source, (bytes, bytearray)) or not isinstance(source, Iterable):
        raise BadRequest(
            "batch() takes a folder, a glob pattern, a list of paths or a Series of paths, "
            f"not {type(source).__name__}."
        )
    return [_as_path(p) for p in source], None


def _as_path(item) -> Path | None:
    if isinstance(item, (str, os.PathLike)) and os.fspath(item):
        return Path(item)
    return None


def _message(e: BaseException) -> str:
    """An error as a row's `error`: our own messages as they are, others with their type."""
    if isinstance(e, IsccLabError):
        return str(e)
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _work(path, semantic: bool | None, granular: bool, settings: Settings | None):
    """One file's ISCC (a dict without granular features unless asked) or its error message.

    Runs in a worker process (or in-process for workers=1); returns, never raises an
    Exception, so that one bad file does not stop the batch.
    """
    from iscc_lab.generate import create_iscc

    if path is None:
        return "No path given."
    try:
        result = create_iscc(path, semantic=semantic, granular=granular, settings=settings)
    except Exception as e:
        return _message(e)
    if not granular:
        result.pop("features", None)
    return result


class _Terminated(BaseException):
    """Raised in a worker by SIGTERM during a job, so that `finally` blocks (temporary folders,
    tool subprocesses) clean up before the worker exits."""


_busy = False  # a worker is inside a job


def _on_sigterm(signum, frame):
    if _busy:
        raise _Terminated()
    os._exit(128 + signum)  # idle or between jobs: nothing to clean up


def _init_worker() -> None:
    """Worker set-up: interrupts are the parent's business (it cancels and terminates the
    pool), SIGTERM unwinds the current job before exiting."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _work_in_worker(path, semantic, granular, settings):
    global _busy
    try:
        _busy = True
        try:
            from iscc_lab.generate import private_tempdir

            with private_tempdir():
                return _work(path, semantic, granular, settings)
        finally:
            _busy = False
    except _Terminated:
        os._exit(128 + signal.SIGTERM)


def _submit_order(paths: list) -> list[int]:
    """Largest files first (the longest jobs do not end up last), for lists up to _SORT_LIMIT;
    the rows keep the input order regardless."""
    order = list(range(len(paths)))
    if len(paths) > _SORT_LIMIT:
        return order

    def size(i):
        try:
            return os.stat(paths[i]).st_size if paths[i] is not None else 0
        except OSError:
            return 0

    return sorted(order, key=size, reverse=True)


def _stop_pool(pool: ProcessPoolExecutor, futures) -> None:
    """Cancel what has not started, shut the pool down and end its processes now."""
    for f in futures:
        f.cancel()
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 5
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():  # pragma: no cover - a worker stuck in C code
            p.kill()
            p.join(1)
    if manager is not None:  # it notices the ended workers, reaps them and exits
        manager.join(max(0.1, deadline - time.monotonic()))


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )


def _run(
    paths: list,
    *,
    workers: int,
    semantic: bool | None,
    granular: bool,
    settings: Settings | None,
    on_result: Callable[[int, object], None],
    work: Callable = _work_in_worker,
) -> None:
    """Compute every path's outcome, calling `on_result(index, outcome)` as each one ends.

    workers=1 runs in this process. Otherwise a spawn process pool gets at most 2*workers jobs
    at a time (largest files first). On any exception or interrupt (also one raised by
    `on_result`) the pending jobs are cancelled, the worker processes terminated, and the
    exception re-raised.

    A worker that dies (a crash in a native library, the OOM killer) breaks the pool and every
    job in it: the pool is replaced, and the jobs that were in flight are run again one at a
    time, so that only the file that kills its worker gets an error.
    """
    if workers <= 1 or len(paths) <= 1:
        for i, path in enumerate(paths):
            on_result(i, _work(path, semantic, granular, settings))
        return
    order = iter(_submit_order(paths))
    suspects: deque = deque()  # in flight when a worker died: rerun alone
    pending: dict = {}  # future -> (index, alone)
    state = {"pool": _new_pool(workers), "broken": False, "breaks": 0}

    def submit(i: int, alone: bool) -> bool:
        try:
            future = state["pool"].submit(work, paths[i], semantic, granular, settings)
        except BrokenProcessPool:  # broke since the last look: run this one again later
            suspects.appendleft(i)
            state["broken"] = True
            return False
        pending[future] = (i, alone)
        return True

    def fill() -> None:
        if suspects:
            if not pending:
                submit(suspects.popleft(), True)
            return
        for i in order:
            if not submit(i, False) or len(pending) >= 2 * workers:
                break

    def replace_pool() -> None:
        suspects.extend(i for i, _ in pending.values())
        _stop_pool(state["pool"], list(pending))
        pending.clear()
        state["breaks"] += 1
        if state["breaks"] >= 3:
            raise BrokenProcessPool(
                "The ISCC worker processes keep dying before finishing a file (see the log). "
                "In a script, is the batch() call under `if __name__ == '__main__':`?"
            )
        state["pool"], state["broken"] = _new_pool(workers), False

    try:
        while True:
            if state["broken"]:
                replace_pool()
            fill()
            if state["broken"]:
                continue
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i, alone = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    state["broken"] = True
                    if not alone:
                        suspects.append(i)
                        continue
                    outcome = (
                        "The ISCC worker process died on this file (a crash or out of memory)."
                    )
                except Exception as e:  # e.g. a result that could not be sent back
                    outcome = _message(e)
                else:
                    state["breaks"] = 0
                on_result(i, outcome)
    except BaseException:
        _stop_pool(state["pool"], list(pending))
        raise
    else:
        state["pool"].shutdown(wait=True)


def _unit_columns(units) -> dict:
    """{unit type: unit} for the units of a result."""
    found = {}
    for unit in units or ():
        try:
            name = _MT_NAMES.get(ic.Code(unit).maintype)
        except Exception:
            continue
        if name and name not in found:
            found[name] = unit if str(unit).startswith("ISCC:") else f"ISCC:{unit}"
    return found


def _frame(paths: list, outcomes: list, index, granular: bool) -> pd.DataFrame:
    pd, np = _pd(), _np()
    rows = []
    for path, outcome in zip(paths, outcomes):
        row = dict.fromkeys(COLUMNS)
        row["path"] = None if path is None else str(path)
        row["filename"] = None if path is None else Path(path).name
        if isinstance(outcome, dict):
            for key in COLUMNS[1:]:
                if outcome.get(key) is not None:
                    row[key] = outcome[key]
            row.update(_unit_columns(outcome.get("units")))
            row["features"] = outcome.get("features")
            row["thumbnail"] = outcome.get("thumbnail")
            row["error"] = None
        else:
            row["error"] = str(outcome)
        rows.append(row)
    present = [t for t in UNIT_TYPES if any(r.get(t) for r in rows)]
    columns = [*COLUMNS, *present, *(["features"] if granular else []), "thumbnail", "error"]
    data = {}
    for col in columns:
        values = [r.get(col) for r in rows]
        if col in _INTS:
            data[col] = pd.array(values, dtype="Int64")
        elif col in _FLOATS:
            data[col] = pd.array([np.nan if v is None else float(v) for v in values], "float64")
        elif col == "features":
            data[col] = pd.array(values, dtype=object)
        else:
            data[col] = pd.array(values, dtype=_str())
    return pd.DataFrame(data, columns=columns, index=index)


def batch(
    source,
    *,
    workers: int | None = None,
    semantic: bool | None = None,
    granular: bool | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    client=None,
) -> pd.DataFrame:
    """The ISCCs of many files as a DataFrame, one row per file, in input order.

    :param source: a folder (recursive; regular files only, hidden files and folders skipped;
        rows in sorted path order), a glob pattern (`"photos/**/*.jpg"`), a single file, a list
        of paths or a pandas Series of paths (the frame keeps the Series' index).
    :param workers: processes to use (default: all cores); 1 runs in this process.
    :param semantic: add the experimental Semantic-Code (default: ISCC_SDK_EXPERIMENTAL).
    :param granular: keep granular features in a `features` column. Off unless True: the
        frame has no other place for them and they are heavy to move between processes.
    :param progress: show a progress bar (a widget in notebooks, text in terminals).
    :param settings: the settings to use (default: from the environment).
    :param client: a `dask.distributed.Client`: run on its cluster instead of local processes
        (see `iscc_lab.distributed`; the result is the same frame).
    :return: columns path, filename, iscc, mode, mediatype, filesize, name, width, height,
        duration, datahash, metahash, one column per unit type present (meta, semantic,
        content, data, instance: the 256-bit unit codes of the result's `units`), thumbnail
        (a data URL) and error. A file that fails has its message in `error` (and NA in the
        other result columns); the rest of the batch goes on.

    Interrupting (Ctrl-C, the notebook's stop button) cancels the pending files, terminates
    the worker processes and re-raises KeyboardInterrupt.
    """
    from tqdm.auto import tqdm

    if client is not None:
        from iscc_lab.distributed import batch_on_client

        return batch_on_client(
            client, source, semantic=semantic, granular=granular, progress=progress, settings=settings
        )
    paths, index = collect_paths(source)
    settings = settings or get_settings()
    granular = bool(granular)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise BadRequest("workers must be at least 1.")
    workers = min(workers, max(1, len(paths)))
    outcomes: list = [None] * len(paths)
    with tqdm(total=len(paths), disable=not progress, unit="file", desc="ISCC") as bar:

        def on_result(i, outcome):
            outcomes[i] = outcome
            bar.update(1)

        _run(
            paths,
            workers=workers,
            semantic=semantic,
            granular=granular,
            settings=settings,
            on_result=on_result,
        )
    return _frame(paths, outcomes, index, granular)


# --------------------------------------------------------------------------------------------
# Codes in, units out
# --------------------------------------------------------------------------------------------


def _is_missing(value) -> bool:
    pd = _pd()
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _codes(source, name: str = "codes") -> tuple[list, pd.Index]:
    """The codes (None where missing) and row labels of a code, list, Series or frame."""
    pd = _pd()
    if isinstance(source, pd.DataFrame):
        if "iscc" not in source.columns:
            raise BadRequest(f"{name}: a DataFrame needs an 'iscc' column.")
        source = source["iscc"]
    if isinstance(source, pd.Series):
        values = source.tolist()
        index = source.index
    elif isinstance(source, str):
        values, index = [source], pd.RangeIndex(1)
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        values = list(source)
        index = pd.RangeIndex(len(values))
    else:
        raise BadRequest(f"{name}: expected an ISCC, a list or Series of ISCCs or a DataFrame.")
    return [None if _is_missing(v) else str(v) for v in values], index


@lru_cache(maxsize=65536)
def _parse(code: str) -> tuple[str, dict]:
    """(normalized code, {unit type: (main type, sub type, version), hash bytes)})."""
    norm = normalize(code)
    units = {}
    try:
        for unit in ic.iscc_decompose(norm):
            c = ic.Code(unit)
            name = _MT_NAMES.get(c.maintype)
            if name and name not in units:
                units[name] = ((int(c.maintype), int(c.subtype), int(c.version)), c.hash_bytes)
    except Exception as e:
        raise BadRequest(f"Invalid ISCC {code[:80]!r}: {e or type(e).__name__}") from None
    return norm, units


def explain_frame(codes) -> pd.DataFrame:
    """One row per unit of each code: code, unit, unit_type, readable, hash_hex, bits.

    :param codes: an ISCC, a list or Series of ISCCs, or a frame with an `iscc` column.
        ISCC-CODEs are decomposed into their units; missing values are skipped.
    :return: `code` (the normalized input), `unit` (the unit's `ISCC:` code), `unit_type`
        (meta, semantic, content, data, instance; iscc, id or flake for other main types),
        `readable` (e.g. META-NONE-V0-64-c8a70639eb1167b3), `hash_hex` and `bits` (the hash's
        length in bits).
    """
    pd = _pd()
    values, _ = _codes(codes)
    rows = []
    for code in values:
        if code is None:
            continue
        info = explain(code)
        for unit in info["units"]:
            c = ic.Code(unit["iscc_unit"])
            rows.append(
                {
                    "code": info["iscc"],
                    "unit": unit["iscc_unit"],
                    "unit_type": ic.MT(c.maintype).name.lower(),
                    "readable": unit["readable"],
                    "hash_hex": unit["hash_hex"],
                    "bits": len(unit["hash_bits"]),
                }
            )
    columns = ["code", "unit", "unit_type", "readable", "hash_hex", "bits"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns[:-1]:
        frame[col] = frame[col].astype(_str())
    frame["bits"] = frame["bits"].astype("Int64")
    return frame


# --------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------


class _Units:
    """The units of one unit type over a list of codes, as arrays for vectorized distances."""

    def __init__(self, parsed: list, unit_type: str, kinds: dict):
        np = _np()
        n = len(parsed)
        self.kind = np.full(n, -1, dtype=np.int64)  # -1: the code has no such unit
        self.nbytes = np.zeros(n, dtype=np.int64)
        found = [p[1].get(unit_type) if p else None for p in parsed]
        width = max((len(f[1]) for f in found if f), default=1)
        self.hashes = np.zeros((n, width), dtype=np.uint8)
        for i, f in enumerate(found):
            if f:
                self.kind[i] = kinds.setdefault(f[0], len(kinds))
                self.nbytes[i] = len(f[1])
                self.hashes[i, : len(f[1])] = np.frombuffer(f[1], dtype=np.uint8)


def _distances(ua: _Units, ub: _Units, ia, ib, nbytes: int | None):
    """Hamming distances of pairs (ia[k], ib[k]) on their common prefix (and at most `nbytes`
    bytes), and a mask of the comparable pairs (both have the unit, same kind)."""
    np = _np()
    ok = (ua.kind[ia] >= 0) & (ua.kind[ia] == ub.kind[ib])
    common = np.minimum(ua.nbytes[ia], ub.nbytes[ib])
    if nbytes is not None:
        common = np.minimum(common, nbytes)
    width = min(ua.hashes.shape[1], ub.hashes.shape[1])
    xor = np.bitwise_xor(ua.hashes[ia, :width], ub.hashes[ib, :width])
    counts = _popcount()[xor]
    counts[np.arange(width)[None, :] >= common[:, None]] = 0
    return counts.sum(axis=1, dtype=np.int64), ok


def _check_bits(bits):
    if bits is None:
        return None
    if int(bits) <= 0 or int(bits) % 8:
        raise BadRequest("bits must be a positive multiple of 8.")
    return int(bits) // 8


def _parse_all(values: list) -> list:
    return [None if v is None else _parse(v) for v in values]


def compare(a, b=None, *, bits: int | None = None) -> pd.DataFrame:
    """Pairwise distances per unit type, in long form (one row per pair).

    Units are compared as iscc-core's `iscc_compare` does: ISCC-CODEs are decomposed into
    units, units of the same main type, sub type and version are compared by the Hamming
    distance of their hashes (units of different lengths on their common prefix of bits; with
    `bits`, on at most the first `bits` bits). Units with no counterpart are not comparable.

    :param a: an ISCC, a list or Series of ISCCs, or a DataFrame with an `iscc` column.
    :param b: the same kinds of input. None: all pairs within `a` (i < j); given: every code of
        `a` against every code of `b` (two single codes give one row).
    :param bits: compare on at most this many leading bits (a multiple of 8).
    :return: columns `a`, `b` (the normalized codes), `meta`, `semantic`, `content`, `data`,
        `instance` (distances in bits, float; NaN where not comparable) and `instance_match`
        (nullable boolean: the Instance-Codes are equal; NA where not comparable). The index is
        a MultiIndex (a_index, b_index) of the row labels (positions for lists) of the pair.
    """
    pd, np = _pd(), _np()
    nbytes = _check_bits(bits)
    va, la = _codes(a, "a")
    pa = _parse_all(va)
    if b is None:
        vb, lb, pb = va, la, pa
        ia, ib = np.triu_indices(len(va), 1)
    else:
        vb, lb = _codes(b, "b")
        pb = _parse_all(vb)
        ia, ib = (
            g.ravel() for g in np.meshgrid(np.arange(len(va)), np.arange(len(vb)), indexing="ij")
        )
    ia = ia.astype(np.int64)
    ib = ib.astype(np.int64)
    data = {
        "a": pd.array([pa[i][0] if pa[i] else None for i in ia], dtype=_str()),
        "b": pd.array([pb[i][0] if pb[i] else None for i in ib], dtype=_str()),
    }
    kinds: dict = {}
    match = None
    for unit_type in UNIT_TYPES:
        ua, ub = _Units(pa, unit_type, kinds), _Units(pb, unit_type, kinds)
        dist = np.full(len(ia), np.nan)
        ok_all = np.zeros(len(ia), dtype=bool)
        for start in range(0, len(ia), _PAIR_CHUNK):
            sl = slice(start, start + _PAIR_CHUNK)
            d, ok = _distances(ua, ub, ia[sl], ib[sl], nbytes)
            dist[sl] = np.where(ok, d, np.nan)
            ok_all[sl] = ok
        data[unit_type] = dist
        if unit_type == "instance":
            match = pd.array(np.where(ok_all, dist == 0, False), dtype="boolean")
            match[~ok_all] = pd.NA
    data["instance_match"] = match
    index = pd.MultiIndex.from_arrays([la[ia], lb[ib]], names=["a_index", "b_index"])
    return pd.DataFrame(data, index=index)


def near_duplicates(
    df,
    threshold: int = DEFAULT_THRESHOLD,
    on: str | Iterable[str] = ("content",),
    *,
    bits: int | None = 64,
) -> pd.DataFrame:
    """Group similar items: a copy of `df` with a `group` column.

    Two rows are near duplicates when, for each unit type in `on`, both have comparable units
    (same main type, sub type, version) at a Hamming distance of at most `threshold` bits;
    groups are the connected components of such pairs (so a chain a~b~c is one group).

    :param df: a DataFrame with an `iscc` column (e.g. from `batch()`), or an ISCC list or
        Series (then a frame with an `iscc` column is made).
    :param threshold: the largest distance in bits. The default, 12 of 64 bits, is about
        19 % of the bits: it groups the same picture saved as JPEG, PNG, GIF, ... or the same
        video in other containers and codecs, and not unrelated media.
    :param on: the unit types that must all be near: any of meta, semantic, content, data,
        instance (default: content).
    :param bits: compare on the first `bits` bits of each unit (default 64, the length of the
        units in a standard ISCC-CODE, so that `threshold` keeps its meaning for longer
        units); None: the common prefix.
    :return: the copy of `df` with `group` (nullable Int64): 0, 1, ... numbered by each group's
        first row, and NA for rows that have no near duplicate (singletons) or no code.
    """
    pd, np = _pd(), _np()
    if isinstance(df, pd.DataFrame):
        if "iscc" not in df.columns:
            raise BadRequest("near_duplicates() needs a DataFrame with an 'iscc' column.")
        out = df.copy()
    else:
        values, index = _codes(df)
        out = pd.DataFrame({"iscc": pd.array(values, dtype=_str())}, index=index)
    on = (on,) if isinstance(on, str) else tuple(on)
    unknown = [t for t in on if t not in UNIT_TYPES]
    if not on or unknown:
        raise BadRequest(f"on: expected unit types out of {', '.join(UNIT_TYPES)}, got {on!r}.")
    if threshold < 0:
        raise BadRequest("threshold must be at least 0.")
    nbytes = _check_bits(bits)
    values, _ = _codes(out)
    parsed = _parse_all(values)
    n = len(parsed)
    kinds: dict = {}
    units = {t: _Units(parsed, t, kinds) for t in on}
    candidates = np.flatnonzero(np.logical_and.reduce([units[t].kind >= 0 for t in on]))
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    block = max(1, _PAIR_CHUNK // max(1, len(candidates)))
    for start in range(0, len(candidates), block):
        rows = candidates[start : start + block]
        ia = np.repeat(rows, len(candidates))
        ib = np.tile(candidates, len(rows))
        keep = ib > ia
        ia, ib = ia[keep], ib[keep]
        near = np.ones(len(ia), dtype=bool)
        for t in on:
            d, ok = _distances(units[t], units[t], ia, ib, nbytes)
            near &= ok & (d <= threshold)
        for i, j in zip(ia[near].tolist(), ib[near].tolist()):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    roots = [find(i) for i in range(n)]
    sizes: dict = {}
    for r in roots:
        sizes[r] = sizes.get(r, 0) + 1
    ids: dict = {}
    group = []
    for r in roots:
        if sizes[r] < 2:
            group.append(pd.NA)
        else:
            group.append(ids.setdefault(r, len(ids)))
    out["group"] = pd.array(group, dtype="Int64")
    return out
