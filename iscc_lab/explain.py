"""Decompose an ISCC into its units and representations (the contract's GET /explain)."""

import iscc_core as ic

from iscc_lab.errors import BadRequest

__all__ = ["explain", "normalize"]


def normalize(code) -> str:
    """The canonical `ISCC:…` form of `code` (with or without prefix); BadRequest if invalid."""
    if not isinstance(code, str) or not code.strip():
        raise BadRequest("Invalid ISCC: the code is empty.")
    code = code.strip()
    try:
        norm = ic.iscc_normalize(code)
        ic.iscc_validate(norm, strict=True)
        canonical = "ISCC:" + ic.Code(norm).code  # raises on undecodable headers
    except Exception as e:  # iscc-core raises ValueError, IndexError, KeyError, ...
        raise BadRequest(f"Invalid ISCC {code[:80]!r}: {e or type(e).__name__}") from None
    given = "ISCC:" + code.upper().removeprefix("ISCC:")
    if not (canonical == norm == given):  # iscc-core quietly re-encodes some malformed input
        raise BadRequest(f"Invalid ISCC {code[:80]!r}: not in canonical form (expected {canonical}).")
    return norm


def _unit(code: str) -> dict:
    c = ic.Code(code)
    return {
        "iscc_unit": f"ISCC:{c.code}",
        "readable": c.explain,
        "hash_hex": c.hash_hex,
        "hash_uint": str(c.hash_uint),
        "hash_bits": c.hash_bits,
    }


def explain(code: str) -> dict:
    """`{"iscc", "readable", "multiformat", "decomposed", "units": [...]}` for `code`."""
    norm = normalize(code)
    try:
        decomposed = ic.iscc_decompose(norm)
        units = [_unit(u) for u in decomposed]
        whole = ic.Code(norm)
        return {
            "iscc": norm,
            "readable": whole.explain,
            "multiformat": whole.mf_base64url,
            "decomposed": "-".join(decomposed),
            "units": units,
        }
    except Exception as e:
        raise BadRequest(f"Invalid ISCC {code[:80]!r}: {e or type(e).__name__}") from None
