"""Synthetic ISCC-CODEs with planted clusters of near copies, and a small real-media folder."""

import base64
import shutil

import iscc_core as ic
import iscc_samples
import numpy as np
import pytest

import iscc_lab


def synthetic_codes(n: int, seed: int = 0, cluster_share: float = 0.3, flips: int = 8) -> list:
    """n real ISCC-CODEs (Content-Code Image or Text + Data + Instance, 64 bits each): random
    units, and for a share of rows near copies of a few bases (up to `flips` bits flipped in
    the Content-Code). Built from iscc-core's own headers and checked with iscc-core."""
    rng = np.random.default_rng(seed)
    headers = {}
    for st in (ic.ST_CC.IMAGE, ic.ST_CC.TEXT):
        units = [
            ic.encode_component(ic.MT.CONTENT, st, 0, 64, bytes(8)),
            ic.encode_component(ic.MT.DATA, ic.ST.NONE, 0, 64, bytes(8)),
            ic.encode_component(ic.MT.INSTANCE, ic.ST.NONE, 0, 64, bytes(8)),
        ]
        code = ic.gen_iscc_code_v0(units)["iscc"]
        headers[st] = ic.decode_base32(code[5:])[:2]
    bodies = rng.integers(0, 256, (n, 24), dtype=np.uint8)
    bases = rng.integers(0, 256, (max(1, n // 50), 8), dtype=np.uint8)
    planted = rng.random(n) < cluster_share
    which = rng.integers(0, len(bases), n)
    bodies[planted, :8] = bases[which[planted]]
    for _ in range(flips):
        rows = np.flatnonzero(planted & (rng.random(n) < 0.5))
        bit = rng.integers(0, 64, len(rows))
        bodies[rows, bit // 8] ^= (1 << (bit % 8)).astype(np.uint8)
    text = rng.random(n) < 0.1
    codes = []
    for i in range(n):
        header = headers[ic.ST_CC.TEXT if text[i] else ic.ST_CC.IMAGE]
        raw = header + bodies[i].tobytes()
        codes.append("ISCC:" + base64.b32encode(raw).decode().rstrip("="))
    for code in codes[:20]:
        assert len(ic.iscc_decompose(code)) == 3
    return codes


@pytest.fixture(scope="session")
def codes():
    return synthetic_codes(3000, seed=7)


@pytest.fixture
def media(tmp_path):
    """A folder of five real files: three formats of one picture, a text and a PDF."""
    folder = tmp_path / "media"
    folder.mkdir()
    for name in ("demo.jpg", "demo.png", "demo.gif"):
        shutil.copy(iscc_samples.IMAGE / name, folder / name)
    shutil.copy(iscc_samples.TEXT / "demo.txt", folder / "demo.txt")
    (folder / "sub").mkdir()
    shutil.copy(iscc_samples.TEXT / "demo.pdf", folder / "sub" / "demo.pdf")
    return folder


@pytest.fixture(scope="session")
def reference_batch():
    """batch() of the media folder's files, for comparing values."""
    files = [iscc_samples.IMAGE / n for n in ("demo.jpg", "demo.png", "demo.gif")]
    files += [iscc_samples.TEXT / "demo.txt", iscc_samples.TEXT / "demo.pdf"]
    return iscc_lab.batch(files, workers=1, progress=False)
