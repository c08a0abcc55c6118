"""The manifests of a C2PA manifest store (`application/c2pa`: a JUMBF superbox, ISO 19566-5),
and a store cut down to its active manifest (the Soft Binding Resolution API's
`GET /manifests/{id}?returnActiveManifest=true`).

A manifest store is a JUMBF superbox (`jumb`) whose description box (`jumd`) has the C2PA
store's type; its other children are the manifests, superboxes of their own, labelled with the
manifest's id (`urn:c2pa:...` or `urn:uuid:...`). The active manifest is the last one. Cutting
a store keeps its description box and that manifest's bytes as they are: the claim and its
signature are untouched, so c2pa-python validates the result as it validates the whole store
(ingredients that point at the manifests left out are then reported as missing, which is what
asking for the active manifest alone means).
"""

from __future__ import annotations

import struct
import uuid

from iscc_lab.errors import Unprocessable

__all__ = ["active_only", "manifest_labels"]

#: The JUMBF description types of a C2PA manifest store and of its manifests (C2PA 2.x, A.4).
STORE_TYPE = uuid.UUID("63327061-0011-0010-8000-00aa00389b71")  # "c2pa"
MANIFEST_TYPES = {
    uuid.UUID("63326d61-0011-0010-8000-00aa00389b71"),  # "c2ma": a standard manifest
    uuid.UUID("6332756d-0011-0010-8000-00aa00389b71"),  # "c2um": an update manifest
}
_HEADER = struct.Struct(">I4s")


def _boxes(data: bytes, start: int, end: int):
    """(type, box start, payload start, box end) of each box in data[start:end]."""
    at = start
    while at < end:
        if end - at < 8:
            raise ValueError("a truncated box header")
        size, kind = _HEADER.unpack_from(data, at)
        payload = at + 8
        if size == 1:  # a 64-bit size follows
            if end - at < 16:
                raise ValueError("a truncated box header")
            (size,) = struct.unpack_from(">Q", data, payload)
            payload += 8
        elif size == 0:  # up to the end
            size = end - at
        if size < payload - at or at + size > end:
            raise ValueError(f"a box of {size} bytes does not fit")
        yield kind, at, payload, at + size
        at += size


def _description(data: bytes, start: int, end: int) -> tuple[uuid.UUID, str | None]:
    """(type, label) of a `jumd` box's payload."""
    if end - start < 17:
        raise ValueError("a truncated description box")
    kind = uuid.UUID(bytes=bytes(data[start : start + 16]))
    toggles = data[start + 16]
    label = None
    if toggles & 0x02:  # a label: null-terminated UTF-8
        stop = data.find(b"\x00", start + 17, end)
        if stop < 0:
            raise ValueError("an unterminated label")
        label = bytes(data[start + 17 : stop]).decode("utf-8", "replace")
    return kind, label


def _superbox(data: bytes, start: int, end: int):
    """(description (type, label), description box span, child spans) of a `jumb` payload."""
    children = list(_boxes(data, start, end))
    if not children or children[0][0] != b"jumd":
        raise ValueError("a superbox without its description box")
    first = children[0]
    return _description(data, first[2], first[3]), (first[1], first[3]), children[1:]


def _store(data: bytes):
    """(description box span, [(label, start, end) of each manifest]) of a manifest store;
    Unprocessable saying what is wrong with one that is not."""
    try:
        return _parse_store(data)
    except ValueError as e:
        raise Unprocessable(f"The kept manifest store cannot be read as JUMBF: {e}.") from None


def _parse_store(data: bytes):
    top = list(_boxes(data, 0, len(data)))
    if len(top) != 1 or top[0][0] != b"jumb":
        raise ValueError("not one JUMBF superbox")
    (kind, _), head, children = _superbox(data, top[0][2], top[0][3])
    if kind != STORE_TYPE:
        raise ValueError("not a C2PA manifest store")
    manifests = []
    for box_kind, box_start, payload, box_end in children:
        if box_kind != b"jumb":
            continue
        (m_kind, label), _, _ = _superbox(data, payload, box_end)
        if m_kind in MANIFEST_TYPES:
            manifests.append((label, box_start, box_end))
    return head, manifests


def manifest_labels(data: bytes) -> list[str | None]:
    """The ids of the manifests in a store, in their order (the active one last)."""
    return [label for label, _, _ in _store(data)[1]]


def active_only(data: bytes, manifest_id: str | None = None) -> bytes:
    """The store `data` with only its active manifest (the last, or the one labelled
    `manifest_id`); the store itself when it holds no other."""
    head, manifests = _store(data)
    if not manifests:
        raise Unprocessable("The kept manifest store holds no manifest.")
    chosen = manifests[-1]
    if manifest_id is not None:
        chosen = next((m for m in manifests if m[0] == manifest_id), chosen)
    if len(manifests) == 1:
        return bytes(data)
    body = bytes(data[head[0] : head[1]]) + bytes(data[chosen[1] : chosen[2]])
    return _HEADER.pack(8 + len(body), b"jumb") + body
