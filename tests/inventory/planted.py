"""A folder of planted copies beside iscc-samples, and a brute-force reference of the inventory
(every pair compared, with iscc-core and the files' own bytes, nothing of iscc_lab.hamming)."""

import hashlib
import itertools
import shutil
import subprocess
from pathlib import Path

import iscc_core as ic
import iscc_samples
import numpy as np
from PIL import Image

#: (planted file, the sample it copies, how): what `plant()` makes.
SAME_BYTES = {
    "copies/demo-copy.jpg": "image/demo.jpg",
    "copies/nested/demo.png": "image/demo.png",
    "copies/report-final.docx": "text/demo.docx",
    "copies/demo-backup.mp4": "video/demo.mp4",
}
REENCODED = {
    "images/demo-q40.jpg": "image/demo.jpg",
    "images/demo-half.png": "image/demo.png",
    "images/demo.webp": "image/demo.bmp",
}
REMUXED = {
    "videos/demo-remux.mkv": "video/demo.mp4",
    "videos/demo-remux.mov": "video/demo.mp4",
    "videos/demo-remux.mp4": "video/demo.mov",
}
BLOBS = ("blobs/blob.bin", "blobs/blob-copy.bin", "blobs/blob-edited.bin")


def plant(folder: Path) -> list[Path]:
    """Make the planted files in `folder`; return their paths."""
    root = Path(iscc_samples.ROOT)
    made = []
    for name, source in SAME_BYTES.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / source, target)
        made.append(target)
    (folder / "images").mkdir()
    jpg = folder / "images/demo-q40.jpg"
    with Image.open(root / "image/demo.jpg") as im:
        im.convert("RGB").save(jpg, quality=40)
    made.append(jpg)
    half = folder / "images/demo-half.png"
    with Image.open(root / "image/demo.png") as im:
        im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(half)
    made.append(half)
    webp = folder / "images/demo.webp"
    with Image.open(root / "image/demo.bmp") as im:
        im.save(webp, quality=80)
    made.append(webp)
    (folder / "videos").mkdir()
    for name, source in REMUXED.items():
        target = folder / name
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(root / source),
             "-map", "0:v", "-c", "copy", str(target)],
            check=True, timeout=120,
        )  # fmt: skip
        made.append(target)
    (folder / "blobs").mkdir()
    data = np.random.default_rng(17).integers(0, 256, 2_000_000, dtype=np.uint8).tobytes()
    edited = bytearray(data)
    edited[1_000_000:1_000_016] = bytes(16)
    for name, content in zip(BLOBS, (data, data, bytes(edited)), strict=True):
        (folder / name).write_bytes(content)
        made.append(folder / name)
    return made


# --------------------------------------------------------------------------------------------
# The brute-force reference
# --------------------------------------------------------------------------------------------


def _units(code) -> dict:
    """{unit type: ((main type, sub type, version), hash bits as a str)} of an ISCC-CODE."""
    out = {}
    if not isinstance(code, str):
        return out
    for unit in ic.iscc_decompose(code):
        c = ic.Code(unit)
        name = ic.MT(c.maintype).name.lower()
        out.setdefault(name, ((c.maintype, c.subtype, c.version), c.hash_bits))
    return out


def _near(a, b, threshold: int, bits) -> bool:
    if a is None or b is None or a[0] != b[0]:
        return False
    common = min(len(a[1]), len(b[1]), bits or 1 << 30)
    return sum(x != y for x, y in zip(a[1][:common], b[1][:common], strict=True)) <= threshold


def _groups(paths: list, linked) -> set:
    """Single-link groups (as frozensets of paths, of 2 or more) of every pair `linked(i, j)`."""
    parent = list(range(len(paths)))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for i, j in itertools.combinations(range(len(paths)), 2):
        if linked(i, j):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    members: dict = {}
    for i, p in enumerate(paths):
        members.setdefault(find(i), set()).add(p)
    return {frozenset(m) for m in members.values() if len(m) > 1}


def reference(df, *, content_threshold=10, data_threshold=0, bits=64) -> dict:
    """{level: set of groups} of a batch() frame, every pair compared: the instance level by the
    SHA-256 of the files' bytes, data and content by iscc-core's units of `iscc`."""
    paths = df["path"].tolist()
    digests = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
    units = [_units(c) for c in df["iscc"].tolist()]
    return {
        "instance": _groups(paths, lambda i, j: digests[i] == digests[j]),
        "data": _groups(
            paths,
            lambda i, j: _near(units[i].get("data"), units[j].get("data"), data_threshold, bits),
        ),
        "content": _groups(
            paths,
            lambda i, j: _near(
                units[i].get("content"), units[j].get("content"), content_threshold, bits
            ),
        ),
    }


def groups_of(inv, level: str) -> set:
    """{frozenset of paths} of an inventory's groups at `level`."""
    col = inv[f"{level}_group"]
    rows = inv[col.notna()]
    return {frozenset(g["path"]) for _, g in rows.groupby(f"{level}_group")}
