"""Benchmarks of the collection routes (issue 12), written to bench/RESULTS.md; never a timed test.

A media folder of 10,000 stored media is made directly (record, bytes and ISCC result per media,
with real ISCC-CODEs made by iscc-core: Meta, Content-Image, Data and Instance units, in planted
clusters of near copies; nine in ten owned by the benchmark's client address), then
`iscc-lab serve` answers, while two clients keep uploading the iscc-samples corpus to
POST /iscc:

1. GET /media, one page of 50 (random page, ordering, some with a filename search). Target:
   median under 20 ms. Baseline in the same run: the store's own `listing()`, which reads
   every record.
2. GET /lookup?sha256= of a stored media. Target: median under 20 ms. Baseline: `Store.find`.
3. GET /search?iscc=&k=10 of a stored code. Target: median under 50 ms. Baseline: a brute-force
   scan in Python with iscc-core over the same codes.

Also, in-process: rebuilding a missing catalogue from the 10,000 folders, and (with --million)
the catalogue's own listing, look-up and search at 1,000,000 rows.

Run: `.venv/bin/python bench/bench_collection_api.py [--quick] [--million] [--no-write]`.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import iscc_core as ic
import iscc_samples

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import TOKEN, free_port  # noqa: E402
from common import stamp, write_section  # noqa: E402

from iscc_lab.media_catalogue import CataloguedStore, MediaCatalogue  # noqa: E402
from iscc_lab.store import MediaRecord, Store, new_media_id  # noqa: E402

N = 10_000
SAMPLES = 200  # per endpoint
CLUSTER = 20  # media per planted cluster of near copies
WORDS = ["cat", "dog", "Kätzchen", "report", "scan", "photo", "archive", "IMG", "page", "map"]


def _unit(mt, st, digest: bytes) -> str:
    return "ISCC:" + ic.encode_component(mt, st, ic.VS.V0, 64, digest)


def _flip(digest: bytes, rng: random.Random, bits: int) -> bytes:
    value = int.from_bytes(digest, "big")
    for b in rng.sample(range(64), bits):
        value ^= 1 << b
    return value.to_bytes(8, "big")


def synthetic_codes(n: int, seed: int = 12) -> list[str]:
    """n ISCC-CODEs (Meta, Content-Image, Data, Instance; 64-bit units), in clusters of
    near copies on content (a few bits flipped from the cluster's centre).

    The first is made by iscc-core's `gen_iscc_code_v0` from its four units; the others reuse
    its header with their own unit bodies (what `gen_iscc_code_v0` would make, checked on a
    sample), so that a million take seconds."""
    rng = random.Random(seed)
    header = None
    codes = []
    centre = None
    for i in range(n):
        if i % CLUSTER == 0:
            centre = rng.randbytes(8)
        digests = [rng.randbytes(8), _flip(centre, rng, rng.randint(0, 6))]
        digests += [rng.randbytes(8), rng.randbytes(8)]
        if header is None or i % 10007 == 0:
            kinds = [(ic.MT.META, ic.ST.NONE), (ic.MT.CONTENT, ic.ST_CC.IMAGE)]
            kinds += [(ic.MT.DATA, ic.ST.NONE), (ic.MT.INSTANCE, ic.ST.NONE)]
            units = [_unit(mt, st, d) for (mt, st), d in zip(kinds, digests, strict=True)]
            code = ic.gen_iscc_code_v0(units)["iscc"]
            raw = ic.decode_base32(code.removeprefix("ISCC:"))
            header = header or raw[:2]
            assert raw == header + b"".join(digests), "the header shortcut is not iscc-core's"
            codes.append(code)
            continue
        codes.append("ISCC:" + ic.encode_base32(header + b"".join(digests)))
    return codes


def make_store(root: Path, n: int, ours: str) -> list[dict]:
    """n media in the store at `root`, written directly (as Store.put and write_result would
    leave them, without their fsyncs); returns their facts."""
    store = Store(root)
    mine, other = store.owner_of(ours), store.owner_of("192.0.2.9")
    rng = random.Random(7)
    now = time.time()
    facts = []
    for i, code in enumerate(synthetic_codes(n)):
        media_id = new_media_id()
        data = f"media {i} {rng.random()}".encode()
        name = f"{rng.choice(WORDS)} {i:05d}.jpg"
        record = MediaRecord(
            media_id=media_id, filename=name, disk_name=name, content_type="image/jpeg",
            size=len(data), owner=mine if i % 10 else other, created=now - (n - i) * 0.1,
            sha256=hashlib.sha256(data).hexdigest(),
            datahash="1e20" + hashlib.sha256(b"d" + data).hexdigest(),
        )  # fmt: skip
        folder = root / media_id
        folder.mkdir()
        (folder / name).write_bytes(data)
        (folder / "record.json").write_text(json.dumps(record.to_dict()))
        result = {"iscc": code, "mediatype": "image/jpeg", "datahash": record.datahash}
        (folder / "iscc.json").write_text(json.dumps(result))
        facts.append(
            {"media_id": media_id, "sha256": record.sha256, "iscc": code, "mine": i % 10 != 0}
        )
    return facts


class Server:
    """`iscc-lab serve` in a subprocess on the media folder of `workdir` (given minutes to start:
    the machine may be busy)."""

    def __init__(self, workdir: Path, timeout: float = 180):
        self.port = free_port()
        env = dict(os.environ, ISCC_WEB_MAX_WORKERS="2", ISCC_WEB_CLEANUP_INTERVAL="0")
        exe = Path(sys.executable).with_name("iscc-lab")
        self.log = open(workdir / "serve.log", "w+")
        cmd = [str(exe), "serve", "--port", str(self.port), "--token", TOKEN]
        self.proc = subprocess.Popen(
            [*cmd, "--media-path", str(workdir / "media")],
            cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            self.log.seek(0)
            if "API docs:" in self.log.read():
                return
            if self.proc.poll() is not None:
                break
        self.log.seek(0)
        raise RuntimeError("iscc-lab serve did not start:\n" + self.log.read()[-2000:])

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def brute_force(codes: list[str], query: str, k: int) -> list[int]:
    """The baseline search: every code's Content unit against the query's, with iscc-core."""

    def content(code):
        for u in ic.iscc_decompose(code):
            c = ic.Code(u)
            if c.maintype == ic.MT.CONTENT:
                return int.from_bytes(c.hash_bytes, "big")
        return None

    q = content(query)
    dist = [bin(q ^ content(c)).count("1") for c in codes]
    return sorted(range(len(codes)), key=lambda i: (dist[i], i))[:k]


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> tuple[float, dict]:
        t = time.perf_counter()
        self.conn.request("GET", "/api/v1/" + path, headers={"Authorization": f"token {TOKEN}"})
        resp = resp_body = None
        resp = self.conn.getresponse()
        resp_body = resp.read()
        elapsed = time.perf_counter() - t
        if resp.status != 200:
            raise RuntimeError(f"{path}: {resp.status} {resp_body[:200]!r}")
        return elapsed, json.loads(resp_body)


def keep_uploading(port: int, stop: threading.Event, counter: list) -> None:
    files = iscc_samples.images() + iscc_samples.texts()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    i = 0
    while not stop.is_set():
        path = files[i % len(files)]
        i += 1
        name = base64.b64encode(path.name.encode()).decode()
        conn.request(
            "POST", "/api/v1/iscc", body=path.read_bytes(),
            headers={"Authorization": f"token {TOKEN}", "X-Upload-Filename": name},
        )  # fmt: skip
        resp = conn.getresponse()
        resp.read()
        if resp.status == 201:
            counter[0] += 1


def measure(port: int, facts: list[dict], samples: int) -> dict:
    """Medians (ms) of the three requests while two clients upload."""
    rng = random.Random(3)
    mine = [f for f in facts if f["mine"]]
    client = Client(port)
    stop, uploaded = threading.Event(), [0]
    uploaders = [
        threading.Thread(target=keep_uploading, args=(port, stop, uploaded)) for _ in range(2)
    ]
    for t in uploaders:
        t.start()
    time.sleep(2)  # the uploads are going
    times = {"media": [], "lookup": [], "search": []}
    checks = {"search_first_is_self": 0}
    pages = len(mine) // 50
    try:
        for _ in range(samples):
            ordering = rng.choice(["-created", "created", "filename", "-filesize"])
            query = f"media?page={rng.randint(1, pages)}&page_size=50&ordering={ordering}"
            if rng.random() < 0.2:
                query = f"media?search={quote(rng.choice(WORDS))}&page={rng.randint(1, 50)}"
            t, body = client.get(query)
            times["media"].append(t)
            f = rng.choice(mine)
            t, body = client.get(f"lookup?sha256={f['sha256']}")
            assert [m["media_id"] for m in body["results"]] == [f["media_id"]]
            times["lookup"].append(t)
            t, body = client.get(f"search?iscc={f['iscc']}&k=10")
            checks["search_first_is_self"] += body["matches"][0]["distance"] == 0
            times["search"].append(t)
    finally:
        stop.set()
        for t in uploaders:
            t.join()
    out = {k: statistics.median(v) * 1000 for k, v in times.items()}
    out |= {f"{k}_p95": sorted(v)[int(len(v) * 0.95) - 1] * 1000 for k, v in times.items()}
    out["uploads"] = uploaded[0]
    out["samples"] = samples
    out |= checks
    return out


def baselines(root: Path, facts: list[dict], ours: str) -> dict:
    """The same questions answered without the catalogue, in-process: ms per call."""
    store = Store(root)
    owner = store.owner_of(ours)
    f = facts[len(facts) // 2]
    codes = [x["iscc"] for x in facts if x["mine"]]
    return {
        "listing": timed(store.listing, owner, 7, 50) * 1000,
        "find": timed(lambda: store.find(sha256=f["sha256"])) * 1000,
        "brute": timed(brute_force, codes, f["iscc"], 10) * 1000,
    }


def rebuild(root: Path) -> float:
    """Seconds to rebuild a missing catalogue from the folders."""
    folder = root / ".catalogue"
    shutil.rmtree(folder, ignore_errors=True)
    t = time.perf_counter()
    store = CataloguedStore(root)
    took = time.perf_counter() - t
    store.catalogue.close()
    return took


def million(n: int = 1_000_000) -> dict:
    """The catalogue alone at n rows (no folders): inserting, a page, a look-up, a search."""
    work = Path(tempfile.mkdtemp(prefix="iscc-lab-bench-million-"))
    try:
        store = Store(work / "media")
        cat = MediaCatalogue(work / "catalogue.sqlite", store)
        codes = synthetic_codes(n)
        now = time.time()
        owners = [f"owner-{i % 10}" for i in range(n)]
        t = time.perf_counter()
        rows = []
        for i, code in enumerate(codes):
            rec = MediaRecord(
                media_id=f"{i:013d}", filename=f"{WORDS[i % 10]} {i}.jpg", disk_name="x",
                content_type="image/jpeg", size=1000 + i, owner=owners[i], created=now + i,
                sha256=hashlib.sha256(str(i).encode()).hexdigest(),
            )  # fmt: skip
            rows.append((rec, {"iscc": code, "mediatype": "image/jpeg"}))
        cat.add_many(rows)
        insert_s = time.perf_counter() - t
        t = time.perf_counter()
        cat.search(codes[0], k=10, owner="owner-0")
        first_search_s = time.perf_counter() - t

        def median_ms(fn, reps=30):
            return statistics.median(timed(fn) for _ in range(reps)) * 1000

        rng = random.Random(5)
        # as the server starts: the vectors readied in a thread while pages are served
        cat._vectors = None  # as a new process has them (reopening would sync the empty store)
        warmed, pages = [], []
        warmer = threading.Thread(target=lambda: warmed.append(cat.warm("content")))
        t = time.perf_counter()
        warmer.start()
        while warmer.is_alive():
            pages.append(timed(lambda: cat.listing("owner-3", page=rng.randint(1, 100))))
        warm_s = time.perf_counter() - t
        assert warmed == [True], "the vectors were not taken into use"
        after_warm_ms = timed(lambda: cat.search(codes[1], k=10, owner="owner-0")) * 1000
        return {
            "rows": n,
            "insert_s": insert_s,
            "first_search_s": first_search_s,
            "warm_s": warm_s,
            "warm_pages": len(pages),
            "warm_page_median_ms": statistics.median(pages) * 1000 if pages else 0.0,
            "warm_page_max_ms": max(pages) * 1000 if pages else 0.0,
            "after_warm_ms": after_warm_ms,
            "page_ms": median_ms(lambda: cat.listing("owner-3", page=rng.randint(1, 100))),
            "deep_page_ms": median_ms(lambda: cat.listing("owner-3", page=1900), reps=5),
            "filtered_ms": median_ms(lambda: cat.listing("owner-3", search="kätz"), reps=5),
            "lookup_ms": median_ms(
                lambda: cat.lookup(
                    "sha256", hashlib.sha256(str(rng.randrange(n)).encode()).hexdigest()
                )
            ),
            "search_ms": median_ms(
                lambda: cat.search(codes[rng.randrange(n)], k=10, owner="owner-3")
            ),
            "search_all_ms": median_ms(lambda: cat.search(codes[rng.randrange(n)], k=10)),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 media, 50 samples")
    parser.add_argument("--million", action="store_true", help="also the catalogue at 1,000,000")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    n, samples = (1000, 50) if args.quick else (N, SAMPLES)
    workdir = Path(tempfile.mkdtemp(prefix="iscc-lab-bench-collection-"))
    try:
        t = time.perf_counter()
        facts = make_store(workdir / "media", n, "127.0.0.1")
        made_s = time.perf_counter() - t
        rebuild_s = rebuild(workdir / "media")
        base = baselines(workdir / "media", facts, "127.0.0.1")
        load_before = load()
        server = Server(workdir)
        try:
            got = measure(server.port, facts, samples)
        finally:
            server.stop()
        load_after = load()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    big = million() if args.million else None
    print(
        json.dumps(
            {"made_s": made_s, "rebuild_s": rebuild_s, **base, **got, "million": big}, indent=1
        )
    )

    def ok(cond):
        return "yes" if cond else "**no**"

    rows = "\n".join([
        f"| GET /media, a page of 50 (random page and ordering; 1 in 5 a filename search) "
        f"| **{got['media']:.1f} ms** | {got['media_p95']:.1f} ms | < 20 ms "
        f"| {ok(got['media'] < 20)} "
        f"| `Store.listing`, reading every record: {base['listing']:.0f} ms "
        f"({base['listing'] / got['media']:.0f}×) |",
        f"| GET /lookup?sha256= | **{got['lookup']:.1f} ms** | {got['lookup_p95']:.1f} ms "
        f"| < 20 ms "
        f"| {ok(got['lookup'] < 20)} | `Store.find`: {base['find']:.0f} ms "
        f"({base['find'] / got['lookup']:.0f}×) |",
        f"| GET /search?iscc=&k=10 (exact, on content) | **{got['search']:.1f} ms** "
        f"| {got['search_p95']:.1f} ms | < 50 ms | {ok(got['search'] < 50)} "
        f"| a brute-force scan with iscc-core: {base['brute']:.0f} ms "
        f"({base['brute'] / got['search']:.0f}×) |",
    ])  # fmt: skip
    text = f"""
Measured {stamp()}, by `bench/bench_collection_api.py` against `iscc-lab serve` (2 ISCC
workers) on loopback, with {n:,} stored media (real ISCC-CODEs from iscc-core in clusters of
{CLUSTER} near copies; nine in ten the client's own, so private files filter every query),
while 2 other clients kept uploading iscc-samples files to POST /iscc ({got["uploads"]}
processed during the {samples} samples per request). Load average (1, 5, 15 min) before the
server started: {load_before}; after: {load_after}.

| request | median | p95 | target | met | without the catalogue (same run, in-process) |
|---|---|---|---|---|---|
{rows}

Every search found its own media at distance 0 ({got["search_first_is_self"]} of {samples}).
Times are whole requests (sent to body read) on a kept-alive connection. Rebuilding a missing
catalogue from the {n:,} media folders (reading every record.json and iscc.json) took
{rebuild_s:.1f} s; the server opened the existing one and reconciled it with the folders.
"""
    if big:
        text += f"""
The catalogue alone at {big["rows"]:,} rows (10 owners; in-process, no HTTP; bulk insert
{big["insert_s"]:.0f} s; the first search of a process builds the in-memory units of the unit
type: {big["first_search_s"]:.1f} s): a page of 50 of one owner {big["page_ms"]:.1f} ms, page
1,900 (OFFSET 95,000) {big["deep_page_ms"]:.0f} ms, a filename search (a scan of the owner's
rows) {big["filtered_ms"]:.0f} ms, a sha256 look-up {big["lookup_ms"]:.2f} ms, a search of one
owner's 100,000 rows {big["search_ms"]:.1f} ms, of all rows {big["search_all_ms"]:.1f} ms.
Readied ahead, as the server does when it starts (`MediaCatalogue.warm` in a thread, on its own
connection): {big["warm_s"]:.1f} s, during which {big["warm_pages"]:,} pages were served (median
{big["warm_page_median_ms"]:.1f} ms, slowest {big["warm_page_max_ms"]:.0f} ms: the thread shares
the GIL, never the catalogue's lock); the first search after it took {big["after_warm_ms"]:.1f} ms.
"""
    if not args.no_write:
        write_section("Collection API (GET /media, /lookup, /search)", text)
    print(text)


if __name__ == "__main__":
    main()
