"""HTML for notebooks: a card for one ISCC result, a frame view with thumbnails, and the small
HTML and size helpers the widgets use too (one set for both faces).

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

__all__ = [
    "FrameView",
    "IsccCard",
    "card",
    "error_box",
    "esc",
    "frame_html",
    "human_size",
    "limit_size",
    "table",
    "widget_view",
]

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


def esc(value) -> str:
    """`value` as text for HTML (attributes included)."""
    return html.escape(str(value), quote=True)


def _image_url(value) -> str | None:
    """`value` if it is a data URL of an image (the only kind of `src` we emit), else None."""
    if isinstance(value, str) and value.startswith("data:image/"):
        return value
    return None


def human_size(n) -> str:
    """`n` bytes for people, in decimal units as the cards show them: 35.4 KB, 209.7 MB."""
    value = int(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"  # pragma: no cover


def limit_size(n) -> str:
    """A limit for people: binary units where exact (8 MiB, 1 GiB), else as `human_size`."""
    n = int(n)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return human_size(n)


def error_box(messages: Iterable[str]) -> str:
    """A red box listing `messages` (escaped)."""
    items = "".join(f"<li>{esc(m)}</li>" for m in messages)
    return (
        '<div class="iscc-errors" style="border:1px solid #cf222e;background:#ffebe9;color:#82071e;'
        "border-radius:6px;padding:6px 10px;margin:6px 0;font-family:system-ui,sans-serif;"
        f'font-size:13px"><ul style="margin:0;padding-left:18px">{items}</ul></div>'
    )


def widget_view(content: str) -> str:
    """`content` for a widget's HTML view (whose line height is made for one-line labels)."""
    return f'<div class="iscc-view" style="line-height:1.45">{content}</div>' if content else ""


def table(columns: list[str], rows: Iterable[list], mono: tuple = (), head: bool = True) -> str:
    """A plain HTML table of `rows` (all cells escaped); columns named in `mono` in monospace;
    `head=False` hides the header row."""
    cell = "text-align:left;vertical-align:top;padding:2px 8px"
    mono_cell = f"{cell};{_MONO};word-break:break-all"
    heads = "".join(f'<th style="text-align:left;padding:2px 8px">{esc(c)}</th>' for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{mono_cell if col in mono else cell}">{esc(value)}</td>'
            for col, value in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    thead = "<thead>" if head else '<thead style="display:none">'
    return (
        '<table class="iscc-table" style="border-collapse:collapse;font-size:13px">'
        f"{thead}<tr>{heads}</tr></thead><tbody>{body}</tbody></table>"
    )


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

    from iscc_lab.batch.rows import UNIT_TYPES  # the row schema's unit columns

    units = data.get("units")
    if not isinstance(units, (list, tuple)) or not units:
        units = [data[t] for t in UNIT_TYPES if not _missing(data.get(t))]
    out = []
    for unit in units:
        try:
            c = ic.Code(unit)
            parts = c.explain.split("-")
            sub = parts[1].lower()
            kind = f"{c.length} bits" if sub == "none" else f"{sub} · {c.length} bits"
            out.append((parts[0].lower(), kind, str(unit)))
        except Exception:  # noqa: BLE001 - not a code iscc-core reads: shown as it is
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
                ("filesize", f"{human_size(get('filesize'))} ({int(get('filesize'))} bytes)")
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
                f'<img src="{esc(url)}" alt="thumbnail" '
                'style="max-width:160px;max-height:160px;object-fit:contain;flex:none"/>'
            )
        parts.append('<div style="min-width:0">')
        title = get("name") or get("filename") or "ISCC"
        parts.append(f'<div style="font-weight:600;font-size:15px">{esc(title)}</div>')
        if get("iscc"):
            parts.append(
                f'<div style="{_MONO};margin:4px 0 8px;word-break:break-all">'
                f"{esc(get('iscc'))}</div>"
            )
        rows = "".join(
            f'<tr><th style="{_TD};color:#57606a;font-weight:500">{esc(k)}</th>'
            f'<td style="{_TD}">{esc(v)}</td></tr>'
            for k, v in self._facts()
            if k != "name" or v != title  # the title already shows it
        )
        parts.append(f'<table style="border-collapse:collapse;margin-bottom:8px">{rows}</table>')
        units = _units(self.result)
        if units:
            rows = "".join(
                f'<tr><td style="{_TD};font-weight:500">{esc(t)}</td>'
                f'<td style="{_TD};color:#57606a;white-space:nowrap">{esc(kind)}</td>'
                f'<td style="{_TD};{_MONO};word-break:break-all">{esc(u)}</td></tr>'
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
            f'<img src="{esc(url)}" alt="" style="max-height:64px;max-width:96px"/>' if url else ""
        )
    if _missing(value):
        return ""
    if isinstance(value, float):
        return esc(_number(value))
    return esc(value)


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
        head = "".join(f"<th>{esc(c)}</th>" for c in ["", *self.columns])
        body = []
        for label, row in zip(
            shown.index, shown[self.columns].itertuples(index=False, name=None), strict=True
        ):
            cells = "".join(
                f"<td>{_cell(c, v)}</td>" for c, v in zip(self.columns, row, strict=True)
            )
            body.append(f"<tr><th>{esc(label)}</th>{cells}</tr>")
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
