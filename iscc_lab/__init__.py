"""iscc-lab: the ISCC toolkit for Jupyter.

The core verbs return the REST contract's JSON as plain dicts. Importing iscc_lab is cheap and
has no side effects: iscc-sdk is loaded on first use, tornado and ipywidgets never by the core.
"""

from importlib.metadata import PackageNotFoundError, version

from iscc_lab.errors import BadRequest, Forbidden, IsccLabError, NotFound, ToolMissing, Unprocessable
from iscc_lab.explain import explain
from iscc_lab.generate import create_iscc
from iscc_lab.media import embed_media, iscc_media, metadata_media
from iscc_lab.metadata import embed_metadata, extract_metadata
from iscc_lab.provenance.binding import soft_binding
from iscc_lab.provenance.verbs import sign
from iscc_lab.settings import Settings, get_settings
from iscc_lab.simprints import create_simprints
from iscc_lab.store import Store

try:
    __version__ = version("iscc-lab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "BadRequest",
    "Forbidden",
    "IsccLabError",
    "NotFound",
    "Settings",
    "Store",
    "ToolMissing",
    "Unprocessable",
    "create_iscc",
    "create_simprints",
    "embed_media",
    "embed_metadata",
    "explain",
    "extract_metadata",
    "get_settings",
    "iscc_media",
    "metadata_media",
    "sign",
    "soft_binding",
    # the frame and display verbs, imported on first use (they need pandas): see __getattr__
    "batch",
    "batch_dask",
    "card",
    "compare",
    "explain_frame",
    "near_duplicates",
]

_LAZY = {
    "batch": "iscc_lab.frames",
    "batch_dask": "iscc_lab.distributed",
    "compare": "iscc_lab.frames",
    "explain_frame": "iscc_lab.frames",
    "near_duplicates": "iscc_lab.frames",
    "card": "iscc_lab.display",
}


def __getattr__(name):
    """The frame verbs (and `card`) on first use, so that `import iscc_lab` stays free of
    pandas. The frame verbs also register the `df.iscc` accessor."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    if module == "iscc_lab.frames":
        import_module("iscc_lab.accessor")
    globals()[name] = value
    return value

