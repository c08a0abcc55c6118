"""`batch()` beyond one machine: the same work on a Dask cluster.

Dask is optional (`pip install 'iscc-lab[dask]'`); nothing else in iscc-lab imports this
module at import time.

- `batch(source, client=client)` spreads the files over the cluster's workers (one task per
  small group of paths, never one per DataFrame row shipped from the client) and returns the
  same DataFrame, in the same order, as the local run.
- `batch_dask(source)` returns a lazy `dask.dataframe.DataFrame` for collections that do not fit
  in memory: write it to Parquet with `.to_parquet(...)`.

Workers read the files themselves, so the paths must mean the same on every worker (shared
storage), and every worker needs the tools of the local run (ffmpeg, ffprobe, fpcalc) and
iscc-lab installed; `prepare_cluster(client)` checks them on every worker, now and on every
worker that joins later, and fails with a message that names what is missing.

Each file runs with a private temporary folder, as in the local pool. iscc-sdk's options are
global to a process, so a Dask worker process runs one file at a time whatever its thread
count: give the cluster one thread per worker process and more processes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from distributed import as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from iscc_lab import tools
from iscc_lab.batch.paths import collect_paths
from iscc_lab.batch.rows import all_columns, to_frame, work
from iscc_lab.errors import BadRequest, ToolMissing
from iscc_lab.generate import private_tempdir
from iscc_lab.settings import Settings, get_settings

__all__ = ["DEFAULT_CHUNK", "IsccToolsPlugin", "batch_dask", "iter_rows", "prepare_cluster"]

DEFAULT_CHUNK = 4
_one_at_a_time = threading.Lock()  # private_tempdir points the process's tempfile somewhere


def _chunks(paths: list, size: int) -> list[tuple[int, list]]:
    if size < 1:
        raise BadRequest("chunk_size must be at least 1.")
    return [(start, paths[start : start + size]) for start in range(0, len(paths), size)]


def _work_chunk(
    paths: list, semantic, granular: bool, settings: dict, soft_binding: bool = False
) -> list[dict]:
    """Runs on a worker: the row of each path, in order, each with a private temp folder."""
    s = Settings(**settings)
    rows = []
    for path in paths:
        with _one_at_a_time, private_tempdir():
            rows.append(work(path, semantic, granular, s, soft_binding=soft_binding))
    return rows


def _missing_tools() -> list[str]:
    return [msg for msg in tools.check_tools().values() if not os.path.isabs(msg)]


class IsccToolsPlugin(WorkerPlugin):
    """A worker plugin that checks ffmpeg, ffprobe and fpcalc on every worker as it starts, and
    wires iscc-sdk to them (never a download). A worker without them fails to start its plugin
    with the message that names the missing tool."""

    name = "iscc-lab-tools"

    def setup(self, worker=None):
        missing = _missing_tools()
        if missing:
            where = getattr(worker, "address", "")
            raise ToolMissing(f"iscc-lab worker {where}: " + " ".join(missing))
        tools.wire()


def prepare_cluster(client) -> dict:
    """Check every worker (and every later one) for the tools; returns {worker: tool paths}.

    Raises ToolMissing naming the workers and the missing tools.
    """
    found = client.run(tools.check_tools)
    bad = {w: [m for m in found_tools.values() if not os.path.isabs(m)]
           for w, found_tools in found.items()}  # fmt: skip
    bad = {w: m for w, m in bad.items() if m}
    if bad:
        detail = "; ".join(f"{w}: {' '.join(m)}" for w, m in bad.items())
        raise ToolMissing(f"Some Dask workers cannot run iscc-lab: {detail}")
    client.register_plugin(IsccToolsPlugin())
    return found


def iter_rows(
    client,
    paths: list,
    *,
    semantic: bool | None = None,
    granular: bool = False,
    settings: Settings | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    soft_binding: bool = False,
) -> Iterator[tuple[int, dict]]:
    """`(position, row)` of every path computed on the cluster, in completion order. Tasks of
    a worker that dies are run again elsewhere (Dask retries them); rows are yielded by
    position, so none is lost or duplicated. Closing the generator cancels the tasks."""
    settings = settings or get_settings()
    dumped = settings.model_dump(mode="json")
    chunks = _chunks([None if p is None else str(p) for p in paths], chunk_size)
    tag = os.urandom(4).hex()
    futures = [
        client.submit(_work_chunk, chunk, semantic, bool(granular), dumped, bool(soft_binding),
                      key=f"iscc-lab-batch-{start}-{tag}", retries=2)
        for start, chunk in chunks
    ]  # fmt: skip
    position = {f.key: start for f, (start, _) in zip(futures, chunks, strict=True)}
    try:
        for future, result in as_completed(futures, with_results=True):
            start = position[future.key]
            for offset, row in enumerate(result):
                yield start + offset, row
    except BaseException:
        client.cancel(futures)
        raise


def _partition_columns(granular: bool, soft_binding: bool) -> list[str]:
    """Every partition's columns: all unit types, `soft_binding` when asked, always `c2pa`."""
    columns = all_columns(granular)
    at = columns.index("features") if granular else columns.index("thumbnail")
    return [*columns[:at], *(["soft_binding"] if soft_binding else []), "c2pa", *columns[at:]]


def _partition(chunk: tuple[int, list], semantic, granular: bool, settings: dict, soft_binding):
    """One partition of `batch_dask`: the rows of a chunk, with every column; `c2pa` (the
    manifest summary of a file with Content Credentials) as JSON text, so that every partition
    has the same schema whether or not one of its files carries a manifest."""
    import json

    import pandas as pd

    from iscc_lab.batch.rows import string_dtype

    start, paths = chunk
    rows = _work_chunk(paths, semantic, granular, settings, soft_binding)
    manifests = [None if r.get("c2pa") is None else json.dumps(r.pop("c2pa")) for r in rows]
    index = pd.RangeIndex(start, start + len(paths))
    frame = to_frame(rows, index, granular, every_unit=True)
    frame["c2pa"] = pd.array(manifests, dtype=string_dtype())
    if soft_binding and "soft_binding" not in frame:
        frame["soft_binding"] = pd.array([None] * len(rows), dtype=string_dtype())
    return frame[_partition_columns(granular, soft_binding)]


def batch_dask(
    source,
    *,
    semantic: bool | None = None,
    granular: bool | None = None,
    settings: Settings | None = None,
    chunk_size: int = 16,
    soft_binding: bool = False,
):
    """A lazy `dask.dataframe.DataFrame` of the ISCCs of `source`, one partition per
    `chunk_size` files, with every unit column (meta, semantic, content, data, instance) in
    every partition, `soft_binding` when asked (as in `batch()`), and `c2pa`: the manifest
    summary of a file with Content Credentials as JSON text (`json.loads` gives `batch()`'s
    dict), None for the others. Compute it, or write it with `.to_parquet(path)`; the index is
    the file's position in the input."""
    import dask.dataframe as dd

    paths, _ = collect_paths(source)
    settings = settings or get_settings()
    granular = bool(granular)
    dumped = settings.model_dump(mode="json")
    chunks = _chunks([None if p is None else str(p) for p in paths], chunk_size)
    soft_binding = bool(soft_binding)
    meta = _partition((0, []), semantic, granular, dumped, soft_binding)
    divisions = [start for start, _ in chunks] + [len(paths) - 1] if chunks else None
    return dd.from_map(
        _partition, chunks, semantic=semantic, granular=granular, settings=dumped,
        soft_binding=soft_binding, meta=meta, divisions=divisions, enforce_metadata=False,
    )  # fmt: skip
