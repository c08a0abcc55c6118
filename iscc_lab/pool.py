"""The one worker pool of iscc-lab: `batch()` and the server run their jobs here.

A pool of spawned worker processes (pebble's `ProcessPool`: a dead worker fails only its own
job and is replaced; workers are recycled after `max_tasks` jobs), with limits per job:

- **time** (`job_timeout`, seconds, ISCC_LAB_JOB_TIMEOUT) and **memory** (`job_memory`, bytes,
  ISCC_LAB_JOB_MEMORY; the resident memory of the worker and of the tools it started, ffmpeg,
  ffprobe, fpcalc). A watchdog thread in each worker samples both every 20 ms while a job runs;
  over a limit it kills the worker's tools and ends the worker, and the job fails with
  `JobStopped` ("bomb.docx: stopped after using the job memory limit of 1 GiB"). pebble's own
  timeout, a few seconds later, is the backstop for a worker that does not get to run its
  watchdog. 0 turns a limit off.
- Each worker leads a process group of its own, so its tools go with it; it exits when the
  process that started it is gone, also when that one was killed (SIGKILL).
- Each job gets a temporary folder of its own, made and removed by this process whatever
  happens to the worker. After each job the worker hands freed memory back to the system
  (glibc's `malloc_trim`), so that none keeps the peak of a large job.

`shared_pool(workers)` is the warm pool of this process for a size and niceness: `batch()`
calls reuse it, the server's is niced so that its IO loop (and the user's kernels) come first.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import ctypes.util
import multiprocessing
import os
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

import psutil
from pebble import ProcessExpired, ProcessPool

from iscc_lab import tools
from iscc_lab.errors import Unprocessable
from iscc_lab.generate import create_iscc, private_tempdir
from iscc_lab.settings import get_settings

__all__ = [
    "JobStopped",
    "Pool",
    "PoolBroken",
    "WorkerDied",
    "limit_text",
    "shared_pool",
    "shutdown_pools",
]

EXIT_MEMORY = 83  # a worker's exit status when its watchdog stopped it over the memory limit
EXIT_TIMEOUT = 84  # ... over the time limit
MAX_TASKS = 100  # jobs per worker before it is replaced
PASSED_PREFIX = "ISCC_"  # environment a job takes from its parent as the parent has it then
SAMPLE = 0.02  # seconds between the watchdog's looks at a running job
LIST_WORKERS = 0.2  # seconds between looks for new workers (their registrations)
LIST_TOOLS = 1.0  # seconds between listings of a worker's child processes (a scan of /proc)
BACKSTOP = 5.0  # pebble stops a job this long after its time limit if the watchdog did not
_UNSET = object()


class JobStopped(Unprocessable):
    """A job went over its time or memory limit: its worker was stopped (and replaced)."""

    def __init__(self, message: str, limit: str):
        super().__init__(message)
        self.limit = limit  # "memory" or "time"


class WorkerDied(Unprocessable):
    """The worker running a job ended without an answer (a crash, the OOM killer, a kill)."""


class PoolBroken(WorkerDied):
    """Every worker of the pool ended: the job may not have started. The pool is replaced."""


def limit_text(n: int) -> str:
    """A size limit for people: 1 GiB, 512 MiB, 1.5 GiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


# --------------------------------------------------------------------------------------------
# In the worker process
# --------------------------------------------------------------------------------------------

_state = threading.Lock()  # held while the watchdog looks at (and maybe stops) the job
_job: dict | None = None  # the running job: start, timeout, memory
_trim = None  # glibc's malloc_trim, where there is one


def _kill_tools() -> None:
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            continue


def _stop(code: int) -> None:
    """End this worker and its tools now (from the watchdog or a signal)."""
    _kill_tools()
    os._exit(code)


def _on_sigterm(signum, frame) -> None:  # pebble stopping this worker (shutdown, cancel)
    _stop(128 + signum)


def _watch_parent(parent_pid: int) -> None:
    """End the worker and its tools once the process that started it is gone (killed: nothing
    told us to stop). The parent's pid, not getppid() now: it may have died while we started."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(1)


def _watchdog() -> None:
    """The time limit, and the memory limit on the worker's own memory (cheap to read; the
    owning process adds the tools' memory and acts when this thread cannot run)."""
    me = psutil.Process()
    while True:
        time.sleep(SAMPLE)
        with _state:
            job = _job
            if job is None:
                continue
            if job["timeout"] and time.monotonic() - job["start"] > job["timeout"]:
                _stop(EXIT_TIMEOUT)
            if job["memory"] and me.memory_info().rss > job["memory"]:
                _stop(EXIT_MEMORY)


