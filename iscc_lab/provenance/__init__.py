"""Content Credentials: ISCC soft bindings (`io.iscc.v0`), reading and signing C2PA manifests,
and the manifest repository behind the Soft Binding Resolution API.

    binding.py      the soft binding of a file, decoding and scoring bindings
    signing.py      the signer from settings, the manifest definition, signing a file
    repository.py   the manifest repository (SQLite) and matching by binding
    jumbf.py        the manifests of a manifest store; a store cut to its active manifest
    verbs.py        sign / sign_media / soft_binding_media, and their worker-process jobs
    card.py         a recovered manifest as a card a person reads (who, when, actions, ISCC)

Reading manifest stores (the `c2pa` field of ISCC results) is `iscc_lab.credentials`, a core
module below generate.py; `read_c2pa` is re-exported here. The names below are imported on first
use, and c2pa-python only when used.
"""

from importlib import import_module

__all__ = [
    "ALG",
    "MIN_SCORE",
    "ManifestRepository",
    "decode_value",
    "manifest_card",
    "manifest_facts",
    "read_c2pa",
    "sign",
    "sign_media",
    "soft_binding",
    "soft_binding_media",
]

_WHERE = {
    "ALG": "binding",
    "decode_value": "binding",
    "soft_binding": "binding",
    "read_c2pa": "credentials",
    "manifest_card": "card",
    "manifest_facts": "card",
    "MIN_SCORE": "repository",
    "ManifestRepository": "repository",
    "sign": "verbs",
    "sign_media": "verbs",
    "soft_binding_media": "verbs",
}


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = "iscc_lab.credentials" if module == "credentials" else f"{__name__}.{module}"
    value = getattr(import_module(where), name)
    globals()[name] = value
    return value
