"""Exact Hamming distances over many ISCC units: the bits of the units as numpy arrays, and
compiled kernels (numba, the GIL released, both cores) for nearest matches and the self-join
behind `near_duplicates`.

Units are compared as `iscc_lab.analysis.compare` and `near_duplicates` compare them: units of
the same main type, sub type and version, by the Hamming distance of their hashes over their
common bit length (the shorter of the two units, and at most `bits` bits when given).

A unit's hash is kept as 64-bit words, most significant bit first (the first byte of the hash
is the top byte of word 0), so that the first `L` bits of a hash are the top `L` bits of the
words. `decode` turns a million ISCC-CODE strings into these arrays in about a second: base32
and the header are decoded with numpy, and each distinct header is checked once with iscc-core.

This module is core: numpy, numba and iscc-core, no pandas.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import iscc_core as ic
import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from iscc_lab.errors import BadRequest
from iscc_lab.explain import normalize

__all__ = [
    "NONE",
    "Units",
    "components",
    "decode",
    "kind_of",
    "near_pairs",
    "nearest",
    "pair_distances",
    "unit_type_of",
]

#: `Units.kind` of a row without such a unit; distances to it are `NONE`.
NONE = -1
_FAR = np.uint16(0xFFFF)  # the distance of a pair that is not comparable
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32 = np.full(256, 255, dtype=np.uint8)
_B32[np.frombuffer(_ALPHABET, dtype=np.uint8)] = np.arange(32, dtype=np.uint8)
_DECODE_CHUNK = 65536  # codes decoded at once (bounds the bit matrix to ~20 MB)
_PAIRS_PER_JOB = 1 << 28  # pairs one kernel call compares (~0.1 s)
_OUT = 1 << 16  # first capacity of a kernel call's pair buffer
_LAYOUTS: dict = {}  # (header, length) -> layout: a layout depends on nothing else


def unit_type_of(maintype: int) -> str | None:
    """'meta', 'semantic', 'content', 'data', 'instance' (None for other main types)."""
    if int(maintype) > int(ic.MT.INSTANCE):
        return None
    return ic.MT(int(maintype)).name.lower()


def kind_of(maintype: int, subtype: int, version: int) -> int:
    """The integer that two comparable units share: main type, sub type and version."""
    return (int(maintype) << 16) | (int(subtype) << 8) | int(version)


@dataclass
class Units:
    """The units of one unit type over n codes.

    kind (int32, n): `kind_of` the unit, NONE where the code has no such unit; nbits (uint16,
    n): the unit's hash length in bits; words (uint64, (w, n)): the hash, most significant bit
    first, zero-padded, one row per 64-bit word (word 0 contiguous for the fast kernels).
    """

    kind: np.ndarray
    nbits: np.ndarray
    words: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def empty(cls, n: int, width: int = 1) -> Units:
        return cls(
            np.full(n, NONE, dtype=np.int32),
            np.zeros(n, dtype=np.uint16),
            np.zeros((max(1, width), n), dtype=np.uint64),
        )

    def take(self, rows) -> Units:
        return Units(self.kind[rows], self.nbits[rows], self.words[:, rows])

    @staticmethod
    def concat(parts: Sequence[Units]) -> Units:
        width = max((p.words.shape[0] for p in parts), default=1)
        words = [np.pad(p.words, ((0, width - p.words.shape[0]), (0, 0))) for p in parts]
        return Units(
            np.concatenate([p.kind for p in parts]) if parts else np.zeros(0, np.int32),
            np.concatenate([p.nbits for p in parts]) if parts else np.zeros(0, np.uint16),
            np.concatenate(words, axis=1) if parts else np.zeros((1, 0), np.uint64),
        )


# --------------------------------------------------------------------------------------------
# Codes -> unit arrays
# --------------------------------------------------------------------------------------------


def _units_of(code: str) -> dict:
    """{unit type: (kind, nbits, hash bytes)} of one code, through iscc-core; BadRequest with
    explain's message when the code is not a valid ISCC."""
    norm = normalize(code)
    found: dict = {}
    try:
        for unit in ic.iscc_decompose(norm):
            c = ic.Code(unit)
            name = unit_type_of(c.maintype)
            if name and name not in found:
                found[name] = (kind_of(c.maintype, c.subtype, c.version), c.length, c.hash_bytes)
    except Exception as e:  # noqa: BLE001 - any decoding failure is an invalid code
        raise BadRequest(f"Invalid ISCC {code[:80]!r}: {e or type(e).__name__}") from None
    return found


