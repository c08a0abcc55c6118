"""batch() on a Dask LocalCluster with 2 worker processes against the local process pool of the
same size, over the iscc-samples corpus, in the same run (issue 7). Target: within 20 %.

Run: `.venv/bin/python bench/bench_dask.py` (or `make bench`).
"""

import argparse
import sys
import time
from pathlib import Path

import iscc_samples

sys.path.insert(0, str(Path(__file__).parent))
from common import stamp, write_section  # noqa: E402

WORKERS = 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()

    import distributed

    import iscc_lab

    files = iscc_samples.all()
    cluster = distributed.LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )
    client = distributed.Client(cluster)
    try:
        iscc_lab.batch(files[:4], client=client, progress=False)  # warm the workers
        local, dask = [], []
        for _ in range(args.rounds):  # alternate, so that drifts of the machine hit both alike
            t = time.perf_counter()
            a = iscc_lab.batch(files, workers=WORKERS, progress=False)
            local.append(time.perf_counter() - t)
            t = time.perf_counter()
            b = iscc_lab.batch(files, client=client, progress=False)
            dask.append(time.perf_counter() - t)
            assert a["iscc"].tolist() == b["iscc"].tolist(), "the two paths disagree"
    finally:
        client.close()
        cluster.close()
    best_local, best_dask = min(local), min(dask)
    ratio = best_dask / best_local
    text = f"""
Measured {stamp()}, by `bench/bench_dask.py`: `batch()` over the {len(files)} iscc-samples
files with a local process pool of {WORKERS} against `batch(client=...)` on a Dask
`LocalCluster` of {WORKERS} worker processes (one thread each), best of {args.rounds}
alternating rounds, both giving the same codes.

| path | seconds |
|---|---|
| local process pool, {WORKERS} workers | {best_local:.2f} |
| Dask LocalCluster, {WORKERS} workers | {best_dask:.2f} |
| **Dask / local** | **{ratio:.2f}** (target: within 20 %, at most 1.20: {"met" if ratio <= 1.2 else "**not met**"}) |

The local pool starts its processes inside the timed call (about a second each); the Dask
workers are already running. On one machine the local pool is the simpler choice; Dask is for
collections spread over many machines on shared storage.
"""
    print(text)
    if not args.no_write:
        write_section("batch() on Dask vs the local process pool", text)


if __name__ == "__main__":
    main()
