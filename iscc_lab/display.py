"""HTML for notebooks: a card for one ISCC result, and a frame view with thumbnails.

Opt-in views: `create_iscc` keeps returning a plain dict and `batch()` a plain DataFrame;
`card(result)` and `frame_html(df)` (or `df.iscc.html()`) wrap them in objects that Jupyter
renders through `_repr_html_`. All text is escaped; only `data:image/...` URLs become images.
No pandas import here until a frame is rendered.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Iterable, Mapping

__all__ = ["FrameView", "IsccCard", "card", "frame_html"]

_UNIT_TYPES = ("meta", "semantic", "content", "data", "instance")
_CARD_STYLE = (
    "display:flex;gap:14px;align-items:flex-start;border:1px solid #d0d7de;border-radius:8px;"
    "padding:12px;max-width:760px;font-family:system-ui,sans-serif;font-size:13px"
)
_TD = "padding:1px 10px 1px 0;text-align:left;vertical-align:top"
_MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px"


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    pd = sys.modules.get("pandas")  # pandas.NA and NaT, without importing pandas
    return pd is not None and (value is pd.NA or value is pd.NaT)


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _image_url(value) -> str | None:
    """`value` if it is a data URL of an image (the only kind of `src` we emit), else None."""
    if isinstance(value, str) and value.startswith("data:image/"):
        return value
    return None


def _filesize(n) -> str:
    n = int(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)  # pragma: no cover


def _number(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _as_mapping(result) -> dict:
    if isinstance(result, Mapping):
        return dict(result)
    if hasattr(result, "to_dict"):  # a pandas Series: a row of a batch() frame
        return dict(result.to_dict())
    raise TypeError(
        f"card() takes an ISCC result (a dict or a frame row), not {type(result).__name__}."
    )


def _units(data: dict) -> list[tuple[str, str, str]]:
    """[(unit type, readable kind, unit code)] from `units` or a frame row's unit columns."""
    import iscc_core as ic

    units = data.get("units")
    if not isinstance(units, (list, tuple)) or not units:
        units = [data[t] for t in _UNIT_TYPES if not _missing(data.get(t))]
    out = []
    for unit in units:
        try:
            c = ic.Code(unit)
            parts = c.explain.split("-")
            sub = parts[1].lower()
            kind = f"{c.length} bits" if sub == "none" else f"{sub} · {c.length} bits"
            out.append((parts[0].lower(), kind, str(unit)))
        except Exception:
            out.append(("?", "", str(unit)))
    return out


class IsccCard:
    """One ISCC result as a card: thumbnail, code, units and key metadata."""

    def __init__(self, result):
        self.result = _as_mapping(result)

    def _get(self, key):
        value = self.result.get(key)
        return None if _missing(value) else value

    def _facts(self) -> list[tuple[str, str]]:
        get = self._get
        facts = []
        for key in ("name", "mode", "mediatype", "filename"):
            if get(key) is not None:
                facts.append((key, str(get(key))))
        if get("filesize") is not None:
            facts.append(
                ("filesize", f"{_filesize(get('filesize'))} ({int(get('filesize'))} bytes)")
            )
        if get("width") is not None and get("height") is not None:
            facts.append(("size", f"{int(get('width'))} × {int(get('height'))} px"))
        if get("duration") is not None:
            facts.append(("duration", f"{_number(get('duration'))} s"))
        if get("error") is not None:
            facts.append(("error", str(get("error"))))
        return facts

    def _repr_html_(self) -> str:
        get = self._get
        parts = [f'<div class="iscc-card" style="{_CARD_STYLE}">']
        url = _image_url(get("thumbnail"))
        if url:
            parts.append(
                f'<img src="{_esc(url)}" alt="thumbnail" '
                'style="max-width:160px;max-height:160px;object-fit:contain;flex:none"/>'
            )
        parts.append('<div style="min-width:0">')
        title = get("name") or get("filename") or "ISCC"
        parts.append(f'<div style="font-weight:600;font-size:15px">{_esc(title)}</div>')
        if get("iscc"):
            parts.append(
                f'<div style="{_MONO};margin:4px 0 8px;word-break:break-all">'
                f"{_esc(get('iscc'))}</div>"
            )
        rows = "".join(
            f'<tr><th style="{_TD};color:#57606a;font-weight:500">{_esc(k)}</th>'
            f'<td style="{_TD}">{_esc(v)}</td></tr>'
            for k, v in self._facts()
            if k != "name" or v != title  # the title already shows it
        )
        parts.append(f'<table style="border-collapse:collapse;margin-bottom:8px">{rows}</table>')
        units = _units(self.result)
        if units:
            rows = "".join(
                f'<tr><td style="{_TD};font-weight:500">{_esc(t)}</td>'
                f'<td style="{_TD};color:#57606a;white-space:nowrap">{_esc(kind)}</td>'
                f'<td style="{_TD};{_MONO};word-break:break-all">{_esc(u)}</td></tr>'
                for t, kind, u in units
            )
            parts.append(
                f'<table class="iscc-units" style="border-collapse:collapse">{rows}</table>'
            )
        parts.append("</div></div>")
        return "".join(parts)

    def __repr__(self) -> str:
        lines = [str(self._get("iscc") or "ISCC (no code)")]
        lines += [f"  {k}: {v}" for k, v in self._facts()]
        lines += [f"  {t:<9} {u}" for t, _, u in _units(self.result)]
        return "\n".join(lines)


def card(result) -> IsccCard:
    """A notebook card for an ISCC result (a `create_iscc` dict or a row of a `batch()` frame):
    shown as HTML when it is the last expression of a cell."""
    return IsccCard(result)


def _cell(column: str, value) -> str:
    if column == "thumbnail":
        url = _image_url(value)
        return (
            f'<img src="{_esc(url)}" alt="" style="max-height:64px;max-width:96px"/>' if url else ""
        )
    if _missing(value):
        return ""
    if isinstance(value, float):
        return _esc(_number(value))
    return _esc(value)


class FrameView:
    """A DataFrame rendered as an HTML table with its thumbnails as images."""

    def __init__(self, df, columns: Iterable[str] | None = None, max_rows: int = 100):
        self.df = df
        if columns is None:
            columns = list(df.columns)
            if "thumbnail" in columns:  # the picture first
                columns.remove("thumbnail")
                columns.insert(0, "thumbnail")
        self.columns = [c for c in columns if c in df.columns]
        self.max_rows = max(0, int(max_rows))

    def _repr_html_(self) -> str:
        shown = self.df.iloc[: self.max_rows]
        head = "".join(f"<th>{_esc(c)}</th>" for c in ["", *self.columns])
        body = []
        for label, row in zip(shown.index, shown[self.columns].itertuples(index=False, name=None)):
            cells = "".join(f"<td>{_cell(c, v)}</td>" for c, v in zip(self.columns, row))
            body.append(f"<tr><th>{_esc(label)}</th>{cells}</tr>")
        more = len(self.df) - len(shown)
        foot = f"<p>… {more} more rows</p>" if more > 0 else ""
        return (
            '<div class="iscc-frame"><table class="dataframe">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{foot}</div>"
        )

    def __repr__(self) -> str:
        return repr(self.df[[c for c in self.columns if c != "thumbnail"]].iloc[: self.max_rows])


def frame_html(df, columns: Iterable[str] | None = None, *, max_rows: int = 100) -> FrameView:
    """`df` as an HTML view with the `thumbnail` column as images (thumbnail first), all text
    escaped; at most `max_rows` rows. The frame itself is not changed."""
    return FrameView(df, columns=columns, max_rows=max_rows)
