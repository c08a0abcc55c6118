"""The local executor of `batch()`: the rows of many files from this process's worker pool.

`iter_rows()` yields `(position, row)` as each file ends (largest files first), from the warm
shared pool of `iscc_lab.pool` (kept across calls). A file over a job limit, or whose worker
dies, gets an error row and the batch goes on. Closing the generator, or an interrupt, cancels
what is pending and ends the worker processes (the next call starts new ones).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from iscc_lab.batch.paths import largest_first
from iscc_lab.batch.rows import error_row, message, work
from iscc_lab.pool import PoolBroken, WorkerDied, shared_pool
from iscc_lab.settings import Settings

__all__ = ["KEEP_DYING", "WORKER_DIED", "iter_rows"]

WORKER_DIED = "The ISCC worker process died on this file (a crash or out of memory)."
KEEP_DYING = (
    "The ISCC worker processes keep dying before finishing a file (see the log). "
    "In a script, is the batch() call under `if __name__ == '__main__':`?"
)


def iter_rows(
    paths: list,
    *,
    workers: int,
    semantic: bool | None = None,
    granular: bool = False,
    settings: Settings | None = None,
    job_timeout: float | None = None,
    job_memory: int | None = None,
    job: Callable = work,
) -> Iterator[tuple[int, dict]]:
    """`(position, row)` of every path, in completion order.

    At most 2*workers jobs are in the pool at a time, largest files first. `job_timeout`
    (seconds) and `job_memory` (bytes) override the settings' limits (0: none). `job` is the
    function run per path (`rows.work`; tests give others).

    A worker that dies (a crash in a native library, a limit, the OOM killer) fails only its
    file. When every worker dies (the pool breaks), the files in flight are run again; after
    three breaks in a row the batch stops with a message.
    """
    pool = shared_pool(workers)
    order = iter(largest_first(paths))
    again: deque = deque()  # in flight when the pool broke: submitted again
    pending: dict = {}  # future -> position
    breaks = 0

    def submit(i: int) -> None:
        path = paths[i]
        label = None if path is None else Path(path).name
        future = pool.submit(
            job, path, semantic, granular, settings,
            label=label, timeout=job_timeout, memory=job_memory,
        )  # fmt: skip
        pending[future] = i

    try:
        while True:
            while len(pending) < 2 * workers:
                i = again.popleft() if again else next(order, None)
                if i is None:
                    break
                submit(i)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                try:
                    row = future.result()
                except PoolBroken:
                    breaks += 1
                    if breaks >= 3:
                        raise BrokenProcessPool(KEEP_DYING) from None
                    again.append(i)
                    continue
                except WorkerDied:
                    row = error_row(paths[i], WORKER_DIED)
                except Exception as e:  # noqa: BLE001 - e.g. a result that could not be sent back
                    row = error_row(paths[i], message(e))
                else:
                    breaks = 0
                yield i, row
    except BaseException:
        for future in pending:
            future.cancel()
        pool.shutdown()
        raise
