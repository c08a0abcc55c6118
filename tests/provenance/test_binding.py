"""The ISCC soft binding: iscc-sdk's own, with our tool wiring, never a download."""

import base64
import io
import socket

import iscc_samples
import iscc_sdk as idk
import pytest

import iscc_lab
from iscc_lab import tools
from iscc_lab.errors import BadRequest
from iscc_lab.provenance import decode_value, soft_binding
from iscc_lab.provenance.binding import similarity_score, unit_bodies


def test_equal_to_iscc_sdk_for_every_sample(samples):
    tools.wire()  # iscc-sdk's own function, with the system tools instead of its downloads
    for path in samples:
        ours = soft_binding(path)
        theirs = idk.soft_binding(path, semantic=False)
        assert ours["alg"] == "io.iscc.v0"
        assert ours["units"] == list(theirs.units), path.name
        assert base64.b64decode(ours["value"]) == theirs.value, path.name
        assert ours["assertion"] == idk.soft_binding_definition(theirs), path.name
        assert decode_value(ours["value"]) == ours["units"]


def test_public_verb_takes_bytes_and_streams(demo_jpg):
    by_path = iscc_lab.soft_binding(demo_jpg)
    assert iscc_lab.soft_binding(demo_jpg.read_bytes(), "x.jpg") == by_path
    assert iscc_lab.soft_binding(io.BytesIO(demo_jpg.read_bytes()), "x.jpg") == by_path
    assert by_path["assertion"]["label"] == "c2pa.soft-binding"
    assert by_path["assertion"]["data"]["alg"] == "io.iscc.v0"


def test_global_sdk_options_do_not_change_a_binding(monkeypatch):
    video = iscc_samples.VIDEO / "demo.mp4"
    expected = soft_binding(video)
    # another setting in iscc-sdk's global options (as ISCC_SDK_VIDEO_FPS would set it)
    monkeypatch.setattr(idk, "sdk_opts", idk.sdk_opts.override({"video_fps": 1}))
    assert soft_binding(video) == expected
    assert idk.sdk_opts.video_fps == 1  # restored after the call


def test_no_download_is_attempted(monkeypatch):
    audio, video = iscc_samples.AUDIO / "demo.mp3", iscc_samples.VIDEO / "demo.mkv"
    expected = {p: soft_binding(p) for p in (audio, video)}

    def refuse(*args, **kwargs):
        raise AssertionError("iscc-sdk's own tools or a download were used")

    for name in ("install", "fpcalc_install", "ffmpeg_install", "ffprobe_install",
                 "fpcalc_download", "ffmpeg_download", "ffprobe_download", "fpcalc_bin",
                 "ffmpeg_bin", "ffprobe_bin"):  # fmt: skip
        monkeypatch.setattr(idk.tools, name, refuse)
    monkeypatch.setattr(idk.utils, "download_file", refuse, raising=False)

    def no_network(self, *args, **kwargs):
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for path, binding in expected.items():
        assert soft_binding(path) == binding


def test_decode_value_says_what_is_wrong():
    with pytest.raises(BadRequest, match="not base64"):
        decode_value("***")
    with pytest.raises(BadRequest, match="not an io.iscc.v0 binding"):
        decode_value(base64.b64encode(b"\xff\xff\x00").decode())


def test_similarity_score_scale(demo_jpg):
    assert similarity_score(0) == 100
    assert similarity_score(64) == 50
    assert similarity_score(128) == 0 and similarity_score(200) == 0
    bodies = unit_bodies(soft_binding(demo_jpg)["units"])
    assert all(len(b) == 32 for b in bodies.values())


def test_semantic_binding_without_its_model_says_so(tmp_path, monkeypatch):
    from iscc_lab.errors import ToolMissing

    monkeypatch.setenv("ISCC_SCT_MODEL_DIR", str(tmp_path))  # an empty folder: no model
    with pytest.raises(ToolMissing, match="ISCC_SCT_MODEL_DIR"):
        soft_binding(iscc_samples.TEXT / "demo.txt", semantic=True)
