"""UploadWidget without a browser: its state is driven with the messages the front end sends
(`UploadWidget.handle` is what `model.send` in the browser reaches)."""

from pathlib import Path

import iscc_samples
import pandas as pd
import pytest

from iscc_lab import create_iscc
from iscc_lab.settings import get_settings
from iscc_lab.widgets import (
    KERNEL_LIMIT,
    PROBE_CODE,
    UploadWidget,
    human_size,
    kernel_limit_message,
    limit_size,
    results_frame,
    upload_limit_message,
)
from iscc_lab.widgets.upload import CSS, ESM

DEMO = iscc_samples.IMAGE / "demo.jpg"
ESM_TEXT = ESM.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_result():
    return create_iscc(DEMO)


def server_result(result: dict, media_id: str = "0a1b2c3d4e5f6") -> dict:
    """A result as POST /iscc answers it: with media_id and content after `iscc`."""
    out = {}
    for key, value in result.items():
        out[key] = value
        if key == "iscc":
            out["media_id"] = media_id
            out["content"] = f"http://127.0.0.1:8888/api/v1/media/{media_id}"
    return out


def result_message(result: dict, filename: str = "demo.jpg") -> dict:
    """The message the browser sends after a 201 from POST /iscc."""
    return {
        "type": "result",
        "filename": filename,
        "size": 35393,
        "via": "server",
        "result": result,
    }


def error_message(
    filename="big.iso", size=1 << 31, status=400, message="Bad Request", via="server"
):
    return {
        "type": "error",
        "filename": filename,
        "size": size,
        "status": status,
        "message": message,
        "via": via,
    }


class Sent(list):
    """Stands in for the comm: records what the widget sends to the front end."""

    def __call__(self, content, buffers=None):
        self.append(content)


def invoke(widget, name: str, msg, buffers=None, request_id="r-1"):
    """What the front end's `experimental.invoke(name, msg, {buffers})` does: a command message
    through the widget's comm; returns the answer anywidget sent back."""
    sent = len(widget.front.send)
    content = {"id": request_id, "kind": "anywidget-command", "name": name, "msg": msg}
    widget.front._handle_custom_msg(content, buffers or [])
    answers = widget.front.send[sent:]
    assert len(answers) == 1, answers
    assert answers[0]["id"] == request_id
    assert answers[0]["kind"] == "anywidget-command-response"
    return answers[0]["response"]


def kernel_upload(widget, request_id, filename, size, buffers, mediatype=""):
    """The front end's kernel fallback for one file (its bytes as the one buffer)."""
    msg = {"filename": filename, "size": size, "mediatype": mediatype}
    return invoke(widget, "_kernel_upload", msg, buffers, request_id)


@pytest.fixture()
def widget():
    w = UploadWidget()
    w.front.send = Sent()
    return w


def test_settings_and_options_reach_the_front_end(monkeypatch):
    w = UploadWidget()
    assert w.front.max_size == get_settings().max_upload_size == 1 << 30
    assert w.front.kernel_max_size == KERNEL_LIMIT
    assert w.front.query == ""
    assert (
        UploadWidget(semantic=True, granular=False).front.query == "?semantic=true&granular=false"
    )
    assert UploadWidget(granular=True).front.query == "?granular=true"
    # the limit comes from the settings (ISCC_WEB_MAX_UPLOAD_SIZE)
    monkeypatch.setenv("ISCC_WEB_MAX_UPLOAD_SIZE", "1000")
    get_settings.cache_clear()
    try:
        small = UploadWidget()
        assert small.front.max_size == 1000
        assert small.front.kernel_max_size == 1000
    finally:
        monkeypatch.delenv("ISCC_WEB_MAX_UPLOAD_SIZE")
        get_settings.cache_clear()
    # the browser probes with the contract's example code
    assert w.front.probe_code == PROBE_CODE
    assert 'model.get("probe_code")' in ESM_TEXT
    assert "api/v1/" in ESM_TEXT and "X-Upload-Filename" in ESM_TEXT
    # its mode lines, with the limits, come from Python
    assert w.front.texts["server"] == (
        "Files go straight to the iscc-lab server extension, up to 1 GiB each."
    )
    assert "files up to 8 MiB go through the kernel connection" in w.front.texts["kernel"]
    assert "{answer}" in w.front.texts["kernel"]


