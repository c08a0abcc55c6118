"""The local executor of `batch()`: the rows of many files from a pool of worker processes.

`iter_rows()` yields `(position, row)` as each file ends (largest files first). Closing the
generator, or an interrupt, cancels what is pending and ends the worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from iscc_lab.batch.paths import largest_first
from iscc_lab.batch.rows import error_row, message, work
from iscc_lab.generate import private_tempdir
from iscc_lab.settings import Settings

__all__ = ["WORKER_DIED", "iter_rows", "work_in_worker"]

WORKER_DIED = "The ISCC worker process died on this file (a crash or out of memory)."


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


def work_in_worker(path, semantic, granular, settings) -> dict:
    """`rows.work` in a worker process, with a private temporary folder for the job."""
    global _busy
    try:
        _busy = True
        try:
            with private_tempdir():
                return work(path, semantic, granular, settings)
        finally:
            _busy = False
    except _Terminated:
        os._exit(128 + signal.SIGTERM)


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


def iter_rows(
    paths: list,
    *,
    workers: int,
    semantic: bool | None = None,
    granular: bool = False,
    settings: Settings | None = None,
    job: Callable = work_in_worker,
) -> Iterator[tuple[int, dict]]:
    """`(position, row)` of every path, in completion order.

    workers=1 runs in this process. Otherwise a spawn process pool gets at most 2*workers jobs
    at a time (largest files first). Closing the generator, or any exception or interrupt,
    cancels the pending jobs and terminates the worker processes.

    A worker that dies (a crash in a native library, the OOM killer) breaks the pool and every
    job in it: the pool is replaced, and the jobs that were in flight are run again one at a
    time, so that only the file that kills its worker gets an error row. `job` is the function
    run per path (`work_in_worker`; tests give others).
    """
    if workers <= 1 or len(paths) <= 1:
        for i, path in enumerate(paths):
            yield i, work(path, semantic, granular, settings)
        return
    order = iter(largest_first(paths))
    suspects: deque = deque()  # in flight when a worker died: rerun alone
    pending: dict = {}  # future -> (index, alone)
    state = {"pool": _new_pool(workers), "broken": False, "breaks": 0}

    def submit(i: int, alone: bool) -> bool:
        try:
            future = state["pool"].submit(job, paths[i], semantic, granular, settings)
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
                    row = future.result()
                except BrokenProcessPool:
                    state["broken"] = True
                    if not alone:
                        suspects.append(i)
                        continue
                    row = error_row(paths[i], WORKER_DIED)
                except Exception as e:  # noqa: BLE001 - e.g. a result that could not be sent back
                    row = error_row(paths[i], message(e))
                else:
                    state["breaks"] = 0
                yield i, row
    except BaseException:
        _stop_pool(state["pool"], list(pending))
        raise
    else:
        state["pool"].shutdown(wait=True)
