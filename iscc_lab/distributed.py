"""`batch()` beyond one machine: the same work on a Dask cluster.

Dask is optional (`pip install 'iscc-lab[dask]'`); nothing else in iscc-lab imports it.

- `batch(source, client=client)` spreads the files over the cluster's workers (one task per
  small group of paths, never one per DataFrame row shipped from the client) and returns the
  same DataFrame, in the same order, as the local run.
- `batch_dask(source)` returns a lazy `dask.dataframe.DataFrame` for collections that do not fit
  in memory: write it to Parquet with `.to_parquet(...)`.

Workers read the files themselves, so the paths must mean the same on every worker (shared
storage), and every worker needs the tools of the local run (ffmpeg, ffprobe, fpcalc) and
iscc-lab installed; `prepare_cluster(client)` checks them on every worker, now and on every
worker that joins later, and fails with a message that names what is missing.
"""

from __future__ import annotations

import os

from iscc_lab.errors import BadRequest, ToolMissing
from iscc_lab.settings import Settings, get_settings

__all__ = ["IsccToolsPlugin", "batch_on_client", "batch_dask", "prepare_cluster"]

DEFAULT_CHUNK = 4


def _chunks(paths: list, size: int) -> list[tuple[int, list]]:
    if size < 1:
        raise BadRequest("chunk_size must be at least 1.")
    return [(start, paths[start : start + size]) for start in range(0, len(paths), size)]


def _work_chunk(paths: list, semantic, granular: bool, settings: dict) -> list:
    """Runs on a worker: the outcome (result dict or error message) of each path, in order."""
    from iscc_lab.frames import _work

    s = Settings(**settings)
    return [_work(p, semantic, granular, s) for p in paths]


def _missing_tools() -> list[str]:
    from iscc_lab.tools import check_tools

    return [msg for msg in check_tools().values() if not os.path.isabs(msg)]


try:  # a plugin class only where distributed is installed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - dask is an optional extra
    WorkerPlugin = object


class IsccToolsPlugin(WorkerPlugin):
    """A worker plugin that checks ffmpeg, ffprobe and fpcalc on every worker as it starts, and
    wires iscc-sdk to them (never a download). A worker without them fails to start its plugin
    with the message that names the missing tool."""

    name = "iscc-lab-tools"

    def setup(self, worker=None):
        missing = _missing_tools()
        if missing:
            raise ToolMissing(f"iscc-lab worker {getattr(worker, 'address', '')}: " + " ".join(missing))
        from iscc_lab import tools

        tools.wire()


def prepare_cluster(client) -> dict:
    """Check every worker (and every later one) for the tools; returns {worker: tool paths}.

    Raises ToolMissing naming the workers and the missing tools.
    """
    from iscc_lab.tools import check_tools

    found = client.run(check_tools)
    bad = {w: [m for m in tools.values() if not os.path.isabs(m)] for w, tools in found.items()}
    bad = {w: m for w, m in bad.items() if m}
    if bad:
        detail = "; ".join(f"{w}: {' '.join(m)}" for w, m in bad.items())
        raise ToolMissing(f"Some Dask workers cannot run iscc-lab: {detail}")
    client.register_plugin(IsccToolsPlugin())
    return found


def batch_on_client(
    client,
    source,
    *,
    semantic: bool | None = None,
    granular: bool | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    chunk_size: int = DEFAULT_CHUNK,
):
    """`iscc_lab.batch(source, client=client)`: the same frame as the local run, computed on the
    cluster. Tasks of a worker that dies are run again elsewhere (Dask retries them); rows are
    gathered by position, so none is lost or duplicated."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    from iscc_lab.frames import _frame, collect_paths

    paths, index = collect_paths(source)
    settings = settings or get_settings()
    granular = bool(granular)
    dumped = settings.model_dump(mode="json")
    chunks = _chunks(paths, chunk_size)
    futures = [
        client.submit(_work_chunk, [None if p is None else str(p) for p in chunk], semantic, granular, dumped,
                      key=f"iscc-lab-batch-{start}-{os.urandom(4).hex()}", retries=2)
        for start, chunk in chunks
    ]
    outcomes: list = [None] * len(paths)
    position = {f.key: start for f, (start, _) in zip(futures, chunks)}
    try:
        with tqdm(total=len(paths), disable=not progress, unit="file", desc="ISCC (dask)") as bar:
            for future, result in as_completed(futures, with_results=True):
                start = position[future.key]
                outcomes[start : start + len(result)] = result
                bar.update(len(result))
    except BaseException:
        client.cancel(futures)
        raise
    return _frame(paths, outcomes, index, granular)


def _full_columns(granular: bool) -> list[str]:
    from iscc_lab.frames import COLUMNS, UNIT_TYPES

    return [*COLUMNS, *UNIT_TYPES, *(["features"] if granular else []), "thumbnail", "error"]


def _partition(chunk: tuple[int, list], semantic, granular: bool, settings: dict):
    """One partition of `batch_dask`: the rows of a chunk, with every column."""
    import pandas as pd

    from iscc_lab.frames import _frame, _str

    start, paths = chunk
    outcomes = _work_chunk(paths, semantic, granular, settings)
    frame = _frame(paths, outcomes, pd.RangeIndex(start, start + len(paths)), granular)
    columns = _full_columns(granular)
    for col in columns:
        if col not in frame:
            frame[col] = pd.array([None] * len(frame), dtype=_str())
    return frame[columns]


def batch_dask(
    source,
    *,
    semantic: bool | None = None,
    granular: bool | None = None,
    settings: Settings | None = None,
    chunk_size: int = 16,
):
    """A lazy `dask.dataframe.DataFrame` of the ISCCs of `source`, one partition per
    `chunk_size` files, with every unit column (meta, semantic, content, data, instance) in
    every partition. Compute it, or write it with `.to_parquet(path)`; the index is the file's
    position in the input."""
    import dask.dataframe as dd

    from iscc_lab.frames import collect_paths

    paths, _ = collect_paths(source)
    settings = settings or get_settings()
    granular = bool(granular)
    dumped = settings.model_dump(mode="json")
    chunks = _chunks([None if p is None else str(p) for p in paths], chunk_size)
    meta = _partition((0, []), semantic, granular, dumped)
    divisions = [start for start, _ in chunks] + [len(paths) - 1] if chunks else None
    return dd.from_map(
        _partition, chunks, semantic=semantic, granular=granular, settings=dumped,
        meta=meta, divisions=divisions, enforce_metadata=False,
    )
