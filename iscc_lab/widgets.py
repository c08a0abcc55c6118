"""Notebook widgets: `UploadWidget`, `ExplainWidget` and `SimprintWidget`.

The only module of iscc-lab that imports ipywidgets (and anywidget); the core stays free of them.

`UploadWidget` does not send file bytes through the kernel connection as ipywidgets'
`FileUpload` does (Jupyter's websocket drops messages over ~10 MiB, the bytes sit in kernel
memory and may end up saved in the notebook). Its browser side posts each file straight to the
iscc-lab server extension (`POST {base_url}api/v1/iscc`, streamed to disk, up to the upload
limit of 1 GiB) with a progress bar per file, and reports each result or error to Python as a
small JSON message. Only where the server extension is not reachable (probed at start with
`GET {base_url}api/v1/explain/...`) do files go through the kernel, up to `KERNEL_LIMIT` bytes.

The logic that does not need a browser - turning the front end's messages into results and
errors, the frame, the messages shown - lives in plain functions and in `UploadWidget.handle`,
which is what the front end's messages call; tests drive it with the same payloads.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import anywidget
import ipywidgets as W
import traitlets as t

from iscc_lab.errors import IsccLabError
from iscc_lab.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KERNEL_LIMIT",
    "PROBE_CODE",
    "ExplainWidget",
    "SimprintWidget",
    "UploadWidget",
    "human_size",
    "kernel_limit_message",
    "limit_size",
    "results_frame",
    "simprint_rows",
    "upload_limit_message",
]

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
_UNIT_TYPES = ("meta", "semantic", "content", "data", "instance")
_FRAME_COLUMNS = (
    "filename", "iscc", "mode", "mediatype", "filesize", "name", "width", "height",
    "duration", "datahash", "metahash",
)  # fmt: skip
_FRAME_VIEW = ("thumbnail", "filename", "iscc", "mode", "mediatype", "filesize", "name")


# --------------------------------------------------------------------------------------------
# Pure helpers (no widgets, no browser)
# --------------------------------------------------------------------------------------------


def human_size(n: int) -> str:
    """`n` bytes for people, in decimal units as the cards show them: 35.4 KB, 209.7 MB."""
    value = float(int(n))
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"  # pragma: no cover


def limit_size(n: int) -> str:
    """A limit for people: binary units where exact (8 MiB, 1 GiB), else as `human_size`."""
    n = int(n)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return human_size(n)


def upload_limit_message(filename: str, size: int, limit: int) -> str:
    """Why a file over the upload limit is refused (the same text as the browser's)."""
    return (
        f"{filename} ({human_size(size)}) is larger than the upload limit of {limit_size(limit)} "
        f"({limit} bytes, ISCC_WEB_MAX_UPLOAD_SIZE); it was not uploaded."
    )


def kernel_limit_message(filename: str, size: int, limit: int = KERNEL_LIMIT) -> str:
    """Why a file over the kernel limit is refused when the server extension is absent (the
    same text as the browser's)."""
    return (
        f"{filename} ({human_size(size)}) is larger than {limit_size(limit)}, the limit for "
        "files sent through the kernel connection (Jupyter's websocket drops messages over "
        "about 10 MiB). The iscc-lab server extension, which takes files of up to the upload "
        f"limit straight to disk, is not available on this page: {ENABLE_HINT}."
    )


def _as_int(value) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _unit_type(unit) -> str | None:
    import iscc_core as ic

    try:
        name = ic.MT(ic.Code(str(unit)).maintype).name.lower()
    except Exception:  # noqa: BLE001 - not a unit: no column
        return None
    return name if name in _UNIT_TYPES else None


def results_frame(results) -> pd.DataFrame:
    """ISCC results (dicts of the contract's JSON) as a DataFrame, one row per result.

    Columns as a `batch()` frame's, without `path`: filename, iscc, mode, mediatype, filesize,
    name, width, height, duration, datahash, metahash, then one column per unit type present
    (the units' codes), thumbnail, media_id (None for results made in the kernel) and via
    ("server" or "kernel"). The frame works with the `df.iscc` accessor (`iscc` column).
    """
    import pandas as pd

    import iscc_lab.accessor  # noqa: F401 - registers the df.iscc accessor

    rows = []
    for r in results:
        row = {c: r.get(c) for c in _FRAME_COLUMNS}
        for unit in r.get("units") or ():
            kind = _unit_type(unit)
            if kind and kind not in row:
                row[kind] = unit if str(unit).startswith("ISCC:") else f"ISCC:{unit}"
        row["thumbnail"] = r.get("thumbnail")
        row["media_id"] = r.get("media_id")
        row["via"] = "server" if r.get("media_id") else "kernel"
        rows.append(row)
    units = [u for u in _UNIT_TYPES if any(row.get(u) for row in rows)]
    columns = [*_FRAME_COLUMNS, *units, "thumbnail", "media_id", "via"]
    data = {}
    for col in columns:
        values = [row.get(col) for row in rows]
        if col in ("filesize", "width", "height"):
            data[col] = pd.array([_as_int(v) for v in values], dtype="Int64")
        elif col == "duration":
            data[col] = pd.array([None if v is None else float(v) for v in values], "Float64")
        else:
            data[col] = pd.array([None if v is None else str(v) for v in values], dtype=object)
    return pd.DataFrame(data, columns=columns)


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


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _view(content: str) -> str:
    """HTML for a widget's HTML view (whose line height is made for one-line labels)."""
    return f'<div class="iscc-view" style="line-height:1.45">{content}</div>' if content else ""


def _error_box(messages: list[str]) -> str:
    items = "".join(f"<li>{_esc(m)}</li>" for m in messages)
    return (
        '<div class="iscc-errors" style="border:1px solid #cf222e;background:#ffebe9;color:#82071e;'
        "border-radius:6px;padding:6px 10px;margin:6px 0;font-family:system-ui,sans-serif;"
        f'font-size:13px"><ul style="margin:0;padding-left:18px">{items}</ul></div>'
    )


def _table(columns: list[str], rows: list[list], mono: tuple = ()) -> str:
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{_esc(c)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = []
        for col, value in zip(columns, row):
            style = "text-align:left;vertical-align:top;padding:2px 8px"
            if col in mono:
                style += (
                    ";font-family:ui-monospace,Menlo,monospace;font-size:12px;word-break:break-all"
                )
            cells.append(f'<td style="{style}">{_esc(value)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<table class="iscc-table" style="border-collapse:collapse;font-size:13px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _card_html(result: dict) -> str:
    try:
        from iscc_lab.display import card

        return card(result)._repr_html_()
    except ImportError:  # pragma: no cover - display.py is part of the package
        return _table(
            ["iscc", "filename"], [[result.get("iscc"), result.get("filename")]], ("iscc",)
        )


def _frame_html(frame) -> str:
    try:
        from iscc_lab.display import frame_html

        return frame_html(frame, columns=list(_FRAME_VIEW))._repr_html_()
    except ImportError:  # pragma: no cover
        return frame[[c for c in _FRAME_VIEW if c != "thumbnail"]].to_html()


# --------------------------------------------------------------------------------------------
# UploadWidget
# --------------------------------------------------------------------------------------------

_UPLOAD_ESM = r"""
const PROBE = "__PROBE__";
const API = "api/v1/";
const PARALLEL = 2;

function pageConfig() {
  const el = document.getElementById("jupyter-config-data");
  if (!el) return {};
  try { return JSON.parse(el.textContent || "{}"); } catch (e) { return {}; }
}

function baseUrl() {
  let base = pageConfig().baseUrl || (document.body && document.body.dataset.baseUrl) || "/";
  return base.endsWith("/") ? base : base + "/";
}

function cookie(name) {
  const m = document.cookie.match("\\b" + name + "=([^;]*)\\b");
  return m ? m[1] : undefined;
}

function authHeaders() {
  const headers = {};
  const xsrf = cookie("_xsrf");
  if (xsrf) headers["X-XSRFToken"] = xsrf;
  const token = pageConfig().token;
  if (token) headers["Authorization"] = "token " + token;
  return headers;
}

// base64 of the UTF-8 bytes of a string (btoa alone only takes Latin-1)
function b64utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function humanSize(n) {  // as human_size() in Python
  let v = n;
  for (const unit of ["bytes", "KB", "MB", "GB"]) {
    if (v < 1000 || unit === "GB") return unit === "bytes" ? Math.floor(v) + " bytes" : v.toFixed(1) + " " + unit;
    v /= 1000;
  }
}

function limitSize(n) {  // as limit_size() in Python
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) {
    if (n >= size && n % size === 0) return (n / size) + " " + unit;
  }
  return humanSize(n);
}

const probes = new Map();  // one probe per base URL and page
function probe(base) {
  if (!probes.has(base)) {
    const url = base + API + "explain/" + PROBE;
    probes.set(base, fetch(url, { credentials: "same-origin", headers: authHeaders() })
      .then((r) => ({ server: r.status === 200, status: r.status }))
      .catch((e) => ({ server: false, status: 0, detail: String(e) })));
  }
  return probes.get(base);
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el: root }) {
  const base = baseUrl();
  const uid = Math.random().toString(36).slice(2);
  let counter = 0;
  const waiting = new Map();  // kernel uploads waiting for Python's answer: id -> resolve
  const queue = [];
  let running = 0;
  let mode = null;

  const box = el("div", "iscc-upload");
  const zone = el("div", "iscc-upload-zone");
  const input = el("input");
  input.type = "file";
  input.multiple = true;
  input.className = "iscc-upload-input";
  const button = el("label", "iscc-upload-button", "Choose files");
  button.appendChild(input);
  const hint = el("span", "iscc-upload-hint", " or drop files here");
  const modeLine = el("div", "iscc-upload-mode", "Looking for the iscc-lab server extension …");
  zone.append(button, hint, modeLine);
  const list = el("div", "iscc-upload-list");
  box.append(zone, list);
  root.appendChild(box);

  const ready = probe(base).then((p) => {
    mode = p;
    const limit = limitSize(model.get("max_size"));
    const kernelLimit = limitSize(model.get("kernel_max_size"));
    if (p.server) {
      modeLine.textContent = "Files go straight to the iscc-lab server extension, up to " + limit + " each.";
      box.dataset.mode = "server";
    } else {
      modeLine.textContent = "The iscc-lab server extension is not available here (" +
        (p.status ? "HTTP " + p.status : "no answer") + "): files up to " + kernelLimit +
        " go through the kernel connection.";
      box.dataset.mode = "kernel";
    }
    model.send({ type: "mode", server: p.server, status: p.status, base_url: base });
    return p;
  });

  function addRow(file) {
    const row = el("div", "iscc-upload-row");
    row.dataset.status = "queued";
    const name = el("span", "iscc-upload-name", file.name);
    name.title = file.name;
    const size = el("span", "iscc-upload-size", humanSize(file.size));
    const bar = el("progress", "iscc-upload-bar");
    bar.max = 1;
    bar.value = 0;
    const status = el("span", "iscc-upload-status", "queued");
    row.append(name, size, bar, status);
    list.appendChild(row);
    return {
      node: row,
      progress(fraction) {
        bar.value = fraction;
        status.textContent = Math.floor(fraction * 100) + " %";
        row.dataset.status = "uploading";
      },
      working(text) {
        bar.removeAttribute("value");  // indeterminate
        status.textContent = text;
        row.dataset.status = "working";
      },
      done(iscc) {
        bar.value = 1;
        status.textContent = iscc;
        status.title = iscc;
        row.dataset.status = "done";
        row.dataset.iscc = iscc;
      },
      failed(message) {
        bar.value = 0;
        bar.style.display = "none";
        status.textContent = message;
        status.title = message;
        row.dataset.status = "error";
      },
    };
  }

  function report(msg, row) {
    if (msg.type === "result") {
      row.done(msg.result.iscc || "(no code)");
      const text = JSON.stringify(msg);
      if (text.length > model.get("result_message_limit") && msg.result.features) {
        delete msg.result.features;
        msg.omitted = ["features"];
      }
    } else {
      row.failed((msg.status ? "HTTP " + msg.status + ": " : "") + msg.message);
    }
    model.send(msg);
  }

  function viaServer(file, row) {
    return new Promise((resolve) => {
      const info = { filename: file.name, size: file.size, via: "server" };
      const xhr = new XMLHttpRequest();
      xhr.open("POST", base + API + "iscc" + model.get("query"));
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.setRequestHeader("X-Upload-Filename", b64utf8(file.name));
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) row.progress(e.loaded / e.total); };
      xhr.upload.onload = () => row.working("creating the ISCC …");
      xhr.onload = () => {
        if (xhr.status === 201) {
          try {
            resolve({ type: "result", ...info, result: JSON.parse(xhr.responseText) });
          } catch (e) {
            resolve({ type: "error", ...info, status: xhr.status, message: "The answer is not JSON: " + e });
          }
        } else {
          const text = (xhr.responseText || "").trim() || xhr.statusText || "request failed";
          resolve({ type: "error", ...info, status: xhr.status, message: text });
        }
      };
      xhr.onerror = () => resolve({ type: "error", ...info, status: 0,
        message: "The upload failed: the connection to the server was lost." });
      xhr.onabort = () => resolve({ type: "error", ...info, status: 0, message: "The upload was aborted." });
      xhr.send(file);
    });
  }

  async function viaKernel(file, row) {
    row.working("sending to the kernel …");
    const buffer = await file.arrayBuffer();
    const id = uid + "-" + (++counter);
    const answer = new Promise((resolve) => waiting.set(id, resolve));
    model.send({ type: "kernel-upload", id, filename: file.name, size: file.size,
                 mediatype: file.type || "" }, undefined, [buffer]);
    row.working("creating the ISCC in the kernel …");
    const msg = await answer;  // Python has recorded the result or error already
    if (msg.type === "kernel-result") row.done(msg.iscc || "(no code)");
    else row.failed(msg.message);
  }

  model.on("msg:custom", (msg) => {
    if (!msg || typeof msg !== "object") return;
    if ((msg.type === "kernel-result" || msg.type === "kernel-error") && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    } else if (msg.type === "clear") {
      for (const row of [...list.children]) {
        if (row.dataset.status === "done" || row.dataset.status === "error") row.remove();
      }
    }
  });

  async function run(file, row) {
    const p = await ready;
    const info = { filename: file.name, size: file.size, via: "browser", status: 0 };
    if (file.size === 0) {
      report({ type: "error", ...info, message: file.name + " is empty; there is nothing to upload." }, row);
      return;
    }
    if (p.server) {
      const limit = model.get("max_size");
      if (file.size > limit) {
        report({ type: "error", ...info, message: file.name + " (" + humanSize(file.size) +
          ") is larger than the upload limit of " + limitSize(limit) + " (" + limit +
          " bytes, ISCC_WEB_MAX_UPLOAD_SIZE); it was not uploaded." }, row);
        return;
      }
      report(await viaServer(file, row), row);
    } else {
      const limit = model.get("kernel_max_size");
      if (file.size > limit) {
        report({ type: "error", ...info, message: file.name + " (" + humanSize(file.size) +
          ") is larger than " + limitSize(limit) + ", the limit for files sent through the " +
          "kernel connection (Jupyter's websocket drops messages over about 10 MiB). The " +
          "iscc-lab server extension, which takes files of up to the upload limit straight to " +
          "disk, is not available on this page: " + model.get("enable_hint") + "." }, row);
        return;
      }
      try {
        await viaKernel(file, row);
      } catch (e) {
        report({ type: "error", ...info, message: "Reading " + file.name + " failed: " + e }, row);
      }
    }
  }

  function pump() {
    while (queue.length && running < (mode && !mode.server ? 1 : PARALLEL)) {
      const [file, row] = queue.shift();
      running += 1;
      run(file, row).catch((e) => {
        report({ type: "error", filename: file.name, size: file.size, via: "browser", status: 0,
                 message: "Unexpected error: " + e }, row);
      }).finally(() => { running -= 1; pump(); });
    }
  }

  function add(files) {
    for (const file of files) queue.push([file, addRow(file)]);
    ready.then(pump);
  }

  input.addEventListener("change", () => {
    add([...input.files]);
    input.value = "";
  });
  // files dropped here are ours: JupyterLab's own drop handling (upload to the file browser,
  // open in a new tab) must not see them
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      e.stopPropagation();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
      zone.classList.add("iscc-drag");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("iscc-drag"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    e.stopPropagation();
    zone.classList.remove("iscc-drag");
    const files = [...(e.dataTransfer ? e.dataTransfer.files : [])];
    if (files.length) add(files);
  });
  return () => box.remove();
}

export default { render };
""".replace("__PROBE__", PROBE_CODE)

_UPLOAD_CSS = """
.iscc-upload { font-family: system-ui, sans-serif; font-size: 13px; max-width: 760px; }
.iscc-upload-zone { border: 2px dashed #8c959f; border-radius: 8px; padding: 14px;
  text-align: center; background: #f6f8fa; color: #24292f; }
.iscc-upload-zone.iscc-drag { border-color: #0969da; background: #ddf4ff; }
.iscc-upload-button { display: inline-block; padding: 4px 12px; border-radius: 6px;
  background: #0969da; color: white; cursor: pointer; font-weight: 600; }
.iscc-upload-input { display: none; }
.iscc-upload-mode { margin-top: 6px; color: #57606a; font-size: 12px; }
.iscc-upload-row { display: grid; grid-template-columns: minmax(80px, 180px) 80px 160px 1fr;
  gap: 8px; align-items: center; padding: 3px 2px; border-bottom: 1px solid #eaeef2; }
.iscc-upload-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 500; }
.iscc-upload-size { color: #57606a; text-align: right; }
.iscc-upload-bar { width: 160px; height: 12px; }
.iscc-upload-status { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.iscc-upload-row[data-status="done"] .iscc-upload-status {
  font-family: ui-monospace, Menlo, monospace; font-size: 12px; color: #1a7f37; }
.iscc-upload-row[data-status="error"] .iscc-upload-status { color: #cf222e; white-space: normal;
  grid-column: 3 / span 2; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; }
"""


class _UploadFront(anywidget.AnyWidget):
    """The browser side of UploadWidget: file picker, drop zone, a progress bar per file."""

    _esm = _UPLOAD_ESM
    _css = _UPLOAD_CSS
    max_size = t.Int(1 << 30).tag(sync=True)
    kernel_max_size = t.Int(KERNEL_LIMIT).tag(sync=True)
    result_message_limit = t.Int(RESULT_MESSAGE_LIMIT).tag(sync=True)
    query = t.Unicode("").tag(sync=True)
    enable_hint = t.Unicode(ENABLE_HINT).tag(sync=True)


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
    """

    def __init__(
        self,
        semantic: bool | None = None,
        granular: bool | None = None,
        *,
        max_cards: int = 3,
        **kwargs,
    ):
        self.semantic = semantic
        self.granular = granular
        self.max_cards = max_cards
        self.results: list[dict] = []
        self.errors: list[dict] = []
        #: "server" or "kernel" once the front end has probed for the server extension.
        self.mode: str | None = None
        self._result_callbacks = W.CallbackDispatcher()
        settings = get_settings()
        self.max_size = settings.max_upload_size
        self.front = _UploadFront(
            max_size=self.max_size,
            kernel_max_size=min(KERNEL_LIMIT, self.max_size),
            query=_query(semantic, granular),
        )
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
        self._render()
        self.front.send({"type": "clear"})

    # -- messages of the front end ------------------------------------------------------------

    def _on_front_msg(self, _widget, content, buffers):
        self.handle(content, buffers)

    def handle(self, content, buffers=None) -> None:
        """Act on one message of the front end: what the browser calls through `model.send`.

        `{"type": "mode", "server": bool, ...}`: the outcome of the probe.
        `{"type": "result", "filename", "size", "via", "result": {...}}`: a file's ISCC.
        `{"type": "error", "filename", "size", "via", "status", "message"}`: a failed file.
        `{"type": "kernel-upload", "id", "filename", "size", "mediatype"}` with the file's bytes
        as the one buffer: create the ISCC here and answer `kernel-result`/`kernel-error`.
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
            elif kind == "kernel-upload":
                self._kernel_upload(content, buffers or [])
            else:
                raise ValueError(f"unknown message type {kind!r}")
        except Exception as e:  # noqa: BLE001 - a malformed message: shown, never a traceback
            name = content.get("filename") if isinstance(content, Mapping) else None
            self._add_error(
                name, None, f"The widget received a message it cannot use ({e}).", via="widget"
            )

    def _kernel_upload(self, content: Mapping, buffers: list) -> None:
        from iscc_lab.generate import create_iscc

        msg_id = content.get("id")
        filename = str(content.get("filename") or "")
        data = buffers[0] if buffers else None
        size = len(memoryview(data).cast("B")) if data is not None else _as_int(content.get("size"))
        limit = min(KERNEL_LIMIT, self.max_size)
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
                self.front.send({"type": "kernel-result", "id": msg_id, "iscc": result.get("iscc")})
                return
        self._add_error(filename, size, message, via="kernel")
        self.front.send({"type": "kernel-error", "id": msg_id, "message": message})

    def _add_result(self, result: dict) -> None:
        self.results.append(result)
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

    def results_html(self) -> str:
        if not self.results:
            return ""
        if len(self.results) <= self.max_cards:
            return "".join(f'<div style="margin:6px 0">{_card_html(r)}</div>' for r in self.results)
        return _frame_html(self.frame)

    def _render(self) -> None:
        self.error_view.value = _view(
            _error_box([self.error_text(e) for e in self.errors]) if self.errors else ""
        )
        self.result_view.value = _view(self.results_html())


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
        self.output.value = _view(self.html())

    def html(self) -> str:
        if self.error:
            return _error_box([self.error])
        r = self.result
        if not r:
            return ""
        facts = _table(
            ["", ""],
            [
                ["iscc", r["iscc"]],
                ["readable", r["readable"]],
                ["multiformat", r["multiformat"]],
                ["decomposed", r["decomposed"]],
            ],
            mono=("",),
        ).replace("<thead><tr><th", '<thead style="display:none"><tr><th', 1)
        units = _table(
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
            self.simprints = create_simprints(text)
            self.rows = simprint_rows(text, self.simprints)
        except IsccLabError as e:
            self.error = e.message
        except Exception as e:  # noqa: BLE001 - shown in the widget
            self.error = f"{type(e).__name__}: {e}"
        self.output.value = _view(self.html())

    def html(self) -> str:
        if self.error:
            return _error_box([self.error])
        if not self.rows:
            return ""
        n = self.segment_chars

        def cut(s: str) -> str:
            return s if len(s) <= n else s[: n - 1] + "…"

        return _table(
            ["type", "simprint", "offset", "size", "segment"],
            [
                [r["type"], r["simprint"], r["offset"], r["size"], cut(r["segment"])]
                for r in self.rows
            ],
            mono=("simprint",),
        )