def test_front_end_is_real_files_in_the_package():
    """The JavaScript and CSS are files beside the module, loaded by anywidget as paths, and
    they repeat no size formatting or limit message of Python's."""
    import iscc_lab.widgets.upload as upload

    assert ESM.parent.name == "static" and ESM.parent.parent == Path(upload.__file__).parent
    assert ESM.suffix == ".js" and CSS.suffix == ".css" and CSS.is_file()
    state = UploadWidget().front.get_state()
    assert state["_esm"] == ESM_TEXT and state["_css"] == CSS.read_text(encoding="utf-8")
    assert "export default { render }" in ESM_TEXT
    # both requests to the kernel wait for its answer (anywidget's invoke gives up after 3 s)
    assert ESM_TEXT.count("experimental.invoke(") == ESM_TEXT.count("signal: NO_TIMEOUT") == 2
    for repeated in ("humanSize", "limitSize", "toFixed", "ISCC_WEB_MAX_UPLOAD_SIZE", "MiB", "KB"):
        assert repeated not in ESM_TEXT, repeated


def test_describe_gives_sizes_and_refusals(widget):
    """The `_describe` request: each picked file's size text and, if it may not be sent, why;
    the same texts as `upload_limit_message` and `kernel_limit_message`."""
    files = [
        {"name": "demo.jpg", "size": 35393},
        {"name": "huge.iso", "size": 2_000_000_000},
        {"name": "nine.bin", "size": 9 * 1024 * 1024},
        {"name": "empty.txt", "size": 0},
    ]
    server = invoke(widget, "_describe", {"server": True, "files": files})
    assert server == [
        {"size": "35.4 KB", "refusal": None},
        {"size": "2.0 GB", "refusal": upload_limit_message("huge.iso", 2_000_000_000, 1 << 30)},
        {"size": "9.4 MB", "refusal": None},
        {"size": "0 bytes", "refusal": "empty.txt is empty; there is nothing to upload."},
    ]
    kernel = invoke(widget, "_describe", {"server": False, "files": files}, request_id="r-2")
    assert [k["refusal"] for k in kernel] == [
        None,
        kernel_limit_message("huge.iso", 2_000_000_000),
        kernel_limit_message("nine.bin", 9 * 1024 * 1024),
        "empty.txt is empty; there is nothing to upload.",
    ]
    # a malformed request is answered, never raised: the browser waits for the answer
    assert invoke(widget, "_describe", {"files": "nonsense"}, request_id="r-3") == []
    assert widget.errors == []  # describing records nothing: the browser reports refusals


def test_mode_message(widget):
    assert widget.mode is None
    widget.handle({"type": "mode", "server": True, "status": 200, "base_url": "/"})
    assert widget.mode == "server"
    widget.handle({"type": "mode", "server": False, "status": 404, "base_url": "/"})
    assert widget.mode == "kernel"
    assert widget.errors == []


def test_result_message_gives_result_frame_and_card(widget, demo_result):
    seen = []
    widget.on_result(seen.append)
    result = server_result(demo_result)
    widget.handle(result_message(result))

    assert widget.results == [result]
    assert seen == [result]
    assert widget.errors == []
    html = widget.result_view.value
    assert html.count('class="iscc-card"') == 1
    assert demo_result["iscc"] in html and "Concentrated Cat" in html
    assert widget.error_view.value == ""

    frame = widget.frame
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["iscc"] == demo_result["iscc"]
    assert row["filename"] == "demo.jpg"
    assert row["filesize"] == 35393
    assert row["media_id"] == "0a1b2c3d4e5f6"
    assert row["via"] == "server"
    assert [row[t] for t in ("meta", "content", "data", "instance")] == demo_result["units"]
    # the frame works with the df.iscc accessor
    assert len(frame.iscc.explain()) == 4


