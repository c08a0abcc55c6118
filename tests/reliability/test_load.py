"""Load: 500 mixed requests (uploads, ISCC, downloads, explain, simprint) from 16 concurrent
clients on loopback against a real `iscc-lab serve`, at CI size (times
ISCC_LAB_RELIABILITY_SCALE).

Every response is checked (bodies against reference results made before the load, downloads
byte for byte); afterwards nothing is lost (every upload downloads identically), nothing is left
half-received, no temporary file is left, the server holds no more file descriptors than before,
and its memory is back near its baseline.

Figures go to tests/artifacts/reliability/load.json.
"""

import hashlib
import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import iscc_samples
import pytest

from tests.reliability.conftest import EXPLAIN_PATH, SCALE, record, scaled, serve, session

REQUESTS = 500
CLIENTS = 16
MIX = {"upload": 25, "iscc": 15, "download": 25, "explain": 20, "simprint": 15}
ISCC_INPUTS = [
    ("demo.jpg", iscc_samples.IMAGE / "demo.jpg", "image/jpeg"),
    ("demo.png", iscc_samples.IMAGE / "demo.png", "image/png"),
    ("demo.txt", iscc_samples.TEXT / "demo.txt", "text/plain"),
    ("demo.html", iscc_samples.TEXT / "demo.html", "text/html"),
]
TEXTS = [
    "Hello World! This is a short text for simprint generation.",
    "A longer text that is cut into several content-defined chunks. " * 60,
    "Ünïcödé tëxt wïth äccents, 漢字 and emoji 😀 " * 20,
]
VOLATILE = ("media_id", "content")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = serve(tmp_path_factory.mktemp("load"), env={"ISCC_WEB_CLEANUP_INTERVAL": 0})
    try:
        s.warm()
        yield s
    finally:
        s.stop()


def references(server) -> dict:
    """The answers every request of the load must reproduce, made one at a time before it."""
    ref = {"explain": server.call("GET", EXPLAIN_PATH).json(), "simprint": [], "iscc": []}
    for text in TEXTS:
        r = server.call("POST", "simprint", data=json.dumps({"text": text}))
        assert r.status_code == 200
        ref["simprint"].append(r.json())
    for name, path, content_type in ISCC_INPUTS:
        r = server.upload(path.read_bytes(), name, route="iscc", content_type=content_type)
        assert r.status_code == 201, r.text
        ref["iscc"].append({k: v for k, v in r.json().items() if k not in VOLATILE})
        assert server.call("DELETE", f"media/{r.json()['media_id']}").status_code == 204
    return ref


def plan(n: int, clients: int, seed: int = 6) -> list[list[str]]:
    rng = random.Random(seed)
    kinds = list(MIX)
    ops = rng.choices(kinds, weights=[MIX[k] for k in kinds], k=n)
    return [ops[i::clients] for i in range(clients)]


class Client:
    """One of the concurrent clients: its own connection(s), its own uploads."""

    def __init__(self, server, ref, index: int):
        self.server, self.ref, self.index = server, ref, index
        self.s = session()
        self.rng = random.Random(1000 + index)
        self.uploads: dict[str, tuple[str, bytes]] = {}  # media_id -> (sha256, bytes)
        self.errors: list[str] = []
        self.latency: dict[str, list[float]] = {k: [] for k in MIX}

    def run(self, ops: list[str]) -> None:
        for op in ops:
            if op == "download" and not self.uploads:
                op = "upload"
            started = time.monotonic()
            try:
                getattr(self, op)()
            except Exception as e:  # noqa: BLE001 - a connection error counts like a wrong answer
                self.errors.append(f"{op}: {type(e).__name__}: {e}"[:300])
            self.latency[op].append(time.monotonic() - started)
        self.s.close()

    def _expect(self, cond: bool, what: str, r) -> None:
        if not cond:
            self.errors.append(f"{what}: {r.status_code} {r.text[:200]}")

    def upload(self):
        size = self.rng.choice([1, 100, 4096, 65_536, 300_000, 1 << 20])
        data = self.rng.randbytes(size)
        r = self.server.upload(data, f"load-{self.index}-{len(self.uploads)}.bin", s=self.s)
        self._expect(r.status_code == 201 and len(r.json()["media_id"]) == 13, "upload", r)
        if r.status_code == 201:
            self.uploads[r.json()["media_id"]] = (hashlib.sha256(data).hexdigest(), data)

    def download(self):
        media_id = self.rng.choice(list(self.uploads))
        r = self.server.call("GET", f"media/{media_id}", s=self.s)
        self._expect(r.status_code == 200 and r.content == self.uploads[media_id][1], "download", r)

    def iscc(self):
        i = self.rng.randrange(len(ISCC_INPUTS))
        name, path, content_type = ISCC_INPUTS[i]
        r = self.server.upload(
            path.read_bytes(), name, route="iscc", s=self.s, content_type=content_type
        )
        ok = (
            r.status_code == 201
            and {k: v for k, v in r.json().items() if k not in VOLATILE} == self.ref["iscc"][i]
        )
        self._expect(ok, f"iscc {name}", r)
        if r.status_code == 201:
            media_id = r.json()["media_id"]
            self.uploads[media_id] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.read_bytes(),
            )

    def explain(self):
        r = self.server.call("GET", EXPLAIN_PATH, s=self.s)
        self._expect(r.status_code == 200 and r.json() == self.ref["explain"], "explain", r)

    def simprint(self):
        i = self.rng.randrange(len(TEXTS))
        r = self.server.call("POST", "simprint", s=self.s, data=json.dumps({"text": TEXTS[i]}))
        self._expect(r.status_code == 200 and r.json() == self.ref["simprint"][i], "simprint", r)


