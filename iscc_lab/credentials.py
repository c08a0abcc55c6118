"""Reading Content Credentials (C2PA manifest stores) with c2pa-python, offline.

c2pa-python reads and validates a manifest store embedded in a file, or a sidecar store
(`application/c2pa` bytes) against its asset. iscc-lab's context never reaches the network: no
remote manifests and no OCSP fetches; trust is judged against no trust list, so a manifest
signed by a certificate of one's own validates with the status `signingCredential.untrusted`.

A core module (generate.py reads the `c2pa` field through it); signing and the manifest
repository, which build on generate, are in `iscc_lab.provenance`.
"""

import io
import json
import logging
from functools import lru_cache

from iscc_lab.errors import ToolMissing

__all__ = [
    "OFFLINE_SETTINGS",
    "c2pa_module",
    "context",
    "embedded_store",
    "read_store",
    "read_c2pa",
    "summary",
]

log = logging.getLogger(__name__)

OFFLINE_SETTINGS = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "builder": {"thumbnail": {"enabled": False}},
}


def c2pa_module():
    """The c2pa module, or ToolMissing naming the package."""
    try:
        import c2pa
    except ImportError:
        raise ToolMissing(
            "Content Credentials need the c2pa-python package, which is not installed "
            "(pip install c2pa-python, or `make venv`)."
        ) from None
    return c2pa


@lru_cache(maxsize=1)
def context():
    """The one c2pa Context of this process, with the offline settings."""
    c2pa = c2pa_module()
    return c2pa.Context.from_dict(OFFLINE_SETTINGS)


def read_store(asset, mediatype: str | None = None, manifest: bytes | None = None) -> dict | None:
    """The manifest store JSON of `asset` (a path or a binary stream), with `manifest` the
    bytes of a sidecar store if given. None when there is no manifest store. c2pa's errors
    (a damaged store, an unsupported format) propagate as c2pa.C2paError."""
    c2pa = c2pa_module()
    if isinstance(asset, (bytes, bytearray)):
        asset = io.BytesIO(asset)
    if hasattr(asset, "read"):
        reader = c2pa.Reader.try_create(mediatype, asset, manifest, context())
    else:
        reader = c2pa.Reader.try_create(str(asset), None, manifest, context())
    if reader is None:
        return None
    with reader:
        return json.loads(reader.json())


def summary(store: dict) -> dict:
    """What a person asks of a manifest store, as c2pa-python reports it: the active manifest's
    id, the validation state, the claim generator, the title and the signer."""
    active_id = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active_id) or {}
    generator = manifest.get("claim_generator")
    if not generator:
        info = manifest.get("claim_generator_info") or []
        generator = (
            " ".join(
                f"{g.get('name', '')}/{g.get('version', '')}".rstrip("/")
                for g in info
                if g.get("name")
            )
            or None
        )
    sig = manifest.get("signature_info") or {}
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    out = {
        "active_manifest": active_id,
        "validation_state": store.get("validation_state"),
        "claim_generator": generator,
        "title": manifest.get("title"),
        "signer": {k: sig[k] for k in ("common_name", "issuer", "alg", "time") if sig.get(k)},
        "failures": [f.get("code") for f in results.get("failure") or [] if f.get("code")],
    }
    return {k: v for k, v in out.items() if v not in (None, {}, [])} | {
        "validation_state": out["validation_state"]
    }


def read_c2pa(path) -> dict | None:
    """The `c2pa` field of an ISCC result: `summary()` of the file's embedded manifest store,
    None without one (or without c2pa-python, or for a format c2pa cannot read). A store that
    c2pa-python cannot even parse gives `{"validation_state": "Invalid", "error": ...}`: never
    an exception."""
    try:
        c2pa = c2pa_module()
    except ToolMissing:
        return None
    try:
        store = read_store(path)
    except c2pa.C2paError as e:
        text = str(e)
        if "NotSupported" in type(e).__name__ or "not supported" in text.lower():
            return None
        log.info("c2pa could not read the manifest store of %s: %s", getattr(path, "name", ""), e)
        return {"validation_state": "Invalid", "error": f"{type(e).__name__}: {text[:300]}"}
    except Exception as e:  # noqa: BLE001 - a reader fault must never fail the ISCC
        log.warning("c2pa failed on %s: %r", getattr(path, "name", ""), e)
        return None
    return summary(store) if store is not None else None


def embedded_store(path) -> bytes | None:
    """The `application/c2pa` bytes of the manifest store embedded in a JPEG (APP11 JUMBF
    segments, joined) or PNG (its `caBX` chunk); None for other formats or without one.
    c2pa-python reads embedded stores but does not hand out their bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\xff\xd8":
        return _jpeg_store(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_store(data)
    return None


def _jpeg_store(data: bytes) -> bytes | None:
    i, boxes = 2, {}
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata segments
            break
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xFF):
            i += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segment = data[i + 4 : i + 2 + length]
        if marker == 0xEB and segment[:2] == b"JP" and len(segment) >= 8:
            instance = int.from_bytes(segment[2:4], "big")
            sequence = int.from_bytes(segment[4:8], "big")
            boxes.setdefault(instance, []).append((sequence, segment[8:]))
        i += 2 + length
    for packets in boxes.values():
        packets.sort(key=lambda p: p[0])
        # every packet after the first repeats the superbox's 8-byte header (LBox, TBox)
        box = packets[0][1] + b"".join(p[8:] for _, p in packets[1:])
        if box[4:8] == b"jumb" and b"c2pa" in box[8:64]:
            return box
    return None


def _png_store(data: bytes) -> bytes | None:
    i = 8
    while i + 12 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        if kind == b"caBX":
            return data[i + 8 : i + 8 + length]
        if kind == b"IEND":
            break
        i += 12 + length
    return None