def test_many_results_are_shown_as_a_table(widget, demo_result):
    png = create_iscc(iscc_samples.IMAGE / "demo.png")
    for i, r in enumerate([demo_result, png, demo_result, png]):
        widget.handle(result_message(server_result(r, f"{i:013d}")))
        assert ('class="iscc-card"' in widget.result_view.value) == (i < widget.max_cards)
    html = widget.result_view.value
    assert 'class="iscc-frame"' in html
    assert html.count(demo_result["iscc"]) == 2 and html.count(png["iscc"]) == 2
    assert list(widget.frame["filename"]) == ["demo.jpg", "demo.png", "demo.jpg", "demo.png"]


def test_on_result_remove(widget, demo_result):
    seen = []
    widget.on_result(seen.append)
    widget.on_result(seen.append, remove=True)
    widget.handle(result_message(demo_result))
    assert seen == []


def test_error_messages_are_shown_not_raised(widget):
    widget.handle(
        error_message(status=400, message="The body (2147483648 bytes) is larger than the limit.")
    )
    widget.handle(error_message("x<script>.txt", 10, 422, "ISCC processing of x failed", "server"))
    widget.handle(
        error_message(
            "gone.bin", 10, 0, "The upload failed: the connection to the server was lost."
        )
    )
    assert widget.results == []
    assert [e["status"] for e in widget.errors] == [400, 422, None]
    assert widget.errors[0] == {
        "filename": "big.iso",
        "size": 1 << 31,
        "status": 400,
        "message": "The body (2147483648 bytes) is larger than the limit.",
        "via": "server",
    }
    html = widget.error_view.value
    assert "big.iso: HTTP 400: The body (2147483648 bytes) is larger than the limit." in html
    assert "x&lt;script&gt;.txt: HTTP 422: ISCC processing of x failed" in html
    assert "<script>" not in html
    assert "gone.bin: The upload failed" in html
    assert widget.result_view.value == ""


def test_refused_in_the_browser(widget):
    """The browser's own refusal (over the upload limit) arrives as an error without status."""
    message = upload_limit_message("huge.iso", 2_000_000_000, 1 << 30)
    widget.handle(error_message("huge.iso", 2_000_000_000, 0, message, "browser"))
    assert message == (
        "huge.iso (2.0 GB) is larger than the upload limit of 1 GiB (1073741824 bytes, "
        "ISCC_WEB_MAX_UPLOAD_SIZE); it was not uploaded."
    )
    assert widget.errors[0]["via"] == "browser"
    # the text starts with the name: it is not repeated
    assert f"<li>{message}</li>" in widget.error_view.value


@pytest.mark.parametrize(
    "content",
    [
        None,
        "text",
        {},
        {"type": "nonsense"},
        {"type": "result", "filename": "a.jpg"},
        {"type": "result", "filename": "a.jpg", "result": {"name": "no code"}},
    ],
)
def test_malformed_messages_become_errors(widget, content):
    widget.handle(content)
    assert widget.results == []
    assert len(widget.errors) == 1
    assert "cannot use" in widget.errors[0]["message"]
    assert "iscc-errors" in widget.error_view.value


def test_kernel_fallback_creates_the_real_iscc(widget, demo_result):
    data = DEMO.read_bytes()
    seen = []
    widget.on_result(seen.append)
    widget.handle({"type": "mode", "server": False, "status": 404})
    answer = kernel_upload(widget, "v1-1", "demo.jpg", len(data), [memoryview(data)], "image/jpeg")

    assert widget.errors == []
    assert len(widget.results) == 1
    result = widget.results[0]
    assert (
        result["iscc"]
        == demo_result["iscc"]
        == "ISCC:KECWRY3VY6R5SNV4YNBTBHR4T2HGP3HKVFO7TYUP2BKVFG724W63HVI"
    )
    assert result["filename"] == "demo.jpg" and result["filesize"] == len(data)
    assert seen == [result]
    assert answer == {"type": "kernel-result", "iscc": demo_result["iscc"]}
    assert widget.frame.iloc[0]["via"] == "kernel"
    assert demo_result["iscc"] in widget.result_view.value