def snapshot(server) -> dict:
    workers = server.children()
    return {
        "fds": server.fds(),
        "rss": server.rss(),
        "workers_rss": {pid: server.rss(pid) for pid in workers},
        "threads": len(__import__("psutil").Process(server.pid).threads()),
    }


def settle(server, baseline_fds: int, timeout: float = 10) -> list[str]:
    """The server's descriptors once the clients' connections are closed."""
    deadline = time.monotonic() + timeout
    fds = server.fds()
    while len(fds) > baseline_fds and time.monotonic() < deadline:
        time.sleep(0.2)
        fds = server.fds()
    return fds


def run_round(server, ref, n, clients):
    workers = [Client(server, ref, i) for i in range(clients)]
    ops = plan(n, clients)
    start = threading.Barrier(clients)

    def go(i):
        start.wait()
        workers[i].run(ops[i])

    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(go, range(clients)))
    return workers, time.monotonic() - t0


@pytest.mark.timeout(600 * max(1, SCALE))
def test_mixed_load_from_16_clients(server):
    ref = references(server)
    # A warm-up round, so that lazily made things (thread pools, caches, log handlers) exist
    # before the baseline is taken.
    warm, _ = run_round(server, ref, 64, CLIENTS)
    assert not [e for c in warm for e in c.errors]
    _delete_all(server, warm)
    time.sleep(1)
    before = snapshot(server)
    before["fds"] = settle(server, 0, timeout=2)

    n = scaled(REQUESTS)
    clients, seconds = run_round(server, ref, n, CLIENTS)
    errors = [e for c in clients for e in c.errors]
    done = sum(len(v) for c in clients for v in c.latency.values())

    # Nothing lost: every media uploaded in the load downloads identically afterwards.
    uploaded = {m: v for c in clients for m, v in c.uploads.items()}
    s = session()
    lost = [
        m
        for m, (sha, _) in uploaded.items()
        if hashlib.sha256(server.call("GET", f"media/{m}", s=s).content).hexdigest() != sha
    ]
    s.close()
    incoming = list((server.media / ".incoming").iterdir())
    temp = sorted(p.name for p in server.tmp.iterdir())
    after_fds = settle(server, len(before["fds"]))
    after = snapshot(server)
    after["fds"] = after_fds
    time.sleep(2)
    rss_settled = server.rss()
    latency = {
        k: {
            "count": len(v),
            "p50_ms": round(1000 * statistics.median(v)) if v else None,
            "p95_ms": round(1000 * _pct(v, 95)) if v else None,
            "max_ms": round(1000 * max(v)) if v else None,
        }
        for k in MIX
        for v in [[x for c in clients for x in c.latency[k]]]
    }
    extra_fds = sorted(set(after["fds"]) - set(before["fds"]))
    figures = {
        "requests": done,
        "clients": CLIENTS,
        "seconds": round(seconds, 1),
        "requests_per_second": round(done / seconds, 1),
        "errors": errors[:50],
        "error_count": len(errors),
        "media_uploaded": len(uploaded),
        "media_lost_or_changed": len(lost),
        "incoming_left": len(incoming),
        "temp_dir_entries_left": temp,
        "server_fds": {
            "before": len(before["fds"]),
            "after": len(after["fds"]),
            "extra": extra_fds,
        },
        "server_threads": {"before": before["threads"], "after": after["threads"]},
        "server_rss_mib": {
            "before": round(before["rss"] / 2**20, 1),
            "after": round(after["rss"] / 2**20, 1),
            "after_2s": round(rss_settled / 2**20, 1),
        },
        "workers_rss_mib": {
            "before": [round(v / 2**20) for v in before["workers_rss"].values()],
            "after": [round(v / 2**20) for v in after["workers_rss"].values()],
        },
        "latency": latency,
    }
    _delete_all(server, clients)
    figures["media_left_after_deleting_all"] = len(
        [p for p in server.media.iterdir() if not p.name.startswith(".")]
    )
    record("load", figures)

    assert done == n
    assert not errors, errors[:10]
    assert not lost
    assert not incoming
    assert temp == [], temp
    assert len(after["fds"]) <= len(before["fds"]), extra_fds
    # Memory back near its baseline: CPython keeps some freed memory; allow 10% or 16 MiB.
    assert rss_settled <= before["rss"] + max(16 << 20, before["rss"] // 10), figures[
        "server_rss_mib"
    ]
    assert figures["media_left_after_deleting_all"] == 0
    assert seconds < 300 * max(1, SCALE)
    assert server.alive()


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _delete_all(server, clients):
    s = session()
    for c in clients:
        for media_id in c.uploads:
            r = server.call("DELETE", f"media/{media_id}", s=s)
            assert r.status_code == 204, r.text
    s.close()


def test_no_temporary_files_are_left_by_any_job(server):
    jpeg = (iscc_samples.IMAGE / "demo.jpg").read_bytes()
    media_id = server.upload(jpeg, "cat.jpg", content_type="image/jpeg").json()["media_id"]
    before = sorted(p.name for p in server.tmp.iterdir())
    assert server.call("POST", f"metadata/{media_id}", json={"name": "A cat"}).status_code == 201
    assert (
        server.upload(
            (iscc_samples.VIDEO / "demo.mp4").read_bytes(), "clip.mp4", route="iscc"
        ).status_code
        == 201
    )
    after = sorted(p.name for p in server.tmp.iterdir())
    assert after == before, f"left behind: {sorted(set(after) - set(before))}"