def _init_worker(parent_pid: int, niceness: int, registry) -> None:
    """Worker set-up: its own process group (its tools join it), interrupts are the parent's
    business, SIGTERM ends the tools too, a parent watch and the limits' watchdog."""
    global _trim
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover - not permitted here
        pass
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # pragma: no cover - not permitted here
            pass
    libc = ctypes.util.find_library("c")
    _trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    threading.Thread(target=_watchdog, name="iscc-lab-job-limits", daemon=True).start()
    _warm_up()
    registry.put(os.getpid())


def _tiny_bmp(side: int = 16) -> bytes:
    """A small gray BMP image, made here (no file, no download)."""
    row = bytes(range(0, 3 * side)) + b"\0" * ((4 - 3 * side % 4) % 4)
    pixels = row * side
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def _warm_up() -> None:
    """Import iscc-sdk and what its first image and text jobs load (seconds of CPU), while the
    pool starts rather than in the first jobs. Never fails the worker."""
    tools.wire()
    text = "Warm up the text code paths of this worker process. " * 8
    for data, name in ((_tiny_bmp(), "warm-up.bmp"), (text.encode(), "warm-up.txt")):
        try:
            with private_tempdir():
                create_iscc(data, name, granular=False)
        except Exception:  # noqa: BLE001 - a warm-up only
            continue


def _status(*keys: str) -> int:
    """The sum of fields of /proc/self/status, in bytes (0 where there is none)."""
    total = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in keys:
                    total += int(value.split()[0]) * 1024
    except OSError:  # pragma: no cover - not Linux
        return 0
    return total


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident memory
    except OSError:  # pragma: no cover - not Linux
        pass