def _layout(code: str, raw: bytes):
    """How the units of every code with this header and length lie in its bytes: a list of
    (unit type, kind, nbits, offset, nbytes), or None when the header is not 2 bytes long or
    the bytes are not the units' hashes in order (such codes take the slow path)."""
    try:
        units = _units_of(code)
        _mt, _st, _v, _ln, body = ic.decode_header(raw)
    except Exception:  # noqa: BLE001 - not decodable here: the slow path says why
        return None
    if len(raw) - len(body) != 2:
        return None
    layout, offset = [], 2
    for name in sorted(units, key=lambda t: int(ic.MT[t.upper()])):
        kind, nbits, hash_bytes = units[name]
        if raw[offset : offset + len(hash_bytes)] != hash_bytes:
            return None
        layout.append((name, kind, nbits, offset, len(hash_bytes)))
        offset += len(hash_bytes)
    return layout if offset == len(raw) else None


def _words(hashes: np.ndarray, width: int) -> np.ndarray:
    """(m, nbytes) uint8 hashes -> (width, m) uint64 words, most significant bit first."""
    m, nbytes = hashes.shape
    padded = np.zeros((m, width * 8), dtype=np.uint8)
    padded[:, :nbytes] = hashes
    return np.ascontiguousarray(padded.view(">u8").astype(np.uint64).T)


def _plain(v) -> bool:
    return type(v) is str and v.startswith("ISCC:") and v.isascii()


def _ascii(chunk: list):
    """The chunk as a numpy bytes array when every item is an ASCII str, else None."""
    if chunk.count(None) or not all(type(v) is str for v in chunk):
        return None
    try:
        return np.array(chunk, dtype="S")
    except UnicodeEncodeError:
        return None


