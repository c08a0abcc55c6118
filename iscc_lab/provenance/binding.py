"""The ISCC soft binding (`io.iscc.v0`, IEP-0020) of a file, and how two bindings compare.

iscc-sdk computes it from its own defaults (`iscc_sdk.soft_binding`), so that every party gets
the same binding from the same file. iscc-lab runs it with its tool wiring (system ffmpeg,
ffprobe, fpcalc: `tools.wire()`, never a download) and with iscc-sdk's default options installed
as its global options for the call, so that no ISCC_SDK_* setting changes a binding.
"""

import base64
import binascii

from iscc_lab import semantic as sem
from iscc_lab.errors import BadRequest, IsccLabError, Unprocessable
from iscc_lab.generate import named_file, sdk

__all__ = ["ALG", "soft_binding", "binding_file", "decode_value", "unit_bodies", "similarity_score"]

ALG = "io.iscc.v0"
UNIT_BITS = 256


def _defaults(idk) -> dict:
    """iscc-sdk's default options, whatever the environment says (not its image pixel limit,
    a safety limit that never changes a value)."""
    opts = {
        name: field.get_default(call_default_factory=True)
        for name, field in idk.SdkOptions.model_fields.items()
    }
    opts.pop("image_max_pixels", None)
    return opts


def _check_semantic(idk, path) -> None:
    """Where a Semantic-Code is asked for: its package and model in place (never a download),
    or ToolMissing saying what is missing."""
    try:
        _, mode = idk.mediatype_and_mode(path)
    except Exception:  # noqa: BLE001 - unsupported media: no semantic unit is made
        return
    if mode in ("text", "image"):
        sem.require(mode)


def binding_file(path, *, semantic: bool = False) -> dict:
    """The soft binding of the file at `path` (named as it is named)."""
    with sdk() as idk:
        with sdk(**_defaults(idk)):
            if semantic:
                _check_semantic(idk, path)
            try:
                sb = idk.soft_binding(path, semantic=semantic)
            except IsccLabError:
                raise
            except Exception as e:  # noqa: BLE001 - any iscc-sdk failure, told to the user
                raise Unprocessable(
                    f"The soft binding of {path.name} could not be made: {type(e).__name__}: "
                    f"{str(e)[:300]}"
                ) from None
            assertion = idk.soft_binding_definition(sb)
    return {
        "alg": ALG,
        "value": base64.b64encode(sb.value).decode("ascii"),
        "units": list(sb.units),
        "assertion": assertion,
    }


def soft_binding(source, filename: str | None = None, *, semantic: bool = False) -> dict:
    """The ISCC soft binding of `source` (a path, bytes or a binary stream).

    Returns `{"alg": "io.iscc.v0", "value": <base64 of the ISCC-SEQ>, "units": [...],
    "assertion": <the c2pa.soft-binding assertion for a manifest definition>}`, equal to
    `iscc_sdk.soft_binding` for the same file.

    :param filename: needed for bytes and streams (its suffix tells the media type).
    :param semantic: add the Semantic-Code (needs iscc-sct's model for text, iscc-sci for
        images); off by default, as iscc-lab's ISCCs.
    """
    with named_file(source, filename) as path:
        return binding_file(path, semantic=semantic)


def decode_value(value) -> list[str]:
    """The ISCC-UNITs of a binding value (base64 text or bytes); BadRequest if it is none."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(
                "value is not base64 (the binding's ISCC-SEQ, base64-encoded)."
            ) from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise BadRequest("value must be a base64 string.")
    import iscc_core as ic

    try:
        units = ic.decode_seq(raw)
    except (ValueError, TypeError) as e:
        raise BadRequest(f"value is not an io.iscc.v0 binding (an ISCC-SEQ): {e}.") from None
    return units


def unit_bodies(units) -> dict[tuple[int, int], bytes]:
    """{(maintype, subtype): body} of 256-bit version-0 units (others are left out)."""
    import iscc_core as ic

    out = {}
    for unit in units:
        mt, st, vs, ln, body = ic.decode_header(ic.decode_base32(unit.removeprefix("ISCC:")))
        if vs == 0 and len(body) * 8 == UNIT_BITS:
            out[(int(mt), int(st))] = body
    return out


def similarity_score(distance_bits: int) -> int:
    """0-100 from the Hamming distance of two 256-bit units: 100 for equal units, 0 at 128 bits
    (the distance of unrelated units) and beyond: round(100 * (1 - d / 128))."""
    return max(0, round(100 * (1 - distance_bits / (UNIT_BITS / 2))))
