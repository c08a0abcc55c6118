"""The upload widget in a real browser: JupyterLab with the iscc-lab server extension, a
notebook that shows `UploadWidget()`, headless Chromium (Debian's package, driven by Playwright)
picking a 200 MiB file and a sample image. Both go straight to `POST {base_url}api/v1/iscc`;
the test checks the ISCCs in the page, the file stored by the server and `w.results` in the
kernel, and saves a screenshot to tests/artifacts/upload-widget.png.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import iscc_samples
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BIG_SIZE = 200 * 1024 * 1024
TOKEN = "iscc-lab-browser-test-token"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover
    HAVE_PLAYWRIGHT = False

pytestmark = [
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium; `make test` installs it)",
    ),
    pytest.mark.skipif(
        not HAVE_PLAYWRIGHT,
        reason="Playwright for Python is not installed "
        "(pip install playwright; `make test` installs it)",
    ),
    pytest.mark.timeout(180),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_big_file(path: Path, size: int) -> None:
    """`size` bytes of a repeating pseudo-random pattern (1 MiB of it, written over and over)."""
    import random

    block = random.Random(20240501).randbytes(1 << 20)
    with open(path, "wb") as f:
        f.writelines(block for _ in range(size // len(block)))
        f.write(block[: size % len(block)])


def write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from iscc_lab.widgets import UploadWidget; w = UploadWidget(); w"
        ),
        nbformat.v4.new_code_cell("print(len(w.results), sorted(r['iscc'] for r in w.results))"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@contextlib.contextmanager
def jupyterlab(tmp_path: Path, extension: bool = True):
    """A JupyterLab server (with or without the iscc-lab extension) on a free port of
    127.0.0.1, its own config, runtime and settings folders, and a notebook `test.ipynb`."""
    root = tmp_path / "root"
    media = tmp_path / "media"
    home = tmp_path / "home"
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    for folder in (root, media, settings):
        folder.mkdir(parents=True)
    # No news or update toasts over the page.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    write_notebook(root / "test.ipynb")
    port = free_port()
    env = dict(os.environ)
    env.update(
        ISCC_WEB_MEDIA_PATH=str(media),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "jupyter.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.jpserver_extensions={{'iscc_lab.server_ext': {extension}}}",
            f"--LabApp.user_settings_dir={home / 'lab-settings'}",
            f"--LabApp.workspaces_dir={home / 'workspaces'}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                req = urllib.request.Request(
                    base + "api/status", headers={"Authorization": f"token {TOKEN}"}
                )
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "JupyterLab did not start:\n" + log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield {"url": f"{base}lab/tree/test.ipynb?token={TOKEN}", "media": media, "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@contextlib.contextmanager
def chromium_page(name: str):
    """A page of headless Chromium; on failure its screenshot goes to
    tests/artifacts/failed-{name}.png and its console to failed-{name}.log."""
    from playwright.sync_api import sync_playwright

    console = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.set_default_timeout(60_000)
            try:
                yield page
            except BaseException:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / f"failed-{name}.png"))
                (ARTIFACTS / f"failed-{name}.log").write_text("\n".join(console))
                raise
        finally:
            browser.close()


def open_widget(page, url: str, mode: str):
    """Open the notebook, run its first cell, wait for the widget to know its mode."""
    from playwright.sync_api import expect

    page.goto(url)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # the kernel is up when the status bar says so (Initializing, Connecting, then Idle)
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text(
        re.compile(r"\|\s*Idle"), timeout=60_000
    )
    run_cell(page, 0)
    widget = page.locator(".iscc-upload-widget")
    expect(widget.locator(f".iscc-upload[data-mode='{mode}']")).to_have_count(1, timeout=60_000)
    return widget


def cell_output(page, index: int) -> str:
    """Run cell `index` and return its printed output."""
    from playwright.sync_api import expect

    run_cell(page, index)
    output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")
    expect(output).to_have_count(1, timeout=30_000)
    return output.inner_text().strip()


def stored_sizes(media: Path) -> dict[str, int]:
    return {
        p.name: p.stat().st_size
        for p in media.rglob("*")
        if p.is_file() and not p.name.endswith(".json")
    }


def run_cell(page, index: int) -> None:
    """Select cell `index` of the notebook and run it with Shift+Enter.

    Right after the page opens, JupyterLab may drop a run asked for while the kernel's
    connection is still being set up: the prompt then stays `[ ]:` and the key is pressed
    again (a run that was taken shows `[*]:` at once, so nothing runs twice).
    """
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for attempt in range(6):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Escape")  # command mode: Shift+Enter runs the selected cell
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).not_to_have_text(re.compile(r"^\s*\[ \]:\s*$"), timeout=10_000)
            return
        except AssertionError:
            print(f"run_cell({index}): attempt {attempt + 1} not taken")
            if attempt == 5:
                raise


DROPPED_NAME = "dropped – fallen gelassen.txt"
DROPPED_TEXT = "Ein Text, der auf das Widget fallen gelassen wurde: Größe, Maß und Ähre. " * 30
DROP_JS = """([name, text]) => {
    const zone = document.querySelector(".iscc-upload-widget .iscc-upload-zone");
    const data = new DataTransfer();
    data.items.add(new File([text], name, { type: "text/plain" }));
    for (const type of ["dragenter", "dragover", "drop"]) {
        const init = { dataTransfer: data, bubbles: true, cancelable: true };
        zone.dispatchEvent(new DragEvent(type, init));
    }
}"""


def row_codes(widget) -> dict[str, str | None]:
    """{filename: ISCC} of the widget's finished rows."""
    rows = widget.locator(".iscc-upload-row")
    return {
        rows.nth(i).locator(".iscc-upload-name").inner_text(): rows.nth(i).get_attribute(
            "data-iscc"
        )
        for i in range(rows.count())
    }


