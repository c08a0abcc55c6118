"""The duplicate inventory at a million rows, against near_duplicates on the same rows.

    python bench/bench_inventory.py            # 1,000,000 rows, brute force on 100,000
    python bench/bench_inventory.py --small    # 100,000 and 20,000 while developing

Synthetic `batch()`-like frames: ISCC-CODEs with iscc-core's headers (Content-Code Image, Text,
Audio or Video + Data + Instance, 64 bits each; 5 % ISCC-SUMs without a Content-Code), a
`datahash` whose first 64 bits are the Instance-Code's, paths, mediatypes and sizes, and
planted duplicates: exact copies (same code and datahash under another path), re-encodings
(the same Data-Code and a near Content-Code, other bytes) and near copies (a few Content-Code
bits flipped), in clusters of 2 to 200 files.

Each measurement runs in a fresh process (its peak RSS is its own): `near_duplicates(df,
threshold=10, on="content")` and `inventory(df)` (content_threshold=10, data_threshold=0) on the
same rows, in the same run. The groups on the smaller size are checked against a brute-force
reference that compares every pair with numpy from the generator's own bits (not the kernels
under test). Writes the "Duplicate inventory" section of bench/RESULTS.md.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import iscc_core as ic
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import stamp, write_section  # noqa: E402

from iscc_lab.display import human_size  # noqa: E402

SMALL = "--small" in sys.argv
N = 100_000 if SMALL else 1_000_000
CHECK = 20_000 if SMALL else 100_000
CONTENT_T = 10
_SUBTYPES = {  # content sub type: (mediatype, extension)
    int(ic.ST_CC.IMAGE): ("image/jpeg", "jpg"),
    int(ic.ST_CC.TEXT): ("application/pdf", "pdf"),
    int(ic.ST_CC.AUDIO): ("audio/mpeg", "mp3"),
    int(ic.ST_CC.VIDEO): ("video/mp4", "mp4"),
}
_SUM = -1  # "sub type" of an ISCC-SUM row (no Content-Code)


def _header(st: int) -> bytes:
    zero = bytes(8)
    units = [
        ic.encode_component(ic.MT.DATA, ic.ST.NONE, 0, 64, zero),
        ic.encode_component(ic.MT.INSTANCE, ic.ST.NONE, 0, 64, zero),
    ]
    if st != _SUM:
        units.insert(0, ic.encode_component(ic.MT.CONTENT, st, 0, 64, zero))
    return ic.decode_base32(ic.gen_iscc_code_v0(units)["iscc"][5:])[:2]


def synthetic(n: int, seed: int = 17) -> dict:
    """The generator's own arrays: sub type, content/data/instance words (uint64), sizes."""
    rng = np.random.default_rng(seed)
    kinds = np.array([*_SUBTYPES, _SUM])
    sub = kinds[np.searchsorted([0.55, 0.75, 0.85, 0.95], rng.random(n), side="right")]
    content = rng.integers(0, 2**64, n, dtype=np.uint64)
    data = rng.integers(0, 2**64, n, dtype=np.uint64)
    instance = rng.integers(0, 2**64, n, dtype=np.uint64)
    size = np.exp(rng.normal(13, 2, n)).astype(np.int64) + 1
    # clusters: 15 % of the rows copy an original; most clusters are small, a few are large
    copies = np.flatnonzero(rng.random(n) < 0.15)
    originals = rng.integers(0, n, max(1, len(copies) // 2))
    big = rng.random(len(copies)) < 0.02  # 2 % of the copies join one of a few big clusters
    source = np.where(big, originals[rng.integers(0, 20, len(copies))],
                      originals[rng.integers(0, len(originals), len(copies))])  # fmt: skip
    keep = source != copies
    copies, source = copies[keep], source[keep]
    how = rng.random(len(copies))
    exact, recoded = how < 0.3, (how >= 0.3) & (how < 0.5)  # the rest: near copies
    sub[copies] = sub[source]
    content[copies] = content[source]
    data[copies[exact | recoded]] = data[source[exact | recoded]]
    instance[copies[exact]] = instance[source[exact]]
    size[copies[exact]] = size[source[exact]]
    flip = ~exact
    for _ in range(8):  # up to 8 flipped Content-Code bits on re-encodings and near copies
        rows = copies[flip & (rng.random(len(copies)) < 0.5)]
        content[rows] ^= np.uint64(1) << rng.integers(0, 64, len(rows)).astype(np.uint64)
    tail = rng.integers(0, 2**64, (n, 3), dtype=np.uint64)
    tail[copies[exact]] = tail[source[exact]]  # the rest of the datahash of exact copies
    return {"sub": sub, "content": content, "data": data, "instance": instance, "size": size,
            "tail": tail}  # fmt: skip


def frame(g: dict):
    """The batch()-like DataFrame of the generator's arrays."""
    import pandas as pd

    n = len(g["sub"])
    headers = {st: _header(st) for st in [*_SUBTYPES, _SUM]}
    be = {k: g[k].astype(">u8").view(np.uint8).reshape(n, 8) for k in ("content", "data",
                                                                        "instance")}  # fmt: skip
    codes = []
    for i, st in enumerate(g["sub"].tolist()):
        body = be["data"][i].tobytes() + be["instance"][i].tobytes()
        if st != _SUM:
            body = be["content"][i].tobytes() + body
        codes.append("ISCC:" + base64.b32encode(headers[st] + body).decode().rstrip("="))
    for code in codes[:: max(1, n // 40)]:
        assert ic.iscc_decompose(code)  # real ISCC-CODEs
    digest = np.concatenate([g["instance"][:, None], g["tail"]], axis=1).astype(">u8")
    hexes = digest.view(np.uint8).reshape(n, 32)
    datahash = ["1e20" + h.tobytes().hex() for h in hexes]
    mediatype = np.array([_SUBTYPES.get(s, ("application/octet-stream", "bin"))[0]
                          for s in g["sub"].tolist()], dtype=object)  # fmt: skip
    ext = [_SUBTYPES.get(s, (None, "bin"))[1] for s in g["sub"].tolist()]
    folder = np.random.default_rng(1).integers(0, 1000, n)
    paths = [
        f"/archive/{f:03d}/file-{i:07d}.{e}"
        for i, (f, e) in enumerate(zip(folder.tolist(), ext, strict=True))
    ]
    text = "str"
    return pd.DataFrame(
        {
            "path": pd.array(paths, dtype=text),
            "filename": pd.array([p.rsplit("/", 1)[1] for p in paths], dtype=text),
            "iscc": pd.array(codes, dtype=text),
            "mediatype": pd.array(mediatype, dtype=text),
            "filesize": pd.array(g["size"], dtype="Int64"),
            "datahash": pd.array(datahash, dtype=text),
        }
    )


# --------------------------------------------------------------------------------------------
# The brute-force reference (numpy over every pair, from the generator's bits)
# --------------------------------------------------------------------------------------------


def _pairs(words: np.ndarray, kind: np.ndarray, t: int) -> np.ndarray:
    """Every pair i < j of the same kind (kind >= 0) within t bits, by XOR and popcount."""
    n = len(words)
    out = []
    block = 64
    for start in range(0, n, block):
        stop = min(n, start + block)
        d = np.bitwise_count(words[start:stop, None] ^ words[None, start:])
        i, j = np.nonzero(d <= t)
        i, j = i + start, j + start
        keep = (j > i) & (kind[i] == kind[j]) & (kind[i] >= 0)
        out.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(out)


def _partition(n: int, pairs: np.ndarray) -> set:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs.tolist():
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict = {}
    for i in range(n):
        members.setdefault(find(i), []).append(i)
    return {frozenset(m) for m in members.values() if len(m) > 1}


def _groups(inv, level: str) -> set:
    col = inv[f"{level}_group"].to_numpy(dtype="float64", na_value=np.nan)
    rows = np.flatnonzero(~np.isnan(col))
    members: dict = {}
    for r, gid in zip(rows.tolist(), col[rows].tolist(), strict=True):
        members.setdefault(gid, []).append(r)
    return {frozenset(m) for m in members.values()}


def check(n: int) -> dict:
    """Inventory groups == brute force on the first n synthetic rows (every pair)."""
    from iscc_lab.duplicates import inventory

    g = synthetic(n, seed=5)
    inv = inventory(frame(g))
    sub = g["sub"]
    every = np.zeros(n, dtype=np.int64)
    full = np.concatenate([g["instance"][:, None], g["tail"]], axis=1)
    t0 = time.perf_counter()
    # instance: the whole 256-bit datahash, every pair compared word by word
    inst = _pairs(full[:, 0], every, 0)
    same = (full[inst[:, 0]] == full[inst[:, 1]]).all(axis=1)
    expected = {
        "instance": _partition(n, inst[same]),
        "data": _partition(n, _pairs(g["data"], every, 0)),
        "content": _partition(n, _pairs(g["content"], np.where(sub == _SUM, -1, sub), CONTENT_T)),
    }
    brute = time.perf_counter() - t0
    equal = {level: _groups(inv, level) == expected[level] for level in expected}
    return {
        "n": n, "equal": equal, "brute_s": brute,
        "groups": {level: len(expected[level]) for level in expected},
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# Timed runs, one fresh process each
# --------------------------------------------------------------------------------------------


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(what: str, n: int) -> dict:
    import pandas as pd

    import iscc_lab

    warm = frame(synthetic(2000, seed=3))  # compile / load the kernels outside the timing
    iscc_lab.near_duplicates(warm, threshold=CONTENT_T, on="content")
    iscc_lab.inventory(warm).plot().savefig(os.devnull, format="png", dpi=60)
    df = frame(synthetic(n))
    before = _rss_mib()
    out: dict = {"what": what, "n": n, "rss_frame_mib": before}
    t0 = time.perf_counter()
    if what == "near_duplicates":
        nd = iscc_lab.near_duplicates(df, threshold=CONTENT_T, on="content")
        out["seconds"] = time.perf_counter() - t0
        out["groups"] = int(nd["group"].nunique())
    else:
        inv = iscc_lab.inventory(df)
        out["seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        summary = inv.summary()
        out["summary_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        fig = inv.plot()
        fig.savefig(os.devnull, format="png", dpi=60)
        out["plot_s"] = time.perf_counter() - t2
        out["summary"] = json.loads(pd.DataFrame(summary).drop(columns="meaning").to_json())
    out["rss_peak_mib"] = _rss_mib()
    return out


def run_child(what: str, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", what, str(n)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"checking groups against brute force on {CHECK:,} rows ...", flush=True)
    checked = check(CHECK)
    print(checked, flush=True)
    print(f"timing on {N:,} rows ...", flush=True)
    near = run_child("near_duplicates", N)
    print(near, flush=True)
    inv = run_child("inventory", N)
    print(inv, flush=True)
    load_after = os.getloadavg()
    ratio = inv["seconds"] / near["seconds"]
    with_summary = (inv["seconds"] + inv["summary_s"]) / near["seconds"]
    peak_gib = inv["rss_peak_mib"] / 1024
    s = inv["summary"]
    level_rows = "\n".join(
        f"| {level} | {s['groups'][level]:,} | {s['files'][level]:,} | "
        f"{human_size(s['bytes_freed'][level])} |"
        for level in ("instance", "data", "content")
    )
    ok = all(checked["equal"].values())
    eq, gr = checked["equal"], checked["groups"]
    table = "\n".join(
        "| " + " | ".join(r) + " |"
        for r in [
            ("measure", "result", "target", "met"),
            ("---", "---", "---", "---"),
            ('`near_duplicates(df, threshold=10, on="content")`', f"{near['seconds']:.1f} s",
             "baseline", ""),
            ("`inventory(df)` (three levels)",
             f"{inv['seconds']:.1f} s: **{ratio:.2f}x** near_duplicates", "<= 3x",
             "yes" if ratio <= 3 else "no"),
            ("`inventory(df)` + `.summary()`",
             f"{inv['seconds'] + inv['summary_s']:.1f} s: {with_summary:.2f}x", "", ""),
            ("`.plot()` (drawn and saved as PNG)", f"{inv['plot_s']:.1f} s", "", ""),
            ("peak RSS of the inventory process",
             f"{inv['rss_peak_mib']:,.0f} MiB ({inv['rss_frame_mib']:,.0f} MiB with the frame "
             "built)", "< 2 GiB", "yes" if peak_gib < 2 else "no"),
            (f"groups equal brute force (every pair) on {checked['n']:,} codes",
             f"instance {eq['instance']}, data {eq['data']}, content {eq['content']} "
             f"({gr['instance']:,} / {gr['data']:,} / {gr['content']:,} groups; brute force "
             f"{checked['brute_s']:.0f} s)", "equal", "yes" if ok else "no"),
        ]
    )  # fmt: skip
    text = f"""
Measured {started} ({stamp()}), by `bench/bench_inventory.py`{" --small" if SMALL else ""}.
Load average (1/5/15 min) before: {"/".join(f"{x:.2f}" for x in load_before)}, after:
{"/".join(f"{x:.2f}" for x in load_after)}.

Synthetic `batch()`-like frames (ISCC-CODEs with iscc-core's headers, 5 % ISCC-SUMs, datahash,
paths, mediatypes, sizes) with planted exact copies, re-encodings and near copies in clusters of
2 to about 200 files. Each run is a fresh process; both on the same {N:,} rows.

{table}

The summary of the {N:,} rows:

| level | groups | files in groups | keeping one per group frees |
|---|---:|---:|---:|
{level_rows}

The instance level is a sort of the whole datahash, the data level (threshold 0) a sort of the
Data-Codes; only the content level is a join, on the same kernels as `near_duplicates`
(`iscc_lab.hamming`), so the inventory costs about one `near_duplicates` plus the sorts, the
path order of the stable ids and building the frame.
"""
    write_section("Duplicate inventory", text)
    print(text)


if __name__ == "__main__":
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        print(json.dumps(child(sys.argv[i + 1], int(sys.argv[i + 2]))))
    else:
        main()
