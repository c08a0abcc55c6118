"""Analysis of ISCC codes as pandas DataFrames: `explain_frame()`, `compare()`,
`near_duplicates()`.

They work on ISCC codes (strings, lists, Series or frames with an `iscc` column, as made by
`iscc_lab.batch()`) and compare units the way iscc-core's `iscc_compare` does: units of the same
main type, sub type and version, by the Hamming distance of their hashes; units of different
lengths on their common prefix of bits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import iscc_core as ic
import numpy as np
import pandas as pd

from iscc_lab.batch.rows import MAINTYPE_NAMES, UNIT_TYPES, string_dtype
from iscc_lab.errors import BadRequest
from iscc_lab.explain import explain, normalize

__all__ = ["DEFAULT_THRESHOLD", "compare", "explain_frame", "near_duplicates"]

#: Default of `near_duplicates(threshold=...)`: at most 12 differing bits out of 64 (~19 %).
DEFAULT_THRESHOLD = 12
_PAIR_CHUNK = 1 << 20  # pairs compared at once (bounds the memory of compare/near_duplicates)
_POPCOUNT = np.array([i.bit_count() for i in range(256)], dtype=np.uint16)


# --------------------------------------------------------------------------------------------
# Codes in, units out
# --------------------------------------------------------------------------------------------


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _codes(source, name: str = "codes") -> tuple[list, pd.Index]:
    """The codes (None where missing) and row labels of a code, list, Series or frame."""
    if isinstance(source, pd.DataFrame):
        if "iscc" not in source.columns:
            raise BadRequest(f"{name}: a DataFrame needs an 'iscc' column.")
        source = source["iscc"]
    if isinstance(source, pd.Series):
        values = source.tolist()
        index = source.index
    elif isinstance(source, str):
        values, index = [source], pd.RangeIndex(1)
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        values = list(source)
        index = pd.RangeIndex(len(values))
    else:
        raise BadRequest(f"{name}: expected an ISCC, a list or Series of ISCCs or a DataFrame.")
    return [None if _is_missing(v) else str(v) for v in values], index


@lru_cache(maxsize=65536)
def _parse(code: str) -> tuple[str, dict]:
    """(normalized code, {unit type: (main type, sub type, version), hash bytes)})."""
    norm = normalize(code)
    units = {}
    try:
        for unit in ic.iscc_decompose(norm):
            c = ic.Code(unit)
            name = MAINTYPE_NAMES.get(c.maintype)
            if name and name not in units:
                units[name] = ((int(c.maintype), int(c.subtype), int(c.version)), c.hash_bytes)
    except Exception as e:  # noqa: BLE001 - any decoding failure is an invalid code
        raise BadRequest(f"Invalid ISCC {code[:80]!r}: {e or type(e).__name__}") from None
    return norm, units


def explain_frame(codes) -> pd.DataFrame:
    """One row per unit of each code: code, unit, unit_type, readable, hash_hex, bits.

    :param codes: an ISCC, a list or Series of ISCCs, or a frame with an `iscc` column.
        ISCC-CODEs are decomposed into their units; missing values are skipped.
    :return: `code` (the normalized input), `unit` (the unit's `ISCC:` code), `unit_type`
        (meta, semantic, content, data, instance; iscc, id or flake for other main types),
        `readable` (e.g. META-NONE-V0-64-c8a70639eb1167b3), `hash_hex` and `bits` (the hash's
        length in bits).
    """
    values, _ = _codes(codes)
    rows = []
    for code in values:
        if code is None:
            continue
        info = explain(code)
        for unit in info["units"]:
            c = ic.Code(unit["iscc_unit"])
            rows.append(
                {
                    "code": info["iscc"],
                    "unit": unit["iscc_unit"],
                    "unit_type": ic.MT(c.maintype).name.lower(),
                    "readable": unit["readable"],
                    "hash_hex": unit["hash_hex"],
                    "bits": len(unit["hash_bits"]),
                }
            )
    columns = ["code", "unit", "unit_type", "readable", "hash_hex", "bits"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns[:-1]:
        frame[col] = frame[col].astype(string_dtype())
    frame["bits"] = frame["bits"].astype("Int64")
    return frame


# --------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------


class _Units:
    """The units of one unit type over a list of codes, as arrays for vectorized distances."""

    def __init__(self, parsed: list, unit_type: str, kinds: dict):
        n = len(parsed)
        self.kind = np.full(n, -1, dtype=np.int64)  # -1: the code has no such unit
        self.nbytes = np.zeros(n, dtype=np.int64)
        found = [p[1].get(unit_type) if p else None for p in parsed]
        width = max((len(f[1]) for f in found if f), default=1)
        self.hashes = np.zeros((n, width), dtype=np.uint8)
        for i, f in enumerate(found):
            if f:
                self.kind[i] = kinds.setdefault(f[0], len(kinds))
                self.nbytes[i] = len(f[1])
                self.hashes[i, : len(f[1])] = np.frombuffer(f[1], dtype=np.uint8)


def _distances(ua: _Units, ub: _Units, ia, ib, nbytes: int | None):
    """Hamming distances of pairs (ia[k], ib[k]) on their common prefix (and at most `nbytes`
    bytes), and a mask of the comparable pairs (both have the unit, same kind)."""
    ok = (ua.kind[ia] >= 0) & (ua.kind[ia] == ub.kind[ib])
    common = np.minimum(ua.nbytes[ia], ub.nbytes[ib])
    if nbytes is not None:
        common = np.minimum(common, nbytes)
    width = min(ua.hashes.shape[1], ub.hashes.shape[1])
    xor = np.bitwise_xor(ua.hashes[ia, :width], ub.hashes[ib, :width])
    counts = _POPCOUNT[xor]
    counts[np.arange(width)[None, :] >= common[:, None]] = 0
    return counts.sum(axis=1, dtype=np.int64), ok


def _check_bits(bits):
    if bits is None:
        return None
    if int(bits) <= 0 or int(bits) % 8:
        raise BadRequest("bits must be a positive multiple of 8.")
    return int(bits) // 8


def _parse_all(values: list) -> list:
    return [None if v is None else _parse(v) for v in values]


def compare(a, b=None, *, bits: int | None = None) -> pd.DataFrame:
    """Pairwise distances per unit type, in long form (one row per pair).

    Units are compared as iscc-core's `iscc_compare` does: ISCC-CODEs are decomposed into
    units, units of the same main type, sub type and version are compared by the Hamming
    distance of their hashes (units of different lengths on their common prefix of bits; with
    `bits`, on at most the first `bits` bits). Units with no counterpart are not comparable.

    :param a: an ISCC, a list or Series of ISCCs, or a DataFrame with an `iscc` column.
    :param b: the same kinds of input. None: all pairs within `a` (i < j); given: every code of
        `a` against every code of `b` (two single codes give one row).
    :param bits: compare on at most this many leading bits (a multiple of 8).
    :return: columns `a`, `b` (the normalized codes), `meta`, `semantic`, `content`, `data`,
        `instance` (distances in bits, float; NaN where not comparable) and `instance_match`
        (nullable boolean: the Instance-Codes are equal; NA where not comparable). The index is
        a MultiIndex (a_index, b_index) of the row labels (positions for lists) of the pair.
    """
    nbytes = _check_bits(bits)
    va, la = _codes(a, "a")
    pa = _parse_all(va)
    if b is None:
        vb, lb, pb = va, la, pa
        ia, ib = np.triu_indices(len(va), 1)
    else:
        vb, lb = _codes(b, "b")
        pb = _parse_all(vb)
        ia, ib = (
            g.ravel() for g in np.meshgrid(np.arange(len(va)), np.arange(len(vb)), indexing="ij")
        )
    ia = ia.astype(np.int64)
    ib = ib.astype(np.int64)
    data = {
        "a": pd.array([pa[i][0] if pa[i] else None for i in ia], dtype=string_dtype()),
        "b": pd.array([pb[i][0] if pb[i] else None for i in ib], dtype=string_dtype()),
    }
    kinds: dict = {}
    match = None
    for unit_type in UNIT_TYPES:
        ua, ub = _Units(pa, unit_type, kinds), _Units(pb, unit_type, kinds)
        dist = np.full(len(ia), np.nan)
        ok_all = np.zeros(len(ia), dtype=bool)
        for start in range(0, len(ia), _PAIR_CHUNK):
            sl = slice(start, start + _PAIR_CHUNK)
            d, ok = _distances(ua, ub, ia[sl], ib[sl], nbytes)
            dist[sl] = np.where(ok, d, np.nan)
            ok_all[sl] = ok
        data[unit_type] = dist
        if unit_type == "instance":
            match = pd.array(np.where(ok_all, dist == 0, False), dtype="boolean")
            match[~ok_all] = pd.NA
    data["instance_match"] = match
    index = pd.MultiIndex.from_arrays([la[ia], lb[ib]], names=["a_index", "b_index"])
    return pd.DataFrame(data, index=index)


def near_duplicates(
    df,
    threshold: int = DEFAULT_THRESHOLD,
    on: str | Iterable[str] = ("content",),
    *,
    bits: int | None = 64,
) -> pd.DataFrame:
    """Group similar items: a copy of `df` with a `group` column.

    Two rows are near duplicates when, for each unit type in `on`, both have comparable units
    (same main type, sub type, version) at a Hamming distance of at most `threshold` bits;
    groups are the connected components of such pairs (so a chain a~b~c is one group).

    :param df: a DataFrame with an `iscc` column (e.g. from `batch()`), or an ISCC list or
        Series (then a frame with an `iscc` column is made).
    :param threshold: the largest distance in bits. The default, 12 of 64 bits, is about
        19 % of the bits: it groups the same picture saved as JPEG, PNG, GIF, ... or the same
        video in other containers and codecs, and not unrelated media.
    :param on: the unit types that must all be near: any of meta, semantic, content, data,
        instance (default: content).
    :param bits: compare on the first `bits` bits of each unit (default 64, the length of the
        units in a standard ISCC-CODE, so that `threshold` keeps its meaning for longer
        units); None: the common prefix.
    :return: the copy of `df` with `group` (nullable Int64): 0, 1, ... numbered by each group's
        first row, and NA for rows that have no near duplicate (singletons) or no code.
    """
    if isinstance(df, pd.DataFrame):
        if "iscc" not in df.columns:
            raise BadRequest("near_duplicates() needs a DataFrame with an 'iscc' column.")
        out = df.copy()
    else:
        values, index = _codes(df)
        out = pd.DataFrame({"iscc": pd.array(values, dtype=string_dtype())}, index=index)
    on = (on,) if isinstance(on, str) else tuple(on)
    unknown = [t for t in on if t not in UNIT_TYPES]
    if not on or unknown:
        raise BadRequest(f"on: expected unit types out of {', '.join(UNIT_TYPES)}, got {on!r}.")
    if threshold < 0:
        raise BadRequest("threshold must be at least 0.")
    _check_bits(bits)
    values, _ = _codes(out)
    # exact single-link groups on the compiled kernels of iscc_lab.hamming (both cores,
    # chunked pairs): the same groups as comparing every pair, at a million rows in minutes
    from iscc_lab import hamming

    units = hamming.decode(values, on)
    pairs = hamming.near_pairs(units, on, int(threshold), None if bits is None else int(bits))
    groups = hamming.group_ids(hamming.components(len(values), pairs))
    group = pd.array(groups, dtype="Int64")
    group[groups < 0] = pd.NA
    out["group"] = group
    return out
