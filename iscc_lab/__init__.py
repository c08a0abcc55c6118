"""iscc-lab: the ISCC toolkit for Jupyter.

The core verbs return the REST contract's JSON as plain dicts. Importing iscc_lab is cheap and
has no side effects: iscc-sdk is loaded on first use, tornado and ipywidgets never by the core.
"""

import sys
import types
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from iscc_lab.errors import (
    BadRequest,
    Forbidden,
    IsccLabError,
    NotFound,
    ToolMissing,
    Unprocessable,
)
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
    "Collection",
    "batch",
    "batch_dask",
    "card",
    "compare",
    "explain_frame",
    "inventory",
    "near_duplicates",
]

_LAZY = {
    "Collection": "iscc_lab.collection",
    "batch_dask": "iscc_lab.batch",
    "compare": "iscc_lab.analysis",
    "explain_frame": "iscc_lab.analysis",
    "inventory": "iscc_lab.duplicates",
    "near_duplicates": "iscc_lab.analysis",
    "card": "iscc_lab.display",
}


def _frame_verbs() -> None:
    """Register the `df.iscc` accessor: the frame verbs' results have it."""
    import_module("iscc_lab.accessor")


def __getattr__(name):
    """The frame verbs (and `card`) on first use, so that `import iscc_lab` stays free of
    pandas. They also register the `df.iscc` accessor (by importing `iscc_lab.accessor`)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    _frame_verbs()
    globals()[name] = value
    return value


class _IsccLab(types.ModuleType):
    """`iscc_lab.batch` is the package `iscc_lab/batch/`, which is callable (`batch()`). Python
    sets it as an attribute here whenever a submodule (`iscc_lab.batch.rows`) is imported; a
    property instead, so that reaching it always registers the accessor too."""

    @property
    def batch(self):
        package = import_module("iscc_lab.batch")
        _frame_verbs()
        return package

    @batch.setter
    def batch(self, value):  # the import system binding the submodule: the getter has it
        pass


sys.modules[__name__].__class__ = _IsccLab
