"""The one row schema of a batch: unit types, columns and dtypes, the per-file work, and rows to
a DataFrame.

A row is a plain dict, one per file, with the keys `path`, `filename`, the `COLUMNS` after
them, one key per unit type the result has (`UNIT_TYPES`), `features` (granular features, or
None), `thumbnail` and `error` (None, or the message of a file that failed). Every executor
(the local pool, Dask) makes its rows with `work()` or `error_row()` and its frame with
`to_frame()`; the widgets and `display` read unit types from here.

pandas is imported by `to_frame()` only: worker processes import this module for `work()` and
start faster without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import iscc_core as ic

from iscc_lab.errors import IsccLabError
from iscc_lab.explain import UNIT_TYPES
from iscc_lab.generate import create_iscc
from iscc_lab.settings import Settings

__all__ = [
    "COLUMNS",
    "FLOAT_COLUMNS",
    "INT_COLUMNS",
    "MAINTYPE_NAMES",
    "UNIT_TYPES",
    "all_columns",
    "error_row",
    "message",
    "result_row",
    "string_dtype",
    "to_frame",
    "unit_columns",
    "work",
]

#: iscc-core's main types of units, by the name of their unit type.
MAINTYPE_NAMES = {
    ic.MT.META: "meta",
    ic.MT.SEMANTIC: "semantic",
    ic.MT.CONTENT: "content",
    ic.MT.DATA: "data",
    ic.MT.INSTANCE: "instance",
}
#: The columns of a `batch()` frame before the unit columns.
COLUMNS = (
    "path", "filename", "iscc", "mode", "mediatype", "filesize", "name", "width", "height",
    "duration", "datahash", "metahash",
)  # fmt: skip
INT_COLUMNS = ("filesize", "width", "height")
FLOAT_COLUMNS = ("duration",)


def message(e: BaseException) -> str:
    """An error as a row's `error`: our own messages as they are, others with their type."""
    if isinstance(e, IsccLabError):
        return str(e)
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def unit_columns(units: Iterable[str] | None) -> dict:
    """{unit type: unit} for the units of a result (the first unit of each type)."""
    found = {}
    for unit in units or ():
        try:
            name = MAINTYPE_NAMES.get(ic.Code(unit).maintype)
        except Exception:  # noqa: BLE001 - not a unit: no column
            continue
        if name and name not in found:
            found[name] = unit if str(unit).startswith("ISCC:") else f"ISCC:{unit}"
    return found


def _base(path) -> dict:
    row = dict.fromkeys(COLUMNS)
    row["path"] = None if path is None else os.fspath(path)
    row["filename"] = None if path is None else Path(path).name
    return row


def error_row(path, error: str) -> dict:
    """The row of a file that failed with `error`."""
    row = _base(path)
    row.update(features=None, thumbnail=None, error=str(error))
    return row


def result_row(path, result: dict) -> dict:
    """The row of a file's ISCC result (the contract's ISCC JSON)."""
    row = _base(path)
    for key in COLUMNS[1:]:
        if result.get(key) is not None:
            row[key] = result[key]
    row.update(unit_columns(result.get("units")))
    row.update(features=result.get("features"), thumbnail=result.get("thumbnail"), error=None)
    if result.get("c2pa") is not None:  # Content Credentials: only files with a manifest
        row["c2pa"] = result["c2pa"]
    return row


def work(
    path,
    semantic: bool | None,
    granular: bool,
    settings: Settings | None,
    *,
    soft_binding: bool = False,
) -> dict:
    """One file's row: its ISCC (without granular features unless asked), or its error; with
    `soft_binding`, its ISCC soft binding's value (base64, `iscc_lab.soft_binding`) too.

    Runs in a worker process (or in-process for workers=1); returns, never raises an
    Exception, so that one bad file does not stop the batch.
    """
    if path is None:
        return error_row(None, "No path given.")
    try:
        result = create_iscc(path, semantic=semantic, granular=granular, settings=settings)
    except Exception as e:  # noqa: BLE001 - one bad file gives an error row, the batch goes on
        return error_row(path, message(e))
    if not granular:
        result.pop("features", None)
    row = result_row(path, result)
    if soft_binding:
        from iscc_lab.provenance.binding import soft_binding as make_binding

        try:
            row["soft_binding"] = make_binding(path)["value"]
        except Exception as e:  # noqa: BLE001 - the row says why; the batch goes on
            row.update(soft_binding=None, error=f"soft binding: {message(e)}")
    return row


def string_dtype():
    """The dtype of string columns: pandas 3's `str`, object before."""
    import pandas

    return "str" if int(pandas.__version__.split(".")[0]) >= 3 else object


def all_columns(granular: bool) -> list[str]:
    """The columns of a frame with every unit type (as `batch_dask` partitions have)."""
    return [*COLUMNS, *UNIT_TYPES, *(["features"] if granular else []), "thumbnail", "error"]


def to_frame(rows: list[dict], index=None, granular: bool = False, *, every_unit=False):
    """`batch()`'s DataFrame of `rows` (in their order), with `index` (None: a RangeIndex).

    Columns: `COLUMNS`, one per unit type present in any row (all five with
    `every_unit=True`), `soft_binding` and `c2pa` where a row has them, `features` with
    `granular`, then `thumbnail` and `error`.
    """
    import numpy as np
    import pandas as pd

    present = UNIT_TYPES if every_unit else [t for t in UNIT_TYPES if any(r.get(t) for r in rows)]
    # provenance: `soft_binding` where asked for, `c2pa` where a file carries a manifest
    extra = [c for c in ("soft_binding", "c2pa") if any(c in r for r in rows)]
    features = ["features"] if granular else []
    columns = [*COLUMNS, *present, *extra, *features, "thumbnail", "error"]
    text = string_dtype()
    data = {}
    for col in columns:
        values = [r.get(col) for r in rows]
        if col in INT_COLUMNS:
            data[col] = pd.array(values, dtype="Int64")
        elif col in FLOAT_COLUMNS:
            data[col] = pd.array([np.nan if v is None else float(v) for v in values], "float64")
        elif col in ("features", "c2pa"):
            data[col] = pd.array(values, dtype=object)
        else:
            data[col] = pd.array(values, dtype=text)
    return pd.DataFrame(data, columns=columns, index=index)
