"""Benchmarks of the REST face (issue 3), written to bench/RESULTS.md as ratios and figures
measured in the same run; never a timed test.

1. Throughput of POST /iscc over the iscc-samples corpus with 4 concurrent clients, against the
   same work done by iscc-sdk directly in a process pool of the same size. Target: >= 0.9.
2. Peak memory (RSS) of the server process while it receives a 1 GiB upload, above its idle
   size. Target: < 100 MiB.
3. Time to first byte of GET /explain while a batch of uploads is processed. Target: median
   under 50 ms.

Run: `.venv/bin/python bench/bench_server.py` (or `make bench`). `--quick` uses a 256 MiB upload.
"""

import argparse
import base64
import http.client
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import iscc_samples
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import stamp, write_section  # noqa: E402

TOKEN = "bench-token"
WORKERS = 2
CLIENTS = 4
EXPLAIN = "/api/v1/explain/ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"
MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`iscc-lab serve` in a subprocess, with its own media folder."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        env = dict(os.environ, ISCC_WEB_MAX_WORKERS=str(WORKERS), ISCC_WEB_CLEANUP_INTERVAL="0")
        exe = Path(sys.executable).with_name("iscc-lab")
        self.log = open(workdir / "serve.log", "w+")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "serve",
                "--port",
                str(self.port),
                "--token",
                TOKEN,
                "--media-path",
                str(workdir / "media"),
            ],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(1200):  # up to 120 s: a shared machine under load starts slowly
            time.sleep(0.1)
            self.log.seek(0)
            if "API docs:" in self.log.read():
                break
        else:
            raise RuntimeError("iscc-lab serve did not start")
        self.ps = psutil.Process(self.proc.pid)

    def request(self, method, path, body=None, headers=None, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Authorization": f"token {TOKEN}", **(headers or {})}
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def upload(self, path: Path, route="iscc"):
        name = base64.b64encode(path.name.encode()).decode()
        status, data = self.request(
            "POST", f"/api/v1/{route}", path.read_bytes(), {"X-Upload-Filename": name}
        )
        if status != 201:
            raise RuntimeError(f"{path.name}: {status} {data[:200]!r}")
        return data

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def upload_all(server: Server, files, clients=CLIENTS) -> float:
    """Seconds for `clients` concurrent clients to POST every file to /iscc."""
    todo = queue.Queue()
    for f in files:
        todo.put(f)
    errors = []

    def client():
        while True:
            try:
                f = todo.get_nowait()
            except queue.Empty:
                return
            try:
                server.upload(f)
            except Exception as e:  # noqa: BLE001 - report, do not hide
                errors.append(str(e))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(errors[:3])
    return time.perf_counter() - t


def _sdk_job(path: str) -> str:
    """The same work as the server's, done by iscc-sdk directly: the file under its name."""
    import iscc_sdk as idk

    from iscc_lab import tools

    tools.wire()
    opts = dict(
        fallback=True, granular=True, byte_offsets=True, add_units=True, bits=256, wide=True
    )
    return idk.code_iscc(path, **opts).iscc


def _warm(_):
    from iscc_lab import tools

    tools.wire()
    import iscc_sdk  # noqa: F401

    return os.getpid()


def sdk_pool(files) -> float:
    """Seconds for iscc-sdk in a spawned process pool of the same size over the same files."""
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_warm, range(WORKERS * 2)))
        t = time.perf_counter()
        list(pool.map(_sdk_job, [str(f) for f in files]))
        return time.perf_counter() - t


def bench_throughput(server: Server, files, rounds: int) -> dict:
    server.upload(files[0])  # the pool is warm; this reads the files into the page cache too
    served, direct = [], []
    for _ in range(rounds):  # alternate, so that drifts of the machine hit both alike
        served.append(upload_all(server, files))
        direct.append(sdk_pool(files))
    served, direct = min(served), min(direct)
    return {"files": len(files), "server_s": served, "sdk_s": direct, "ratio": direct / served}


