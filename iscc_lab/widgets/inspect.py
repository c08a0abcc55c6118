"""`ExplainWidget` (an ISCC's units) and `SimprintWidget` (a text's granular simprints with the
segment each covers): small views over core verbs, rendered with `iscc_lab.display`'s helpers."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as W

from iscc_lab.display import error_box, table, widget_view
from iscc_lab.errors import IsccLabError

__all__ = ["ExplainWidget", "SimprintWidget", "simprint_rows"]


def simprint_rows(text: str, simprints: Mapping) -> list[dict]:
    """One row per simprint: type, simprint, offset, size and the text segment it covers.

    Offsets and sizes count UTF-8 bytes of `text`; the segment is those bytes decoded (bytes of
    a character cut at an edge are replaced).
    """
    data = text.encode("utf-8")
    rows = []
    for kind, entries in simprints.items():
        for e in entries:
            offset, size = int(e["offset"]), int(e["size"])
            segment = data[offset : offset + size].decode("utf-8", errors="replace")
            rows.append(
                {
                    "type": kind,
                    "simprint": e["simprint"],
                    "offset": offset,
                    "size": size,
                    "segment": segment,
                }
            )
    return rows


# --------------------------------------------------------------------------------------------
# ExplainWidget
# --------------------------------------------------------------------------------------------


class ExplainWidget(W.VBox):
    """Type an ISCC (with or without the `ISCC:` prefix) and see its units.

    `.result` is the `iscc_lab.explain` dict of the last code (None if invalid or empty),
    `.error` the message of an invalid code (None otherwise).
    """

    def __init__(self, code: str = "", **kwargs):
        self.result: dict | None = None
        self.error: str | None = None
        self.text = W.Text(
            value="",
            placeholder="ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA",
            description="ISCC",
            continuous_update=False,
            layout=W.Layout(width="100%", max_width="760px"),
        )
        self.output = W.HTML()
        super().__init__(children=[self.text, self.output], **kwargs)
        self.text.observe(self._on_code, names="value")
        if code:
            self.text.value = code

    @property
    def code(self) -> str:
        return self.text.value

    @code.setter
    def code(self, value: str) -> None:
        self.text.value = value

    def _on_code(self, change) -> None:
        self.update(change["new"])

    def update(self, code: str) -> None:
        from iscc_lab.explain import explain

        self.result = self.error = None
        if not code or not code.strip():
            self.output.value = ""
            return
        try:
            self.result = explain(code)
        except IsccLabError as e:
            self.error = e.message
        except Exception as e:  # noqa: BLE001 - not ours: still a message, not a traceback
            self.error = f"{type(e).__name__}: {e}"
        self.output.value = widget_view(self.html())

    def html(self) -> str:
        if self.error:
            return error_box([self.error])
        r = self.result
        if not r:
            return ""
        facts = table(
            ["", ""],
            [
                ["iscc", r["iscc"]],
                ["readable", r["readable"]],
                ["multiformat", r["multiformat"]],
                ["decomposed", r["decomposed"]],
            ],
            mono=("",),
            head=False,
        )
        units = table(
            ["unit", "readable", "hash_hex", "bits"],
            [
                [u["iscc_unit"], u["readable"], u["hash_hex"], len(u["hash_bits"])]
                for u in r["units"]
            ],
            mono=("unit", "readable", "hash_hex"),
        )
        return f'<div class="iscc-explain">{facts}<div style="height:8px"></div>{units}</div>'


# --------------------------------------------------------------------------------------------
# SimprintWidget
# --------------------------------------------------------------------------------------------


class SimprintWidget(W.VBox):
    """Paste a text and see its granular simprints with the text segment each one covers.

    `.simprints` is the `iscc_lab.create_simprints` dict of the last text, `.rows` one dict per
    simprint (type, simprint, offset, size, segment), `.error` the message of a failure.
    """

    def __init__(self, text: str = "", *, segment_chars: int = 160, **kwargs):
        self.simprints: dict | None = None
        self.rows: list[dict] = []
        self.error: str | None = None
        self.segment_chars = segment_chars
        self.textarea = W.Textarea(
            value=text,
            placeholder="Paste a text here",
            layout=W.Layout(width="100%", max_width="760px", height="120px"),
        )
        self.button = W.Button(description="Create simprints", button_style="primary")
        self.output = W.HTML()
        super().__init__(children=[self.textarea, self.button, self.output], **kwargs)
        self.button.on_click(lambda _: self.update())
        if text:
            self.update()

    @property
    def text(self) -> str:
        return self.textarea.value

    @text.setter
    def text(self, value: str) -> None:
        self.textarea.value = value
        self.update()

    @property
    def frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["type", "simprint", "offset", "size", "segment"])

    def update(self) -> None:
        from iscc_lab.simprints import create_simprints

        self.simprints, self.rows, self.error = None, [], None
        text = self.textarea.value
        try:
            self.simprints = create_simprints(text, offsets=True)
            self.rows = simprint_rows(text, self.simprints)
        except IsccLabError as e:
            self.error = e.message
        except Exception as e:  # noqa: BLE001 - shown in the widget
            self.error = f"{type(e).__name__}: {e}"
        self.output.value = widget_view(self.html())

    def html(self) -> str:
        if self.error:
            return error_box([self.error])
        if not self.rows:
            return ""
        n = self.segment_chars

        def cut(s: str) -> str:
            return s if len(s) <= n else s[: n - 1] + "…"

        return table(
            ["type", "simprint", "offset", "size", "segment"],
            [
                [r["type"], r["simprint"], r["offset"], r["size"], cut(r["segment"])]
                for r in self.rows
            ],
            mono=("simprint",),
        )