def _base32_bytes(sym: np.ndarray, nbytes: int) -> np.ndarray:
    """(m, length) base32 symbols -> (m, nbytes) bytes: 8 symbols are 40 bits, 5 bytes."""
    m, length = sym.shape
    groups = -(-length // 8)
    padded = np.zeros((m, groups * 8), dtype=np.uint64)
    padded[:, :length] = sym
    g = padded.reshape(m, groups, 8)
    value = g[:, :, 0] << np.uint64(35)
    for k in range(1, 8):
        value |= g[:, :, k] << np.uint64(35 - 5 * k)
    out = np.empty((m, groups, 5), dtype=np.uint8)
    for k in range(5):
        out[:, :, k] = value >> np.uint64(32 - 8 * k)
    return out.reshape(m, groups * 5)[:, :nbytes]


def _decode_fast(values, chars, rows, parts, layouts, slow) -> None:
    """Decode codes of one length (base32 symbols after the prefix in `chars`) into `parts`;
    codes that do not fit the fast path go to `slow`."""
    length = chars.shape[1]
    nbytes = length * 5 // 8
    sym = _B32[chars]
    bad = (sym == 255).any(axis=1)
    slow.extend(rows[bad].tolist())
    rows, sym = rows[~bad], sym[~bad]
    if nbytes < 2 or not len(rows) or length != -(-nbytes * 8 // 5):
        slow.extend(rows.tolist())  # too short, or a length no byte string encodes to
        return
    stray = length * 5 - nbytes * 8  # bits of the last symbol past the last byte: must be 0
    if stray:
        odd = (sym[:, -1] & ((1 << stray) - 1)) != 0
        slow.extend(rows[odd].tolist())  # not canonical: the slow path says what is wrong
        rows, sym = rows[~odd], sym[~odd]
        if not len(rows):
            return
    raw = _base32_bytes(sym, nbytes)
    headers = raw[:, 0].astype(np.uint16) << 8 | raw[:, 1]
    distinct, inverse = np.unique(headers, return_inverse=True)
    for h, header in enumerate(distinct.tolist()):
        members = np.flatnonzero(inverse == h)
        key = (header, length)
        if key not in layouts:
            layouts[key] = _layout(values[int(rows[members[0]])], raw[members[0]].tobytes())
        layout = layouts[key]
        if layout is None:
            slow.extend(rows[members].tolist())
            continue
        for name, kind, nbits, offset, size in layout:
            if name in parts:
                hashes = raw[members, offset : offset + size]
                parts[name].append((rows[members], kind, nbits, hashes))


def decode(values: Sequence, unit_types: Iterable[str]) -> dict[str, Units]:
    """The units of `unit_types` in each of `values` (ISCC strings, None for a missing code).

    :raises BadRequest: naming the first code that is not a valid ISCC.
    """
    unit_types = tuple(unit_types)
    values = list(values)
    n = len(values)
    parts: dict = {t: [] for t in unit_types}  # (rows, kind, nbits, hashes (m, nbytes))
    slow: list[int] = []
    layouts = _LAYOUTS
    if len(layouts) > 4096:  # many distinct headers (odd input): start afresh
        layouts.clear()
    for start in range(0, n, _DECODE_CHUNK):
        chunk = values[start : start + _DECODE_CHUNK]
        text = _ascii(chunk)
        if text is None:  # missing codes or other objects: sort them out one by one
            fast = [i for i, v in enumerate(chunk) if _plain(v)]
            slow.extend(start + i for i, v in enumerate(chunk) if v is not None and not _plain(v))
            if not fast:
                continue
            text = np.array([chunk[i] for i in fast], dtype="S")
            offsets = np.array(fast, dtype=np.int64) + start
        else:
            offsets = np.arange(start, start + len(chunk), dtype=np.int64)
        width = text.dtype.itemsize
        if width <= 7:
            slow.extend(offsets.tolist())
            continue
        chars = text.view(np.uint8).reshape(len(text), width)
        lengths = np.strings.str_len(text)
        prefixed = (chars[:, :5] == np.frombuffer(b"ISCC:", np.uint8)).all(axis=1)
        slow.extend(offsets[~prefixed].tolist())
        for length in np.unique(lengths[prefixed]).tolist():
            members = np.flatnonzero(prefixed & (lengths == length))
            _decode_fast(values, chars[members, 5:length], offsets[members], parts, layouts, slow)
    for i in sorted(slow):
        code = values[i]
        if not isinstance(code, str):
            normalize(code)  # raises with the message saying what is wrong
        for name, (kind, nbits, hash_bytes) in _units_of(code).items():
            if name in parts:
                hashes = np.frombuffer(hash_bytes, dtype=np.uint8)[None, :]
                parts[name].append((np.array([i]), kind, nbits, hashes))
    out = {}
    for name in unit_types:
        width = max((-(-p[3].shape[1] // 8) for p in parts[name]), default=1)
        units = Units.empty(n, width)
        for rows, kind, nbits, hashes in parts[name]:
            units.kind[rows] = kind
            units.nbits[rows] = nbits
            units.words[:, rows] = _words(hashes, width)
        out[name] = units
    return out


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@intrinsic
def _popcount(typingctx, a):
    """LLVM's ctpop on a uint64: one VPOPCNTQ lane where the CPU has it."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _any4(a0, a1, a2, a3, y, j0, j1, t):
    """Is any of a0..a3 within t bits of one of y[j0:j1]? (Register-blocked, vectorized.)"""
    m0 = np.uint64(255)
    m1 = np.uint64(255)
    m2 = np.uint64(255)
    m3 = np.uint64(255)
    for j in range(j0, j1):
        v = y[j]
        m0 = min(m0, _popcount(a0 ^ v))
        m1 = min(m1, _popcount(a1 ^ v))
        m2 = min(m2, _popcount(a2 ^ v))
        m3 = min(m3, _popcount(a3 ^ v))
    return min(min(m0, m1), min(m2, m3)) <= t


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _join(x, y, lo, hi, t, same, out):
    """Pairs (i, j) with popcount(x[i] ^ y[j]) <= t for i in [lo, hi): j > i when `same`
    (x is y), every j otherwise. Writes up to len(out) pairs, returns how many there are."""
    n = y.shape[0]
    cap = out.shape[0]
    found = 0
    block = 1024  # rows of y in L1 while the rows of x pass over them
    tt = np.uint64(t)
    first = lo if same else 0
    for j0 in range(first, n, block):
        j1 = min(n, j0 + block)
        i = lo
        iend = min(hi, j1) if same else hi
        while i < iend:
            if i + 4 <= iend and (not same or i + 4 <= j0):
                if not _any4(x[i], x[i + 1], x[i + 2], x[i + 3], y, j0, j1, tt):
                    i += 4
                    continue
                stop = i + 4
            else:
                stop = i + 1
            for ii in range(i, stop):
                xi = x[ii]
                for j in range(max(j0, ii + 1) if same else j0, j1):
                    if _popcount(xi ^ y[j]) <= tt:
                        if found < cap:
                            out[found, 0] = ii
                            out[found, 1] = j
                        found += 1
            i = stop
    return found


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _distances(words, nbits, kind, query, qbits, qkind, limit, out):
    """out[r] = the distance of row r to the query over min(nbits[r], qbits, limit) bits;
    0xFFFF where the kinds differ."""
    n = kind.shape[0]
    width = words.shape[0]
    for r in range(n):
        if kind[r] != qkind:
            out[r] = 0xFFFF
            continue
        common = min(min(np.int64(nbits[r]), qbits), limit)
        d = np.uint64(0)
        for w in range(width):
            left = common - 64 * w
            if left <= 0:
                break
            x = query[w] ^ words[w, r]
            if left < 64:
                x = x >> np.uint64(64 - left)
            d += _popcount(x)
        out[r] = d
    return out


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _distances64(word0, nbits, kind, q0, qkind, length, out):
    """`_distances` when the common length is at most 64 bits (`length`: the query's length,
    at most `bits`, at most 64): one vectorized pass over word 0."""
    n = kind.shape[0]
    for r in range(n):
        common = max(min(np.int64(nbits[r]), length), 1)
        d = _popcount((q0 ^ word0[r]) >> np.uint64(64 - common))
        out[r] = d if kind[r] == qkind else 0xFFFF
    return out


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _smallest(dist, k):
    """The positions of the k smallest distances (below 0xFFFF), ordered by (distance,
    position)."""
    counts = np.zeros(0x10000, dtype=np.int64)
    for d in dist:
        counts[d] += 1
    counts[0xFFFF] = 0
    total = 0
    cut = -1
    for d in range(0xFFFF):
        total += counts[d]
        if total >= k:
            cut = d
            break
    if cut < 0:
        cut = 0xFFFE
        k = total
    starts = np.zeros(cut + 2, dtype=np.int64)
    for d in range(cut + 1):
        starts[d + 1] = starts[d] + counts[d]
    fill = starts.copy()
    out = np.empty(k, dtype=np.int64)
    for r in range(dist.shape[0]):
        d = dist[r]
        if d <= cut:
            p = fill[d]
            if p < k:
                out[p] = r
                fill[d] = p + 1
    return out


@numba.njit(cache=True)
def _union(parent, pairs, count):
    """Union-find: link each pair's roots, the smaller index as the root."""
    for p in range(count):
        a = pairs[p, 0]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        b = pairs[p, 1]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b


@numba.njit(cache=True)
def _roots(parent):
    for i in range(parent.shape[0]):
        r = i
        while parent[r] != r:
            r = parent[r]
        parent[i] = r
    return parent


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


def _query_words(units: Units, row: int, width: int) -> np.ndarray:
    q = np.zeros(width, dtype=np.uint64)
    w = min(width, units.words.shape[0])
    q[:w] = units.words[:w, row]
    return q


def nearest(index: Units, queries: Units, k: int, bits: int | None = None):
    """For each query row, the positions of its k nearest rows in `index` and their distances,
    ordered by (distance, position): the same as sorting a brute-force scan. A query without
    the unit, or with no comparable row, gets empty arrays.

    :return: a list of (positions int64, distances int64), one per query row.
    """
    limit = np.int64(bits if bits is not None else 1 << 30)
    width = index.words.shape[0]

    def one(q: int):
        if queries.kind[q] == NONE:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        dist = np.empty(len(index), dtype=np.uint16)
        length = min(int(queries.nbits[q]), int(limit))
        if length <= 64:
            _distances64(
                index.words[0], index.nbits, index.kind, queries.words[0, q],
                np.int32(queries.kind[q]), np.int64(length), dist,
            )  # fmt: skip
            rows = _smallest(dist, k)
            return rows, dist[rows].astype(np.int64)
        _distances(
            index.words, index.nbits, index.kind, _query_words(queries, q, width),
            np.int64(queries.nbits[q]), np.int32(queries.kind[q]), limit, dist,
        )  # fmt: skip
        rows = _smallest(dist, k)
        return rows, dist[rows].astype(np.int64)

    if len(queries) <= 1:
        return [one(q) for q in range(len(queries))]
    with ThreadPoolExecutor(_threads()) as pool:
        return list(pool.map(one, range(len(queries))))


# --------------------------------------------------------------------------------------------
# Pairs within a threshold (the self-join of near_duplicates)
# --------------------------------------------------------------------------------------------


def _top(words0: np.ndarray, length: int) -> np.ndarray:
    """Word 0 keeping only its first `length` bits (all 64 for length >= 64)."""
    if length >= 64:
        return words0
    return words0 & np.uint64(((1 << length) - 1) << (64 - length))


def pair_distances(units: Units, i: np.ndarray, j: np.ndarray, bits: int | None):
    """Distances of the pairs (i[k], j[k]) over their common bit length (at most `bits`), and
    a mask of the comparable pairs (both have the unit, of the same kind)."""
    ok = (units.kind[i] != NONE) & (units.kind[i] == units.kind[j])
    common = np.minimum(units.nbits[i], units.nbits[j]).astype(np.int64)
    if bits is not None:
        common = np.minimum(common, bits)
    d = np.zeros(len(i), dtype=np.int64)
    for w in range(units.words.shape[0]):
        left = np.clip(common - 64 * w, 0, 64).astype(np.uint64)
        x = units.words[w, i] ^ units.words[w, j]
        # keep the top `left` bits: shift out the rest (a shift by 64 is undefined: mask it)
        x = np.where(left == 0, np.uint64(0), x >> (np.uint64(64) - np.maximum(left, 1)))
        d += np.bitwise_count(x).astype(np.int64)
    return d, ok


def _jobs(rows_a: np.ndarray, rows_b: np.ndarray | None) -> list:
    """Row ranges of a (self when rows_b is None) with about _PAIRS_PER_JOB pairs each."""
    m = len(rows_a)
    if rows_b is None:
        cuts, lo, acc = [], 0, 0
        for i in range(m):
            acc += m - i - 1
            if acc >= _PAIRS_PER_JOB:
                cuts.append((lo, i + 1))
                lo, acc = i + 1, 0
        if lo < m:
            cuts.append((lo, m))
        return cuts
    step = max(1, _PAIRS_PER_JOB // max(1, len(rows_b)))
    return [(lo, min(m, lo + step)) for lo in range(0, m, step)]


def _run_join(x, y, lo, hi, t, same):
    out = np.empty((_OUT, 2), dtype=np.int64)
    found = _join(x, y, lo, hi, t, same, out)
    if found > len(out):
        out = np.empty((found, 2), dtype=np.int64)
        _join(x, y, lo, hi, t, same, out)
    return out[:found]


def near_pairs(
    units: dict[str, Units],
    on: Sequence[str],
    threshold: int,
    bits: int | None,
    rows: np.ndarray | None = None,
):
    """Every pair (i < j) of rows within `threshold` bits on each unit type of `on` (over the
    common bit length, at most `bits`), as chunks of (k, 2) int64 arrays: a generator, so that
    the pairs of a million rows need not be held at once.

    The first type of `on` is joined by the compiled kernel on word 0 (64 bits): a pair within
    the threshold over more bits is within it over the first 64, so the kernel's pairs are a
    superset, and every pair is then checked exactly on all words and all types of `on`.
    """
    first = units[on[0]]
    n = len(first)
    present = np.ones(n, dtype=bool)
    for t in on:
        present &= units[t].kind != NONE
    if rows is not None:
        keep = np.zeros(n, dtype=bool)
        keep[rows] = True
        present &= keep
    limit = 1 << 30 if bits is None else int(bits)
    eff = np.minimum(first.nbits.astype(np.int64), limit)
    exact = len(on) == 1 and first.words.shape[0] == 1 and bool((eff[present] <= 64).all())
    tasks = []  # (x, y, rows of x, rows of y or None, lo, hi)
    candidates = np.flatnonzero(present)
    kinds = first.kind[candidates]
    for kind in np.unique(kinds).tolist():
        members = candidates[kinds == kind]
        lengths = eff[members]
        for length in np.unique(lengths).tolist():
            a = members[lengths == length]
            b = members[lengths > length]
            xa = np.ascontiguousarray(_top(first.words[0, a], length))
            for lo, hi in _jobs(a, None):
                tasks.append((xa, xa, a, a, lo, hi, True))
            if len(b):
                xb = np.ascontiguousarray(_top(first.words[0, b], length))
                for lo, hi in _jobs(a, b):
                    tasks.append((xa, xb, a, b, lo, hi, False))

    def work(task):
        x, y, ra, rb, lo, hi, same = task
        found = _run_join(x, y, lo, hi, threshold, same)
        i, j = ra[found[:, 0]], rb[found[:, 1]]
        if not exact and len(i):
            near = np.ones(len(i), dtype=bool)
            for t in on:
                d, ok = pair_distances(units[t], i, j, bits)
                near &= ok & (d <= threshold)
            i, j = i[near], j[near]
        return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)

    if len(tasks) <= 1:
        yield from (work(task) for task in tasks)
        return
    with ThreadPoolExecutor(_threads()) as pool:
        pending = []
        it = iter(tasks)
        for task in it:  # at most 2 tasks per thread in flight: bounded memory
            pending.append(pool.submit(work, task))
            if len(pending) >= 2 * _threads():
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def components(n: int, chunks: Iterable[np.ndarray]) -> np.ndarray:
    """Single-link groups of rows 0..n-1 joined by the pairs in `chunks`: each row's root, the
    smallest row of its group."""
    parent = np.arange(n, dtype=np.int64)
    for pairs in chunks:
        if len(pairs):
            _union(parent, np.ascontiguousarray(pairs, dtype=np.int64), len(pairs))
    return _roots(parent)


def group_ids(roots: np.ndarray) -> np.ndarray:
    """Group numbers 0, 1, ... in the order of each group's first row, -1 for a row alone."""
    n = len(roots)
    sizes = np.bincount(roots, minlength=n)
    head = (roots == np.arange(n)) & (sizes >= 2)
    rank = np.cumsum(head) - 1
    return np.where(sizes[roots] >= 2, rank[roots], -1)
