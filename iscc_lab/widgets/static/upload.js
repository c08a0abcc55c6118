// The browser side of iscc_lab.widgets.UploadWidget (see upload.py). Every text that carries
// a limit or a size comes from Python: the synced `texts`, and the `_describe` command for the
// files picked; the front end compares numbers only. The kernel fallback is a `_kernel_upload`
// command (anywidget's experimental.invoke: request and answer, no id bookkeeping here).
const API = "api/v1/";
// invoke() gives up after 3 s unless given a signal; the kernel answers when its work is done
// (an ISCC, or a busy kernel's turn), so requests wait for it as long as it takes.
const NO_TIMEOUT = new AbortController().signal;
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

const probes = new Map();  // one probe per base URL and page
function probe(base, code) {
  if (!probes.has(base)) {
    const url = base + API + "explain/" + code;
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

function render({ model, el: root, experimental }) {
  const base = baseUrl();
  const texts = model.get("texts");
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
  const modeLine = el("div", "iscc-upload-mode", texts.probing);
  zone.append(button, hint, modeLine);
  const list = el("div", "iscc-upload-list");
  box.append(zone, list);
  root.appendChild(box);

  const ready = probe(base, model.get("probe_code")).then((p) => {
    mode = p;
    if (p.server) {
      modeLine.textContent = texts.server;
      box.dataset.mode = "server";
    } else {
      const answer = p.status ? "HTTP " + p.status : texts.no_answer;
      modeLine.textContent = texts.kernel.replace("{answer}", answer);
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
    const size = el("span", "iscc-upload-size");  // filled in with Python's text
    const bar = el("progress", "iscc-upload-bar");
    bar.max = 1;
    bar.value = 0;
    const status = el("span", "iscc-upload-status", "queued");
    row.append(name, size, bar, status);
    list.appendChild(row);
    return {
      node: row,
      size(text) {
        size.textContent = text;
      },
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
    const request = { filename: file.name, size: file.size, mediatype: file.type || "" };
    const sent = experimental.invoke("_kernel_upload", request, {
      buffers: [buffer],
      signal: NO_TIMEOUT,
    });
    row.working("creating the ISCC in the kernel …");
    const [msg] = await sent;  // Python has recorded the result or error already
    if (msg.type === "kernel-result") row.done(msg.iscc || "(no code)");
    else row.failed(msg.message);
  }

  model.on("msg:custom", (msg) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "clear") {
      for (const row of [...list.children]) {
        if (row.dataset.status === "done" || row.dataset.status === "error") row.remove();
      }
    }
  });

  async function run(file, row) {
    if (mode.server) {
      report(await viaServer(file, row), row);
      return;
    }
    try {
      await viaKernel(file, row);
    } catch (e) {
      report({ type: "error", filename: file.name, size: file.size, via: "browser", status: 0,
               message: "Reading " + file.name + " failed: " + e }, row);
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

  // Files within the limit (numbers synced from Python) start at once; Python's answer to
  // `_describe` gives every row its size text and each refused file its message.
  async function add(files) {
    const rows = files.map(addRow);
    const p = await ready;
    const limit = model.get(p.server ? "max_size" : "kernel_max_size");
    const refused = files.map((file) => file.size === 0 || file.size > limit);
    files.forEach((file, i) => { if (!refused[i]) queue.push([file, rows[i]]); });
    pump();
    const request = { server: p.server, files: files.map((f) => ({ name: f.name, size: f.size })) };
    const [described] = await experimental.invoke("_describe", request, { signal: NO_TIMEOUT });
    files.forEach((file, i) => {
      rows[i].size(described[i].size);
      if (refused[i]) {
        report({ type: "error", filename: file.name, size: file.size, via: "browser", status: 0,
                 message: described[i].refusal }, rows[i]);
      }
    });
  }

  input.addEventListener("change", () => {
    add([...input.files]).catch((e) => console.error("iscc-lab upload widget:", e));
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
    if (files.length) add(files).catch((e) => console.error("iscc-lab upload widget:", e));
  });
  return () => box.remove();
}

export default { render };