def test_kernel_fallback_passes_options(demo_result):
    w = UploadWidget(granular=False)
    w.front.send = Sent()
    text = "A short text about files. " * 40
    kernel_upload(w, "v1-2", "t.txt", len(text), [text.encode()])
    assert w.results[0]["mode"] == "text"
    assert "features" not in w.results[0]
    w2 = UploadWidget(granular=True)
    w2.front.send = Sent()
    kernel_upload(w2, "v1-3", "t.txt", len(text), [text.encode()])
    assert w2.results[0]["features"]


def test_kernel_fallback_refuses_oversize(widget):
    size = KERNEL_LIMIT + 1
    answer = kernel_upload(widget, "v1-9", "big.bin", size, [bytes(size)])
    assert widget.results == []
    expected = kernel_limit_message("big.bin", size)
    assert widget.errors == [
        {"filename": "big.bin", "size": size, "status": None, "message": expected, "via": "kernel"}
    ]
    assert expected.startswith(
        "big.bin (8.4 MB) is larger than 8 MiB, the limit for files sent through the kernel"
    )
    assert "jupyter server extension enable iscc_lab.server_ext" in expected
    assert answer == {"type": "kernel-error", "message": expected}
    assert "larger than 8 MiB" in widget.error_view.value
    # the browser says the same (its refusal comes before any byte is sent): Python's text
    described = invoke(
        widget,
        "_describe",
        {"server": False, "files": [{"name": "big.bin", "size": size}]},
        request_id="d",
    )
    assert described == [{"size": "8.4 MB", "refusal": expected}]


def test_kernel_fallback_errors(widget):
    answers = [
        kernel_upload(widget, "a", "none.bin", 3, []),
        kernel_upload(widget, "b", "empty.bin", 0, [b""]),
        kernel_upload(widget, "c", "a/b.bin", 3, [b"abc"]),
    ]
    assert widget.results == []
    messages = [e["message"] for e in widget.errors]
    assert "no bytes arrived" in messages[0]
    assert messages[1] == "empty.bin is empty."
    assert "plain file name" in messages[2]
    assert [a["type"] for a in answers] == ["kernel-error"] * 3
    assert [a["message"] for a in answers] == messages
    assert [m["id"] for m in widget.front.send] == ["a", "b", "c"]


def test_clear(widget, demo_result):
    widget.handle(result_message(demo_result))
    widget.handle(error_message())
    widget.clear()
    assert widget.results == [] and widget.errors == []
    assert widget.result_view.value == "" and widget.error_view.value == ""
    assert widget.front.send == [{"type": "clear"}]
    assert len(widget.frame) == 0 and "iscc" in widget.frame.columns


def test_empty_frame_and_sizes():
    assert list(results_frame([]).columns[:3]) == ["filename", "iscc", "mode"]
    assert human_size(0) == "0 bytes"
    assert human_size(35393) == "35.4 KB"
    assert human_size(200 * 1024 * 1024) == "209.7 MB"
    assert human_size(5_000_000_000) == "5.0 GB"
    assert limit_size(1 << 30) == "1 GiB"
    assert limit_size(KERNEL_LIMIT) == "8 MiB"
    assert limit_size(1000) == "1.0 KB"
    assert limit_size(999) == "999 bytes"


def test_widget_is_a_box_with_the_front_end():
    import ipywidgets

    w = UploadWidget()
    assert isinstance(w, ipywidgets.VBox)
    assert w.children == (w.front, w.error_view, w.result_view)
    assert "iscc-upload-widget" in w._dom_classes
    # nothing of the files is in the synced state: only limits, query and the code
    state = w.front.get_state()
    assert {"max_size", "kernel_max_size", "query"} <= set(state)
    assert not any(isinstance(v, (bytes, memoryview)) for v in state.values())