def test_upload_widget_in_browser(tmp_path):
    """Through the server extension: a 200 MiB file and the sample image, then a file with a
    non-ASCII name and an empty file."""
    from iscc_lab import create_iscc

    demo = iscc_samples.IMAGE / "demo.jpg"
    expected = create_iscc(demo)["iscc"]
    files = tmp_path / "files"
    files.mkdir()
    big = files / "big.bin"
    write_big_file(big, BIG_SIZE)
    unicode_name = "Bücher – 日本語 ✓.txt"
    (files / unicode_name).write_text("Ein kleiner Text über Bücher. " * 20, encoding="utf-8")
    (files / "empty.txt").write_bytes(b"")

    timings = {}
    try:
        check_upload_in_browser(tmp_path, files, big, demo, expected, unicode_name, timings)
    finally:  # do not keep 400 MB (the file and the server's copy) in pytest's tmp folders
        big.unlink(missing_ok=True)
        shutil.rmtree(tmp_path / "media", ignore_errors=True)
    print(f"timings: {timings}")


def check_upload_in_browser(tmp_path, files, big, demo, expected, unicode_name, timings):
    from playwright.sync_api import expect

    from iscc_lab import create_iscc

    with jupyterlab(tmp_path) as lab, chromium_page("upload") as page:
        start = time.monotonic()
        widget = open_widget(page, lab["url"], "server")
        timings["lab+kernel+widget"] = time.monotonic() - start

        start = time.monotonic()
        widget.locator("input[type=file]").set_input_files([str(big), str(demo)])
        expect(widget.locator(".iscc-upload-row")).to_have_count(2)
        done = widget.locator(".iscc-upload-row[data-status='done']")
        expect(done).to_have_count(2, timeout=120_000)
        timings["upload+iscc"] = time.monotonic() - start

        codes = row_codes(widget)
        assert codes["demo.jpg"] == expected
        assert re.fullmatch(r"ISCC:[A-Z2-7]{16,}", codes["big.bin"]), codes
        # the fallback ISCC-SUM of the 200 MiB file: the server got every byte as it is
        big_result = create_iscc(big)
        assert big_result["units"][0].startswith("ISCC:GA")  # Data + Instance units only
        assert codes["big.bin"] == big_result["iscc"]
        # the cards rendered by Python show both codes
        expect(widget.locator(".iscc-card")).to_have_count(2)
        text = widget.inner_text()
        assert expected in text and codes["big.bin"] in text
        assert widget.locator(".iscc-errors").count() == 0

        sizes = stored_sizes(lab["media"])
        assert sizes.get("big.bin") == BIG_SIZE, sizes
        assert sizes.get("demo.jpg") == demo.stat().st_size, sizes

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(ARTIFACTS / "upload-widget.png"))

        # the kernel side: w.results
        line = cell_output(page, 1)
        assert line == f"2 {sorted([expected, codes['big.bin']])!r}", line

        # a name that is not ASCII travels as base64 of its UTF-8 bytes; an empty file is refused
        widget.locator("input[type=file]").set_input_files(
            [str(files / unicode_name), str(files / "empty.txt")]
        )
        expect(done).to_have_count(3, timeout=60_000)
        expect(widget.locator(".iscc-upload-row[data-status='error']")).to_have_count(1)
        assert re.fullmatch(r"ISCC:[A-Z2-7]{16,}", row_codes(widget)[unicode_name] or "")
        assert stored_sizes(lab["media"]).get(unicode_name) == (files / unicode_name).stat().st_size
        expect(widget.locator(".iscc-errors")).to_contain_text("empty.txt is empty")
        expect(widget.locator(".iscc-card")).to_have_count(3)
        widget.screenshot(path=str(ARTIFACTS / "upload-widget-more.png"))


