"""Decompose an ISCC into its units and representations (the contract's GET /explain).

`normalize` is the one place where a code given by a user is checked: every verb that takes
codes (`explain`, and `compare`, `near_duplicates`, `explain_frame` of the analysis face) goes
through it, so that an invalid code gets the same message everywhere, one that says what is
wrong with the code (empty, not base32, truncated, unknown type, ...) rather than which Python
error a decoder raised.
"""

import base64
import binascii

import iscc_core as ic
from iscc_core.constants import SUBTYPE_MAP

from iscc_lab.errors import BadRequest

__all__ = ["UNIT_TYPES", "explain", "normalize", "decompose", "code_problem"]

#: The unit types an ISCC is made of (iscc-core's main types up to INSTANCE, lower case), in
#: the order of their columns everywhere (batch frames, collections, the media catalogue).
UNIT_TYPES = ("meta", "semantic", "content", "data", "instance")

_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_MAINTYPES = ", ".join(m.name for m in ic.MT)
_SHOWN = 80  # characters of a bad code quoted in a message


def code_problem(code) -> str | None:
    """What is wrong with `code` as an ISCC, in words for a person, or None if it is valid.

    Valid means: canonical base32 (upper case, no padding), with or without the `ISCC:`
    prefix, a known main type, sub type and version, and as many bits as its header says.
    """
    return _check(code)[1]


def normalize(code) -> str:
    """The canonical `ISCC:…` form of `code` (with or without prefix); BadRequest if invalid,
    with a message that says what is wrong (see `code_problem`)."""
    norm, problem = _check(code)
    if problem:
        raise BadRequest(problem)
    return norm


def decompose(code) -> list[str]:
    """The `ISCC:…` units of `code` (a unit is its own single unit); BadRequest if invalid."""
    return ["ISCC:" + u for u in ic.iscc_decompose(normalize(code))]


def _invalid(shown: str, why: str) -> str:
    return f"Invalid ISCC {shown!r}: {why}."


def _check(code) -> tuple[str | None, str | None]:
    if code is None:
        return None, "Invalid ISCC: no code given."
    if not isinstance(code, str):
        return None, f"Invalid ISCC: expected a string, not {type(code).__name__}."
    text = code.strip()
    if not text:
        return None, "Invalid ISCC: the code is empty."
    shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    body = text[5:] if text[:5].upper() == "ISCC:" else text
    if not body:
        return None, _invalid(shown, "nothing follows the ISCC: prefix")
    if "=" in body:
        return None, _invalid(
            shown,
            "it is not in canonical form: it has base32 padding ('='), which ISCCs are "
            "written without",
        )
    if body is text and body[:1] in _MULTIBASE:
        multiformat = _multiformat(text)
        if multiformat:
            return None, _invalid(
                shown, f"it is not in canonical form: a multiformat encoding of {multiformat}"
            )
    bad = sorted({c for c in body.upper() if c not in _BASE32})
    if bad:
        listed = ", ".join(repr(c) for c in bad[:5]) + (" ..." if len(bad) > 5 else "")
        return None, _invalid(
            shown, f"it is not base32: {listed} cannot occur (only the letters A-Z and digits 2-7)"
        )
    body = body.upper()
    if len(body) % 8 in (1, 3, 6):
        return None, _invalid(
            shown,
            f"its length ({len(body)} characters) is not that of base32 for whole bytes: "
            "a character is missing or one too many",
        )
    try:
        data = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):  # not expected after the checks above
        return None, _invalid(shown, "it does not decode as base32")
    if len(data) < 2:
        return None, _invalid(shown, "it is too short to hold an ISCC header")
    why = _header_problem(data)
    if why:
        return None, _invalid(shown, why)
    canonical = "ISCC:" + ic.encode_base32(data)
    if canonical != "ISCC:" + body:
        return None, _invalid(
            shown, f"it is not in canonical form (its last character is off; expected {canonical})"
        )
    try:
        ic.iscc_validate(canonical, strict=True)
        units = ic.iscc_decompose(canonical)
        for unit in units:
            ic.Code(unit).explain  # noqa: B018  (decodes the unit's header and body)
    except Exception:  # noqa: BLE001  (iscc-core checks a few corners further than we do)
        return None, _invalid(shown, "its units do not decode (a damaged or made-up code)")
    return canonical, None


_MULTIBASE = frozenset(
    "fbvzu"
)  # multibase prefixes iscc-core decodes (hex, base32, base58, base64url)


def _multiformat(text: str) -> str | None:
    """The canonical code that `text`, a multiformat encoding, stands for; None if it is not one."""
    try:
        norm = ic.iscc_normalize(text)
    except Exception:  # noqa: BLE001  (not a multiformat encoding)
        return None
    if norm.upper() == "ISCC:" + text.upper():
        return None
    return norm if _check(norm)[1] is None else None


def _header_problem(data: bytes) -> str | None:
    """What is wrong with the header and length of the decoded bytes, or None."""
    try:
        mt, st, vs, ln, tail = ic.decode_header(data)
    except Exception:  # noqa: BLE001  (bitarray and varnibble errors)
        return "its header is truncated"
    try:
        maintype = ic.MT(mt)
    except ValueError:
        return f"unknown main type {mt} (known: {_MAINTYPES})"
    subtypes = SUBTYPE_MAP.get((maintype, vs))
    if subtypes is None:
        return f"unknown version {vs} for main type {maintype.name}"
    try:
        subtypes(st)
    except ValueError:
        return f"unknown sub type {st} for main type {maintype.name}"
    try:
        bits = ic.decode_length(maintype, ln, st).value
    except Exception:  # noqa: BLE001  (ValueError, IndexError of the unit table)
        return f"its header has an invalid length field for main type {maintype.name}"
    have = len(tail) * 8
    if have < bits:
        return f"it is truncated: its header announces {bits} bits, the code carries {have}"
    if have > bits:
        return f"it is too long: its header announces {bits} bits, the code carries {have}"
    return None


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
    decomposed = ic.iscc_decompose(norm)
    whole = ic.Code(norm)
    return {
        "iscc": norm,
        "readable": whole.explain,
        "multiformat": whole.mf_base64url,
        "decomposed": "-".join(decomposed),
        "units": [_unit(u) for u in decomposed],
    }
