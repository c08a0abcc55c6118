"""Manifest stores as JUMBF: the manifests' ids, and a store cut to its active manifest."""

import struct
import uuid

import pytest

from iscc_lab.errors import Unprocessable
from iscc_lab.provenance.jumbf import MANIFEST_TYPES, STORE_TYPE, active_only, manifest_labels


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def superbox(kind: uuid.UUID, label: str, *children: bytes) -> bytes:
    description = box(b"jumd", kind.bytes + b"\x03" + label.encode() + b"\x00")
    return box(b"jumb", description + b"".join(children))


C2MA = sorted(MANIFEST_TYPES)[0]


def store(*labels: str) -> bytes:
    manifests = [superbox(C2MA, m, box(b"json", f'{{"m": "{m}"}}'.encode())) for m in labels]
    return superbox(STORE_TYPE, "c2pa", *manifests)


def test_labels_and_the_active_manifest():
    data = store("urn:c2pa:a", "urn:c2pa:b", "urn:c2pa:c")
    assert manifest_labels(data) == ["urn:c2pa:a", "urn:c2pa:b", "urn:c2pa:c"]
    cut = active_only(data)
    assert manifest_labels(cut) == ["urn:c2pa:c"]
    assert cut == store("urn:c2pa:c")  # the description and the manifest, byte for byte
    assert manifest_labels(active_only(data, "urn:c2pa:b")) == ["urn:c2pa:b"]
    single = store("urn:c2pa:z")
    assert active_only(single) == single


def test_a_64_bit_box_size_is_read():
    data = store("urn:c2pa:a", "urn:c2pa:b")
    size, kind = struct.unpack(">I4s", data[:8])
    long_form = struct.pack(">I4sQ", 1, kind, size + 8) + data[8:]
    assert manifest_labels(long_form) == ["urn:c2pa:a", "urn:c2pa:b"]
    assert manifest_labels(active_only(long_form)) == ["urn:c2pa:b"]


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "not one JUMBF superbox"),
        (b"\x00\x00\x00\x10jumb", "does not fit"),
        (store("urn:c2pa:a")[:-3], "does not fit"),
        (superbox(uuid.uuid4(), "other", box(b"json", b"{}")), "not a C2PA manifest store"),
        (box(b"jumb", box(b"json", b"{}")), "without its description box"),
    ],
)
def test_damaged_stores_say_what_is_wrong(data, why):
    with pytest.raises(Unprocessable, match=why):
        active_only(data)


def test_a_store_without_manifests():
    with pytest.raises(Unprocessable, match="holds no manifest"):
        active_only(superbox(STORE_TYPE, "c2pa"))