def _take_environment(env: dict[str, str]) -> None:
    """Make this worker's ISCC_* environment the one its parent had when it sent the job (the
    model folders of iscc-sct and iscc-sci are read from it when the work runs), so that a warm
    worker started before the parent set ISCC_SCT_MODEL_DIR still sees it."""
    for key in [k for k in os.environ if k.startswith(PASSED_PREFIX) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def _run_job(fn, args, kwargs, folder: str, timeout: float, memory: int, env: dict[str, str]):
    """Run one job in the worker, with its temporary folder, its limits and its parent's
    ISCC_* environment.

    A job that runs out of memory under the limit (MemoryError, or any failure after its peak
    came within 5 % of the limit: C libraries report a refused allocation in their own ways)
    ends the worker with EXIT_MEMORY, as the watchdog does: the parent names the limit."""
    global _job
    _take_environment(env)
    saved = tempfile.tempdir
    tempfile.tempdir = folder
    _reset_peak()
    with _state:
        _job = {"start": time.monotonic(), "timeout": timeout, "memory": memory}
    try:
        return fn(*args, **kwargs)
    except BaseException as e:
        if memory and (isinstance(e, MemoryError) or _status("VmHWM") > 0.95 * memory):
            _stop(EXIT_MEMORY)
        raise
    finally:
        with _state:
            _job = None
        tempfile.tempdir = saved
        if _trim is not None:
            _trim(0)


# --------------------------------------------------------------------------------------------
# In the parent process
# --------------------------------------------------------------------------------------------


def _check_main() -> None:
    """A script read from standard input (`python - < script.py`) has a `__main__` whose
    `__file__` ("<stdin>") a spawned worker cannot run again: every worker would die at start.
    The workers never need that script (their jobs are iscc-lab functions), so they are told
    there is none."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is not None and getattr(main, "__spec__", None) is None and not os.path.isfile(path):
        del main.__file__


class Pool:
    """Worker processes for ISCC jobs with time and memory limits (see the module's doc).

    :param workers: processes (default: one per core).
    :param niceness: added to the workers' nice value (the server's are niced).
    :param job_timeout: default time limit of a job in seconds (0: none; default: settings).
    :param job_memory: default memory limit of a job in bytes (0: none; default: settings).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        niceness: int = 0,
        job_timeout: float | None = None,
        job_memory: int | None = None,
        max_tasks: int = MAX_TASKS,
    ):
        settings = get_settings()
        self.max_workers = int(workers or os.cpu_count() or 1)
        self.niceness = niceness
        self.job_timeout = settings.job_timeout if job_timeout is None else float(job_timeout)
        self.job_memory = settings.job_memory if job_memory is None else int(job_memory)
        self.max_tasks = max_tasks
        self._lock = threading.Lock()
        self._pebble: ProcessPool | None = None
        self._registry = None
        self._pids: set[int] = set()
        self._in_flight: dict[int, int] = {}  # id of a job's Future -> its memory limit
        self._over_memory: set[int] = set()  # workers this process stopped over the limit
        self._watch: threading.Thread | None = None

    # -- the pebble pool, made on first use and replaced when it breaks

    def _pool(self) -> ProcessPool:
        with self._lock:
            if self._pebble is None:
                _check_main()
                context = multiprocessing.get_context("spawn")
                self._registry = context.SimpleQueue()
                self._pebble = ProcessPool(
                    self.max_workers,
                    max_tasks=self.max_tasks,
                    initializer=_init_worker,
                    initargs=(os.getpid(), self.niceness, self._registry),
                    context=context,
                )
            if self._watch is None:
                self._watch = threading.Thread(
                    target=self._watch_memory, name="iscc-lab-pool-memory", daemon=True
                )
                self._watch.start()
            return self._pebble

    def _replace(self, broken: ProcessPool) -> None:
        with self._lock:
            if self._pebble is not broken:
                return
            self._pebble = None
        threading.Thread(target=_stop_pebble, args=(broken,), daemon=True).start()

    def _watch_memory(self) -> None:
        """Sample the resident memory of every worker with its tools, from this process (the
        worker's own watchdog cannot act while a C library in it holds the GIL): a worker over
        the memory limit of the jobs in flight is killed with its process group."""
        procs: dict[int, psutil.Process] = {}
        kids: dict[int, list] = {}
        listed = looked = 0.0
        while True:
            time.sleep(SAMPLE)
            limits = list(self._in_flight.values())
            limit = max(limits) if limits and all(limits) else 0
            if not limit:
                continue
            now = time.monotonic()
            if now - looked > LIST_WORKERS:  # cheap: the workers' own registrations
                looked = now
                new = [pid for pid in self.pids() if pid not in procs]
            else:
                new = []
            for pid in new:
                if pid not in procs:
                    try:
                        procs[pid] = psutil.Process(pid)
                    except psutil.Error:
                        continue
            for pid, proc in list(procs.items()):
                try:
                    if now - listed > LIST_TOOLS:
                        kids[pid] = proc.children(recursive=True)
                    used = proc.memory_info().rss
                except psutil.Error:
                    procs.pop(pid, None)
                    kids.pop(pid, None)
                    continue
                for kid in kids.get(pid, ()):
                    try:
                        used += kid.memory_info().rss
                    except psutil.Error:
                        continue
                if used > limit:
                    self._over_memory.add(pid)
                    _kill_group(pid)
            if now - listed > LIST_TOOLS:
                listed = now

    # -- jobs

    def submit(
        self, fn, *args, label: str | None = None, timeout=_UNSET, memory=_UNSET, **kwargs
    ) -> Future:
        """Run `fn(*args, **kwargs)` in a worker; a Future of its result.

        The Future raises what `fn` raised, or `JobStopped` (over a limit), `WorkerDied` (the
        worker ended) or `PoolBroken` (every worker ended: the pool is replaced). `label` (a
        file name) starts the messages of these. `timeout` and `memory` override the pool's
        limits for this job (0: none). Cancelling the Future stops the job's worker.
        """
        timeout = self.job_timeout if timeout is _UNSET or timeout is None else float(timeout)
        memory = self.job_memory if memory is _UNSET or memory is None else int(memory)
        folder = tempfile.mkdtemp(prefix="iscc-lab-job-")
        outer: Future = Future()
        env = {k: v for k, v in os.environ.items() if k.startswith(PASSED_PREFIX)}
        job = (fn, args, kwargs, folder, timeout, memory, env)
        backstop = timeout + BACKSTOP if timeout else None
        for attempt in (1, 2):
            pool = self._pool()
            try:
                inner = pool.schedule(_run_job, args=job, timeout=backstop)
                break
            except RuntimeError:  # broken or stopped since the last job: start afresh
                self._replace(pool)
                if attempt == 2:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise
        limits = (label, timeout, memory)
        self._in_flight[id(outer)] = memory
        inner.add_done_callback(lambda f: self._finish(f, outer, pool, folder, limits))
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return outer

    def _finish(self, inner: Future, outer: Future, pool, folder: str, limits) -> None:
        label, timeout, memory = limits
        over_time = f"after the job time limit of {timeout:g} s."
        self._in_flight.pop(id(outer), None)
        try:
            value = inner.result()
        except CancelledError:
            outer.cancel()
        except ProcessExpired as e:
            _kill_group(e.pid)
            if e.exitcode == EXIT_MEMORY or e.pid in self._over_memory:
                self._over_memory.discard(e.pid)
                over_memory = f"after using the job memory limit of {limit_text(memory)}."
                error = JobStopped(_stopped(label, over_memory), "memory")
            elif e.exitcode == EXIT_TIMEOUT:
                error = JobStopped(_stopped(label, over_time), "time")
            else:
                error = WorkerDied(_died(label))
            _set(outer, error=error)
        except FutureTimeout:  # pebble's backstop: the watchdog did not get to stop the job
            self._sweep()
            _set(outer, error=JobStopped(_stopped(label, over_time), "time"))
        except (BrokenProcessPool, RuntimeError) as e:
            self._replace(pool)
            _set(outer, error=PoolBroken(_died(label) + f" ({e})"))
        except BaseException as e:  # noqa: BLE001 - what the job raised, passed on
            _set(outer, error=e)
        else:
            _set(outer, value=value)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _sweep(self) -> None:
        """End the tools left behind by workers that are gone."""
        known = set(self._pids)
        alive = set(self.pids())
        for pid in known - alive:
            _kill_group(pid)

    async def run(self, fn, *args, label: str | None = None, **kwargs):
        """`submit()` awaited: the job's result in a coroutine (the server's handlers)."""
        return await asyncio.wrap_future(self.submit(fn, *args, label=label, **kwargs))

    def warm(self) -> None:
        """Start every worker now, in parallel, so that the first jobs do not wait for one to
        start and import iscc-sdk."""
        pool = self._pool()
        for _ in range(self.max_workers):
            try:
                pool.schedule(os.getpid)
            except RuntimeError:  # pragma: no cover - broken meanwhile; the next job mends it
                break

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        with self._lock:
            registry = self._registry
        while registry is not None and not registry.empty():
            self._pids.add(registry.get())
        live = []
        for pid in sorted(self._pids):
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    live.append(pid)
                    continue
            except psutil.Error:
                pass
            self._pids.discard(pid)
        return live

    def shutdown(self) -> None:
        """Stop the workers now (running jobs fail); the next job starts a new pool."""
        with self._lock:
            pool, self._pebble = self._pebble, None
        if pool is not None:
            _stop_pebble(pool)