def test_upload_widget_kernel_fallback_in_browser(tmp_path):
    """Without the server extension: small files go through the kernel, larger ones are
    refused in the browser with the limit and the reason."""
    from playwright.sync_api import expect

    from iscc_lab import create_iscc

    demo = iscc_samples.IMAGE / "demo.jpg"
    expected = create_iscc(demo)["iscc"]
    nine = tmp_path / "nine.bin"
    write_big_file(nine, 9 * 1024 * 1024)

    with jupyterlab(tmp_path, extension=False) as lab, chromium_page("fallback") as page:
        widget = open_widget(page, lab["url"], "kernel")
        expect(widget.locator(".iscc-upload-mode")).to_contain_text("not available")
        widget.locator("input[type=file]").set_input_files([str(demo), str(nine)])
        expect(widget.locator(".iscc-upload-row[data-status='done']")).to_have_count(
            1, timeout=60_000
        )
        expect(widget.locator(".iscc-upload-row[data-status='error']")).to_have_count(1)
        assert row_codes(widget)["demo.jpg"] == expected
        errors = widget.locator(".iscc-errors")
        expect(errors).to_contain_text("nine.bin (9.4 MB) is larger than 8 MiB")
        expect(errors).to_contain_text("jupyter server extension enable iscc_lab.server_ext")
        expect(widget.locator(".iscc-card")).to_have_count(1)
        assert stored_sizes(lab["media"]) == {}  # nothing went to a server
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        widget.screenshot(path=str(ARTIFACTS / "upload-widget-fallback.png"))
        assert cell_output(page, 1) == f"1 {[expected]!r}"

        # a file dropped on the widget (made in the page: a DataTransfer as a drag carries it)
        page.evaluate(DROP_JS, [DROPPED_NAME, DROPPED_TEXT])
        done = widget.locator(".iscc-upload-row[data-status='done']")
        expect(done).to_have_count(2, timeout=60_000)
        dropped = create_iscc(DROPPED_TEXT.encode(), DROPPED_NAME)["iscc"]
        assert row_codes(widget)[DROPPED_NAME] == dropped
        assert cell_output(page, 1) == f"2 {sorted([expected, dropped])!r}"