def bench_memory(server: Server, size: int) -> dict:
    """Peak RSS of the server process while one client uploads `size` bytes to POST /media."""
    time.sleep(0.5)
    idle = server.ps.memory_info().rss
    peak = idle
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.ps.memory_info().rss)
            time.sleep(0.005)

    chunk = os.urandom(MiB)

    def body():
        for _ in range(size // MiB):
            yield chunk

    sampler = threading.Thread(target=sample)
    sampler.start()
    t = time.perf_counter()
    name = base64.b64encode(b"big.bin").decode()
    status, data = server.request(
        "POST", "/api/v1/media", body(), {"X-Upload-Filename": name, "Content-Length": str(size)}
    )
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    if status != 201:
        raise RuntimeError(f"upload failed: {status} {data[:200]!r}")
    return {
        "size": size,
        "idle_mib": idle / MiB,
        "peak_mib": peak / MiB,
        "above_mib": (peak - idle) / MiB,
        "mib_s": size / MiB / seconds,
    }


def ttfb(server: Server) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    t = time.perf_counter()
    conn.request("GET", EXPLAIN, headers={"Authorization": f"token {TOKEN}"})
    resp = conn.getresponse()
    first = time.perf_counter() - t
    resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"explain: {resp.status}")
    return first


def bench_latency(server: Server, files) -> dict:
    """TTFB of GET /explain, idle and while the corpus is uploaded by 4 clients."""
    idle = [ttfb(server) for _ in range(20)]
    busy = []
    worker = threading.Thread(target=upload_all, args=(server, files))
    worker.start()
    time.sleep(0.5)
    while worker.is_alive():
        busy.append(ttfb(server))
        time.sleep(0.05)
    worker.join()
    return {
        "idle_ms": statistics.median(idle) * 1000,
        "median_ms": statistics.median(busy) * 1000,
        "p95_ms": sorted(busy)[int(len(busy) * 0.95) - 1] * 1000,
        "samples": len(busy),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB upload, one round")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    files = iscc_samples.all()
    size = (256 if args.quick else 1024) * MiB
    rounds = 1 if args.quick else 2
    workdir = Path(tempfile.mkdtemp(prefix="iscc-lab-bench-"))
    server = Server(workdir)
    try:
        thr = bench_throughput(server, files, rounds)
        print(
            f"throughput: server {thr['server_s']:.2f}s, iscc-sdk pool {thr['sdk_s']:.2f}s, ratio {thr['ratio']:.2f}"
        )
        lat = bench_latency(server, files)
        print(
            f"explain TTFB while busy: median {lat['median_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms"
        )
        mem = bench_memory(server, size)
        print(
            f"upload {size // MiB} MiB: server RSS {mem['idle_mib']:.0f} -> {mem['peak_mib']:.0f} MiB (+{mem['above_mib']:.1f})"
        )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def ok(cond):
        return "yes" if cond else "**no**"

    text = f"""
Measured {stamp()}, by `bench/bench_server.py` against `iscc-lab serve` with {WORKERS} ISCC
workers, on loopback, in one run.

| measure | result | target | met |
|---|---|---|---|
| POST /iscc throughput, {CLIENTS} clients, {thr["files"]} iscc-samples files | {thr["server_s"]:.2f} s vs {thr["sdk_s"]:.2f} s for iscc-sdk in a {WORKERS}-process pool: **{thr["ratio"]:.2f}** of its throughput | >= 0.9 | {ok(thr["ratio"] >= 0.9)} |
| server RSS while receiving a {size // MiB} MiB upload | idle {mem["idle_mib"]:.0f} MiB, peak {mem["peak_mib"]:.0f} MiB: **+{mem["above_mib"]:.1f} MiB** ({mem["mib_s"]:.0f} MiB/s) | < 100 MiB above idle | {ok(mem["above_mib"] < 100)} |
| GET /explain time to first byte while the corpus is processed | median **{lat["median_ms"]:.1f} ms**, p95 {lat["p95_ms"]:.1f} ms ({lat["samples"]} samples; idle median {lat["idle_ms"]:.1f} ms) | median < 50 ms | {ok(lat["median_ms"] < 50)} |

Best of {rounds} round(s) for throughput. The iscc-sdk baseline runs `code_iscc` with the same
options on the same files in a spawned `ProcessPoolExecutor` of the same size, warmed up first;
the server's figure includes uploading each file over HTTP, storing it and writing its result.
"""
    if not args.no_write:
        write_section("REST API (iscc-lab serve)", text)
    print(text)


if __name__ == "__main__":
    main()
