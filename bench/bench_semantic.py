"""Semantic-Code Text on against off: batch() over 200 texts with the test-made model.

    .venv/bin/python bench/bench_semantic.py [--files N] [--workers W] [--rounds R] [--no-write]

The real iscc-sct model cannot be had where this runs, so the tiny ONNX model of the tests
(tests/semantic/models.py: iscc-sct's inputs and output shape, a table look-up instead of a
transformer) stands in. Its inference is far cheaper than the real model's, so the figure shows
what iscc-lab adds around the model (loading, chunking, tokenising, the second pass for the
granular features), not the real model's speed.

In one run, interleaved round by round (best round counts):
- `batch(folder, semantic=False, workers=W)`,
- `batch(folder, semantic=True, workers=W)`.
Every process records each ONNX session it creates (a `sitecustomize` on the workers'
PYTHONPATH wraps onnxruntime.InferenceSession): the model is loaded once per worker process,
not per file. Replaces the section "## Semantic-Code Text (iscc-sct) on vs off" of
bench/RESULTS.md.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import stamp, write_section  # noqa: E402

TITLE = "Semantic-Code Text (iscc-sct) on vs off"
WORDS = (
    "archive harbour letter map photograph volunteer catalogue century street market river "
    "bridge school church festival winter summer family merchant ship railway station garden "
    "museum library record describe keep travel arrive build remember measure paint write"
).split()


def make_texts(folder: Path, n: int) -> list[Path]:
    rng = random.Random(13)
    paths = []
    for i in range(n):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
            for _ in range(rng.randint(12, 30))
        ]
        path = folder / f"text-{i:03}.txt"
        path.write_text(f"Document {i}.\n\n" + " ".join(sentences) + "\n")
        paths.append(path)
    return paths


SITECUSTOMIZE = """
import os
if os.environ.get("BENCH_SESSION_LOG"):
    import onnxruntime

    class _Counting(onnxruntime.InferenceSession):
        def __init__(self, *args, **kwargs):
            with open(os.environ["BENCH_SESSION_LOG"], "a") as f:
                f.write(f"{os.getpid()}\\n")
            super().__init__(*args, **kwargs)

    onnxruntime.InferenceSession = _Counting
"""


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-semantic-"))
    try:
        run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(args, root: Path) -> None:
    from tests.semantic.models import build_text_model

    model = build_text_model(root / "model" / "iscc-sct-v0.2.0.onnx")
    os.environ["ISCC_SCT_MODEL_DIR"] = str(model.parent)  # before any worker starts
    folder = root / "texts"
    folder.mkdir()
    paths = make_texts(folder, args.files)
    chars = sum(len(p.read_text()) for p in paths)

    site = root / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    paths_env = [str(site), os.environ.get("PYTHONPATH")]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, paths_env))
    log = root / "sessions.log"
    os.environ["BENCH_SESSION_LOG"] = str(log)

    import iscc_core as ic

    from iscc_lab import batch, create_iscc

    times = {"off": [], "on": []}
    sessions = []  # per semantic round: {worker pid: sessions created}
    before = load()
    units = None
    for _ in range(args.rounds):
        for key, semantic in (("off", False), ("on", True)):
            log.write_text("")
            t = time.perf_counter()
            df = batch(folder, semantic=semantic, workers=args.workers, progress=False)
            times[key].append(time.perf_counter() - t)
            assert df["error"].isna().all(), df["error"].dropna().tolist()[:3]
            pids = log.read_text().split()
            if semantic:
                assert df["semantic"].notna().all()
                units = units or df["semantic"].tolist()
                assert df["semantic"].tolist() == units  # the same units, round after round
                sessions.append({pid: pids.count(pid) for pid in sorted(set(pids))})
            else:
                assert pids == []  # no model without semantic
    for path, unit in list(zip(paths, units, strict=True))[:5]:
        got = create_iscc(path, semantic=True, granular=False)["units"]
        assert unit in got and ic.iscc_decode(unit)[0] == ic.MT.SEMANTIC
    after = load()

    off, on = min(times["off"]), min(times["on"])
    rounds = "; ".join(f"{k}: " + ", ".join(f"{x:.2f}" for x in v) for k, v in times.items())
    per_worker = "; ".join(", ".join(str(c) for c in r.values()) for r in sessions)
    n = args.files
    text = f"""
`bench/bench_semantic.py`: {n} generated English texts ({chars / n / 1000:.1f} kB on average,
about {chars / n / 1000 * 0.25:.1f}k tokens: several 127-token chunks each) through
`batch(folder, workers={args.workers}, progress=False)` with semantic off and on, interleaved,
best of {args.rounds} rounds, worker start-up included. The model is the tests' tiny stand-in
for iscc-sct's (same inputs, output (batch, tokens, 384)); its inference costs almost nothing,
so this measures what iscc-lab and iscc-sct do around the model, not the real model.

- measured: {stamp()}
- load average (1/5/15 min) before: {before}, after: {after}
- all rounds (s): {rounds}

| run | seconds (best) | files/s | on / off time |
|---|---:|---:|---:|
| `batch(semantic=False)` | {off:.2f} | {n / off:.1f} | 1.00 |
| `batch(semantic=True)` | {on:.2f} | {n / on:.1f} | **{on / off:.2f}** |

The model is loaded once per worker process, not per file: in each semantic round the ONNX
sessions created per worker process were {per_worker} (round by round, for {n} files on
{args.workers} workers), and none with semantic off. Every round gave the same {n} Semantic-Code
units, and they agree with `create_iscc` on the first files.
"""
    print(text)
    if not args.no_write:
        write_section(TITLE, text)


if __name__ == "__main__":
    main()