def _set(future: Future, *, value=None, error: BaseException | None = None) -> None:
    if future.done():  # cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _stopped(label: str | None, why: str) -> str:
    return f"{label}: stopped {why}" if label else f"Stopped {why}"


def _died(label: str | None) -> str:
    where = f"{label}: the" if label else "The"
    return (
        f"{where} worker process handling this job stopped unexpectedly (a crash, or it ran out "
        "of memory on this file); the others go on."
    )


def _kill_group(pid: int | None) -> None:
    """End what is left of a dead worker's process group (its tools)."""
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _stop_pebble(pool: ProcessPool) -> None:
    pool.stop()
    pool.join(60)


_pools: dict[tuple, Pool] = {}
_pools_lock = threading.Lock()


def shared_pool(
    workers: int | None = None,
    *,
    niceness: int = 0,
    job_timeout: float | None = None,
    job_memory: int | None = None,
) -> Pool:
    """The pool of this process for `workers` and `niceness`, made on first use and kept warm
    until the process exits (or `shutdown_pools()`). Limits given here become its defaults."""
    n = int(workers or os.cpu_count() or 1)
    with _pools_lock:
        pool = _pools.get((n, niceness))
        if pool is None:
            pool = _pools[(n, niceness)] = Pool(n, niceness=niceness)
    if job_timeout is not None:
        pool.job_timeout = float(job_timeout)
    if job_memory is not None:
        pool.job_memory = int(job_memory)
    return pool


@atexit.register
def shutdown_pools() -> None:
    """Stop every shared pool of this process."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.shutdown()
