"""ISCCs of media collections as pandas DataFrames: `batch()` and `batch_dask()`.

The layout: `paths` collects the paths of a source, `rows` is the one row schema (unit types,
columns, dtypes, the per-file work, rows to a DataFrame), `local` runs the work on this
machine's worker pool, `dask` on a Dask cluster. Executors depend on `rows` and `paths`, never
the reverse. `iter_rows()` is the streaming form that `batch()` is built on.

`iscc_lab.batch` is both this package and the `batch()` verb: the package is callable, so
`iscc_lab.batch(source)` works however the package was imported.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from functools import partial

from iscc_lab.batch import local
from iscc_lab.batch.paths import collect_paths
from iscc_lab.batch.rows import COLUMNS, UNIT_TYPES, to_frame, work
from iscc_lab.errors import BadRequest
from iscc_lab.settings import Settings, get_settings, parse_bytes

__all__ = [
    "COLUMNS",
    "UNIT_TYPES",
    "batch",
    "batch_dask",
    "collect_paths",
    "iter_rows",
    "prepare_cluster",
    "to_frame",
]

_DASK_NAMES = ("batch_dask", "prepare_cluster", "IsccToolsPlugin")


def _dask():
    """The Dask executor (the `[dask]` extra), imported when first used."""
    try:
        from iscc_lab.batch import dask
    except ImportError as e:
        raise ImportError(f"{e}. Dask is an optional extra: pip install 'iscc-lab[dask]'.") from e
    return dask


def __getattr__(name):
    if name in _DASK_NAMES:
        return getattr(_dask(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def iter_rows(
    paths,
    *,
    workers: int | None = None,
    semantic: bool | None = None,
    granular: bool | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    client=None,
    job_timeout: float | None = None,
    job_memory: int | str | None = None,
    soft_binding: bool = False,
) -> Iterator[tuple[int, dict]]:
    """`(position, row)` for each of `paths`, in completion order, where `row` is the row dict of
    `iscc_lab.batch.rows` (the values `batch()` puts in its frame; a failed file has its message
    in `error`). `to_frame([row, ...])` makes `batch()`'s frame of such rows.

    :param paths: a list of paths (an item that is None gives an error row); see
        `collect_paths()` for folders, globs and Series.
    :param workers: processes of the local pool (default: all cores).
    :param client: a `dask.distributed.Client`: run on its cluster instead (the job limits
        are then Dask's own: its workers' `memory_limit`).
    :param progress: show a progress bar (a widget in notebooks, text in terminals).
    :param job_timeout: seconds a file may take (default: ISCC_LAB_JOB_TIMEOUT; 0: no limit).
    :param job_memory: bytes (or "1G") of memory a file may use, its tools included (default:
        ISCC_LAB_JOB_MEMORY; 0: no limit). A file over a limit gets an error row.
    :param soft_binding: add each file's ISCC soft binding (`soft_binding`, the base64 value of
        `iscc_lab.soft_binding`).

    Closing the generator (or an interrupt while it runs) cancels the pending files and ends
    the worker processes.
    """
    from tqdm.auto import tqdm

    paths = list(paths)
    settings = settings or get_settings()
    granular = bool(granular)
    if client is not None:
        rows = _dask().iter_rows(
            client, paths, semantic=semantic, granular=granular, settings=settings,
            soft_binding=soft_binding,
        )  # fmt: skip
        desc = "ISCC (dask)"
    else:
        workers = (os.cpu_count() or 1) if workers is None else int(workers)
        if workers < 1:
            raise BadRequest("workers must be at least 1.")
        rows = local.iter_rows(
            paths,
            workers=workers,
            semantic=semantic,
            granular=granular,
            settings=settings,
            job_timeout=job_timeout,
            job_memory=None if job_memory is None else parse_bytes(job_memory),
            job=partial(work, soft_binding=True) if soft_binding else work,
        )
        desc = "ISCC"
    with tqdm(total=len(paths), disable=not progress, unit="file", desc=desc) as bar:
        try:
            for item in rows:
                bar.update(1)
                yield item
        finally:
            rows.close()


def batch(
    source,
    *,
    workers: int | None = None,
    semantic: bool | None = None,
    granular: bool | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    client=None,
    job_timeout: float | None = None,
    job_memory: int | str | None = None,
    soft_binding: bool = False,
):
    """The ISCCs of many files as a DataFrame, one row per file, in input order.

    :param source: a folder (recursive; regular files only, hidden files and folders skipped;
        rows in sorted path order), a glob pattern (`"photos/**/*.jpg"`), a single file, a list
        of paths or a pandas Series of paths (the frame keeps the Series' index).
    :param workers: worker processes to use (default: all cores). They stay warm for the next
        call; they run under a time and a memory limit per file.
    :param semantic: add the experimental Semantic-Code (default: ISCC_SDK_EXPERIMENTAL).
    :param granular: keep granular features in a `features` column. Off unless True: the
        frame has no other place for them and they are heavy to move between processes.
    :param progress: show a progress bar (a widget in notebooks, text in terminals).
    :param settings: the settings to use (default: from the environment).
    :param client: a `dask.distributed.Client`: run on its cluster instead of local processes
        (see `iscc_lab.batch.dask`; the result is the same frame).
    :param job_timeout: seconds a file may take (default: ISCC_LAB_JOB_TIMEOUT, 3600; 0: none).
    :param job_memory: bytes, or a text such as "2G", of memory a file may use with its tools
        (default: ISCC_LAB_JOB_MEMORY, 8 GiB; 0: none). A file over a limit gets an error row
        ("bomb.docx: stopped after using the job memory limit of 1 GiB") and the batch goes on.
    :param soft_binding: add a `soft_binding` column: each file's ISCC soft binding for C2PA
        (`io.iscc.v0`, the base64 value of `iscc_lab.soft_binding`), on the local pool or the
        Dask cluster.
    :return: columns path, filename, iscc, mode, mediatype, filesize, name, width, height,
        duration, datahash, metahash, one column per unit type present (meta, semantic,
        content, data, instance: the 256-bit unit codes of the result's `units`), `soft_binding`
        when asked for, `c2pa` when a file carries a C2PA manifest (its summary), thumbnail
        (a data URL) and error. A file that fails has its message in `error` (and NA in the
        other result columns); the rest of the batch goes on.

    Interrupting (Ctrl-C, the notebook's stop button) cancels the pending files, terminates
    the worker processes and re-raises KeyboardInterrupt.
    """
    paths, index = collect_paths(source)
    if workers is not None and int(workers) < 1:
        raise BadRequest("workers must be at least 1.")
    rows: list = [None] * len(paths)
    for i, row in iter_rows(
        paths,
        workers=workers,
        semantic=semantic,
        granular=granular,
        settings=settings,
        progress=progress,
        client=client,
        job_timeout=job_timeout,
        job_memory=job_memory,
        soft_binding=soft_binding,
    ):
        rows[i] = row
    return to_frame(rows, index, bool(granular))


class _CallablePackage(types.ModuleType):
    """`iscc_lab.batch(...)` calls `batch()`: importing a submodule (`iscc_lab.batch.rows`)
    makes this package the attribute `batch` of `iscc_lab`, so the package answers calls."""

    def __call__(self, *args, **kwargs):
        return batch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
