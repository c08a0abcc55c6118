"""`UploadWidget`: upload files from the browser and get their ISCCs.

It does not send file bytes through the kernel connection as ipywidgets' `FileUpload` does
(Jupyter's websocket drops messages over ~10 MiB, the bytes sit in kernel memory and may end up
saved in the notebook). Its browser side (`static/upload.js`, `static/upload.css`) posts each
file straight to the iscc-lab server extension (`POST {base_url}api/v1/iscc`, streamed to disk,
up to the upload limit of 1 GiB) with a progress bar per file, and reports each result or error
to Python as a small JSON message. Only where the server extension is not reachable (probed at
start with `GET {base_url}api/v1/explain/...`) do files go through the kernel, up to
`KERNEL_LIMIT` bytes, as a request the kernel answers (anywidget's experimental `command`).

Python owns every text that carries a limit or a size: the front end gets the mode lines as the
synced `texts` and asks `_describe` for each picked file's size text and refusal message; it
only compares numbers. The logic that does not need a browser lives in plain functions and in
`UploadWidget.handle` / `describe` / `kernel_upload`, which the front end's messages reach;
tests drive them with the same payloads.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path

import anywidget
import ipywidgets as W
import traitlets as t
from anywidget.experimental import command

from iscc_lab.display import card, error_box, frame_html, human_size, limit_size, widget_view
from iscc_lab.errors import IsccLabError
from iscc_lab.settings import get_settings

__all__ = [
    "ENABLE_HINT",
    "ESM",
    "CSS",
    "KERNEL_LIMIT",
    "PROBE_CODE",
    "UploadWidget",
    "kernel_limit_message",
    "refusal",
    "results_frame",
    "upload_limit_message",
]

STATIC = Path(__file__).parent / "static"
#: The front end: real files, loaded by anywidget from these paths (`ANYWIDGET_HMR=1` reloads
#: them live while they are edited).
ESM = STATIC / "upload.js"
CSS = STATIC / "upload.css"
#: Largest file sent through the kernel connection when the server extension is absent: under
#: the ~10 MiB that Jupyter's websocket (tornado) accepts in one message, with room to spare.
KERNEL_LIMIT = 8 * 1024 * 1024
#: The code the front end explains to find out whether the server extension is there.
PROBE_CODE = "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"
#: Largest result message (JSON characters) the front end sends back; larger granular
#: `features` are left out of the message (the server keeps the whole result).
RESULT_MESSAGE_LIMIT = 8 * 1024 * 1024
ENABLE_HINT = (
    "install iscc-lab in the environment of the Jupyter server and enable its extension "
    "(jupyter server extension enable iscc_lab.server_ext), then restart Jupyter and reload "
    "the page"
)
_FRAME_VIEW = ("thumbnail", "filename", "iscc", "mode", "mediatype", "filesize", "name")


# --------------------------------------------------------------------------------------------
# Texts (no widgets, no browser)
# --------------------------------------------------------------------------------------------


def upload_limit_message(filename: str, size: int, limit: int) -> str:
    """Why a file over the upload limit is refused (the browser shows this very text)."""
    return (
        f"{filename} ({human_size(size)}) is larger than the upload limit of {limit_size(limit)} "
        f"({limit} bytes, ISCC_WEB_MAX_UPLOAD_SIZE); it was not uploaded."
    )


def kernel_limit_message(filename: str, size: int, limit: int = KERNEL_LIMIT) -> str:
    """Why a file over the kernel limit is refused when the server extension is absent (the
    browser shows this very text)."""
    return (
        f"{filename} ({human_size(size)}) is larger than {limit_size(limit)}, the limit for "
        "files sent through the kernel connection (Jupyter's websocket drops messages over "
        "about 10 MiB). The iscc-lab server extension, which takes files of up to the upload "
        f"limit straight to disk, is not available on this page: {ENABLE_HINT}."
    )


def refusal(filename: str, size: int, *, server: bool, max_size: int, kernel_max_size: int):
    """Why the browser must not send this file (None: it may), the way it would go."""
    if size == 0:
        return f"{filename} is empty; there is nothing to upload."
    if server and size > max_size:
        return upload_limit_message(filename, size, max_size)
    if not server and size > kernel_max_size:
        return kernel_limit_message(filename, size, kernel_max_size)
    return None


def front_texts(max_size: int, kernel_max_size: int) -> dict[str, str]:
    """The mode lines the front end shows (`{answer}`: the probe's HTTP status)."""
    return {
        "probing": "Looking for the iscc-lab server extension …",
        "server": (
            "Files go straight to the iscc-lab server extension, up to "
            f"{limit_size(max_size)} each."
        ),
        "kernel": (
            "The iscc-lab server extension is not available here ({answer}): files up to "
            f"{limit_size(kernel_max_size)} go through the kernel connection."
        ),
        "no_answer": "no answer",
    }


def _as_int(value) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# UploadWidget
# --------------------------------------------------------------------------------------------


class _UploadFront(anywidget.AnyWidget):
    """The browser side of UploadWidget: file picker, drop zone, a progress bar per file.

    Its two commands (requests the front end awaits through `experimental.invoke`) are answered
    by the UploadWidget that owns it.
    """

    _esm = ESM
    _css = CSS
    probe_code = t.Unicode(PROBE_CODE).tag(sync=True)
    max_size = t.Int(1 << 30).tag(sync=True)
    kernel_max_size = t.Int(KERNEL_LIMIT).tag(sync=True)
    result_message_limit = t.Int(RESULT_MESSAGE_LIMIT).tag(sync=True)
    query = t.Unicode("").tag(sync=True)
    texts = t.Dict().tag(sync=True)

    owner: UploadWidget | None = None

    @command
    def _describe(self, msg, buffers):
        return self.owner.describe(msg), []

    @command
    def _kernel_upload(self, msg, buffers):
        return self.owner.kernel_upload(msg, buffers), []


def _query(semantic: bool | None, granular: bool | None) -> str:
    params = [
        f"{k}={'true' if v else 'false'}"
        for k, v in (("semantic", semantic), ("granular", granular))
        if v is not None
    ]
    return "?" + "&".join(params) if params else ""


class UploadWidget(W.VBox):
    """Upload files (pick or drop, one or many) and get their ISCCs.

    In the browser each file goes straight to the iscc-lab server extension
    (`POST {base_url}api/v1/iscc`) with a progress bar, up to the upload limit (1 GiB by
    default, ISCC_WEB_MAX_UPLOAD_SIZE); without the extension, files up to `KERNEL_LIMIT` go
    through the kernel. Results appear as cards (or a table for many files) and in Python:

        w = UploadWidget()
        w                 # show it, upload files
        w.results         # the ISCC results (dicts of the REST contract's JSON), in arrival order
        w.errors          # {"filename", "size", "status", "message", "via"} per failed file
        w.frame           # the results as a DataFrame
        w.on_result(lambda result: print(result["iscc"]))

    :param semantic: add the experimental Semantic-Code (None: the service's default).
    :param granular: add granular text features (None: the service's default).
    :param max_cards: up to this many results are shown as cards, more as a table.
    :param collection: an `iscc_lab.Collection`: under each card, the file's nearest matches in
        it (`w.matches`: one search frame per result, or the message of a failed search).
    :param matches: how many nearest matches to show per file.
    """

    def __init__(
        self,
        semantic: bool | None = None,
        granular: bool | None = None,
        *,
        max_cards: int = 3,
        collection=None,
        matches: int = 5,
        **kwargs,
    ):
        self.semantic = semantic
        self.granular = granular
        self.max_cards = max_cards
        self.collection = collection
        self.matches_k = matches
        #: per result: `collection.search()` of its ISCC (a frame), or the error message
        self.matches: list = []
        self.results: list[dict] = []
        self.errors: list[dict] = []
        #: "server" or "kernel" once the front end has probed for the server extension.
        self.mode: str | None = None
        self._result_callbacks = W.CallbackDispatcher()
        settings = get_settings()
        self.max_size = settings.max_upload_size
        kernel_max_size = min(KERNEL_LIMIT, self.max_size)
        self.front = _UploadFront(
            max_size=self.max_size,
            kernel_max_size=kernel_max_size,
            query=_query(semantic, granular),
            texts=front_texts(self.max_size, kernel_max_size),
        )
        self.front.owner = self
        self.error_view = W.HTML()
        self.result_view = W.HTML()
        super().__init__(children=[self.front, self.error_view, self.result_view], **kwargs)
        self.add_class("iscc-upload-widget")
        self.front.on_msg(self._on_front_msg)

    # -- Python API ---------------------------------------------------------------------------

    @property
    def frame(self):
        """The results as a pandas DataFrame (see `results_frame`)."""
        return results_frame(self.results)

    def on_result(self, callback: Callable[[dict], object], remove: bool = False) -> None:
        """Call `callback(result)` for each new result (`remove=True` unregisters it)."""
        self._result_callbacks.register_callback(callback, remove=remove)

    def clear(self) -> None:
        """Forget the results and errors, and clear the finished rows in the browser."""
        self.results.clear()
        self.errors.clear()
        self.matches.clear()
        self._render()
        self.front.send({"type": "clear"})

    # -- messages of the front end ------------------------------------------------------------

    def _on_front_msg(self, _widget, content, buffers):
        if isinstance(content, Mapping) and content.get("kind") == "anywidget-command":
            return  # a request: anywidget hands it to the front's command
        self.handle(content, buffers)

    def handle(self, content, buffers=None) -> None:
        """Act on one message of the front end: what the browser calls through `model.send`.

        `{"type": "mode", "server": bool, ...}`: the outcome of the probe.
        `{"type": "result", "filename", "size", "via", "result": {...}}`: a file's ISCC.
        `{"type": "error", "filename", "size", "via", "status", "message"}`: a failed file.
        (Requests the front end awaits are `describe` and `kernel_upload`.)
        Never raises: whatever goes wrong becomes an entry of `errors`.
        """
        try:
            kind = content.get("type") if isinstance(content, Mapping) else None
            if kind == "mode":
                self.mode = "server" if content.get("server") else "kernel"
            elif kind == "result":
                result = content.get("result")
                if not isinstance(result, Mapping) or not result.get("iscc"):
                    raise ValueError("a result message without an ISCC")
                self._add_result(dict(result))
            elif kind == "error":
                self._add_error(
                    content.get("filename"),
                    content.get("size"),
                    content.get("message") or "The upload failed.",
                    status=content.get("status"),
                    via=content.get("via") or "server",
                )
            else:
                raise ValueError(f"unknown message type {kind!r}")
        except Exception as e:  # noqa: BLE001 - a malformed message: shown, never a traceback
            name = content.get("filename") if isinstance(content, Mapping) else None
            self._add_error(
                name, None, f"The widget received a message it cannot use ({e}).", via="widget"
            )

    def describe(self, request) -> list[dict]:
        """The front end's `_describe` request: `{"server": bool, "files": [{"name", "size"}]}`
        -> per file `{"size": text, "refusal": message or None}` (None: it may be sent)."""
        server = bool(request.get("server")) if isinstance(request, Mapping) else False
        files = request.get("files") if isinstance(request, Mapping) else None
        out = []
        for f in files if isinstance(files, list) else []:
            f = f if isinstance(f, Mapping) else {}
            name, size = str(f.get("name") or ""), _as_int(f.get("size")) or 0
            out.append(
                {
                    "size": human_size(size),
                    "refusal": refusal(
                        name,
                        size,
                        server=server,
                        max_size=self.max_size,
                        kernel_max_size=self.front.kernel_max_size,
                    ),
                }
            )
        return out

    def kernel_upload(self, request, buffers) -> dict:
        """The front end's `_kernel_upload` request: `{"filename", "size", "mediatype"}` with the
        file's bytes as the one buffer. Creates the ISCC here and answers
        `{"type": "kernel-result", "iscc"}` or `{"type": "kernel-error", "message"}`; the result
        or error is recorded before the answer. Never raises."""
        from iscc_lab.generate import create_iscc

        request = request if isinstance(request, Mapping) else {}
        filename = str(request.get("filename") or "")
        data = buffers[0] if buffers else None
        size = len(memoryview(data).cast("B")) if data is not None else _as_int(request.get("size"))
        limit = self.front.kernel_max_size
        if data is None:
            message = f"{filename or 'The file'}: no bytes arrived through the kernel connection."
        elif size > limit:
            message = kernel_limit_message(filename, size, limit)
        else:
            try:
                result = create_iscc(
                    bytes(data), filename, semantic=self.semantic, granular=self.granular
                )
            except IsccLabError as e:
                message = e.message
            except Exception as e:  # noqa: BLE001 - shown in the widget
                message = f"Creating the ISCC of {filename} failed: {type(e).__name__}: {e}"
            else:
                self._add_result(result)
                return {"type": "kernel-result", "iscc": result.get("iscc")}
        self._add_error(filename, size, message, via="kernel")
        return {"type": "kernel-error", "message": message}

    def _add_result(self, result: dict) -> None:
        self.results.append(result)
        self.matches.append(self._nearest(result))
        self._render()
        self._result_callbacks(result)

    def _add_error(self, filename, size, message, *, status=None, via="server") -> None:
        self.errors.append(
            {
                "filename": None if filename is None else str(filename),
                "size": _as_int(size),
                "status": _as_int(status) or None,
                "message": str(message),
                "via": via,
            }
        )
        self._render()

    # -- views --------------------------------------------------------------------------------

    def error_text(self, error: Mapping) -> str:
        """One error as shown: `name: HTTP 400: message` (the status only from the server)."""
        status = f"HTTP {error['status']}: " if error.get("status") else ""
        message = error["message"]
        name = error.get("filename")
        prefix = f"{name}: " if name and not message.startswith(name) else ""
        return f"{prefix}{status}{message}"

    def _nearest(self, result: dict):
        """The nearest matches of a result in the collection (None without a collection)."""
        if self.collection is None:
            return None
        try:
            return self.collection.search(result["iscc"], k=self.matches_k)
        except IsccLabError as e:
            return e.message

    def matches_html(self, found) -> str:
        """The nearest matches under a card: file name (or code) and distance in bits."""
        if found is None:
            return ""
        if isinstance(found, str):
            return f'<div class="iscc-matches">{html.escape(found)}</div>'
        if not len(found):
            return '<div class="iscc-matches">No comparable item in the collection.</div>'
        rows = "".join(
            f"<tr><td>{html.escape(Path(p).name if isinstance(p, str) else str(c))}</td>"
            f'<td style="text-align:right">{int(d)} bits</td></tr>'
            for p, c, d in zip(found["path"], found["iscc"], found["distance"], strict=True)
        )
        return (
            '<div class="iscc-matches"><div>Nearest in the collection:</div>'
            f"<table>{rows}</table></div>"
        )

    def results_html(self) -> str:
        if not self.results:
            return ""
        if len(self.results) <= self.max_cards:
            matches = self.matches + [None] * (len(self.results) - len(self.matches))
            return "".join(
                f'<div style="margin:6px 0">{card(r)._repr_html_()}{self.matches_html(m)}</div>'
                for r, m in zip(self.results, matches, strict=False)
            )
        return frame_html(self.frame, columns=list(_FRAME_VIEW))._repr_html_()

    def _render(self) -> None:
        self.error_view.value = widget_view(
            error_box([self.error_text(e) for e in self.errors]) if self.errors else ""
        )
        self.result_view.value = widget_view(self.results_html())


# --------------------------------------------------------------------------------------------
# Results as a frame
# --------------------------------------------------------------------------------------------


def results_frame(results):
    """ISCC results (dicts of the contract's JSON) as a DataFrame, one row per result: the row
    schema of `batch()` (`iscc_lab.batch.rows`) without `path` and `error`, then media_id
    (None for results made in the kernel) and via ("server" or "kernel"). The frame works
    with the `df.iscc` accessor (`iscc` column).
    """
    import pandas as pd

    import iscc_lab.accessor  # noqa: F401 - the df.iscc accessor, as batch() frames have it
    from iscc_lab.batch import rows as schema

    results = list(results)
    frame = schema.to_frame([schema.result_row(None, r) for r in results])
    frame = frame.drop(columns=["path", "error"])
    media_ids = [r.get("media_id") for r in results]
    frame["media_id"] = pd.array(media_ids, dtype=object)
    frame["via"] = pd.array(["server" if m else "kernel" for m in media_ids], dtype=object)
    return frame
