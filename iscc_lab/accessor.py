"""The `df.iscc` accessor: the frame verbs on a DataFrame with an `iscc` column.

Thin by design: each method delegates to a verb of `iscc_lab.analysis` or `iscc_lab.display`
and returns a new object (a DataFrame, or an HTML view), so calls chain. This module is the one
registration point: the accessor is registered when it is imported, which `iscc_lab`'s lazy
loader does on first use of `iscc_lab.batch`, `compare`, `explain_frame`, `near_duplicates`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from iscc_lab import analysis, display

__all__ = ["IsccAccessor"]


@pd.api.extensions.register_dataframe_accessor("iscc")
class IsccAccessor:
    """ISCC verbs on a frame with an `iscc` column: `df.iscc.explain()`, `df.iscc.compare()`,
    `df.iscc.near_duplicates()`, `df.iscc.html()`."""

    def __init__(self, pandas_obj: pd.DataFrame):
        if "iscc" not in pandas_obj.columns:
            raise AttributeError(
                "The iscc accessor needs a DataFrame with an 'iscc' column "
                "(as made by iscc_lab.batch())."
            )
        self._df = pandas_obj

    def explain(self) -> pd.DataFrame:
        """One row per unit of each row's ISCC (see `iscc_lab.explain_frame`)."""
        return analysis.explain_frame(self._df["iscc"])

    def compare(self, other=None, *, bits: int | None = None) -> pd.DataFrame:
        """Distances per unit type: all pairs of rows, or every row against each code of
        `other` (see `iscc_lab.compare`)."""
        return analysis.compare(self._df, other, bits=bits)

    def near_duplicates(
        self,
        threshold: int | None = None,
        on: str | Iterable[str] = ("content",),
        *,
        bits: int | None = 64,
    ) -> pd.DataFrame:
        """A copy of the frame with a `group` column of near duplicates (see
        `iscc_lab.near_duplicates`; threshold defaults to 12 bits)."""
        threshold = analysis.DEFAULT_THRESHOLD if threshold is None else threshold
        return analysis.near_duplicates(self._df, threshold, on, bits=bits)

    def html(self, columns: Iterable[str] | None = None, *, max_rows: int = 100):
        """The frame as an HTML view with thumbnails shown as images (see
        `iscc_lab.display.frame_html`)."""
        return display.frame_html(self._df, columns=columns, max_rows=max_rows)
