"""Per-job limits of the worker pool on a real `iscc-lab serve`: the zip-bomb document under
ISCC_LAB_JOB_MEMORY=1G and a 10-minute video under a 2 s time limit (set as the extension's
traitlet, --IsccLabApp.job_timeout=2) each get a 422 naming the limit; the worker's resident
memory (with its tools) never goes above the limit plus 10 %; the next request is served
normally.

Figures go to tests/artifacts/reliability/limits.json.
"""

import subprocess
import threading
import time

import iscc_samples
import psutil
import pytest

from iscc_lab import tools
from tests.reliability.conftest import media_ids, record, serve
from tests.reliability.test_hostile import zip_bomb_docx

GIB = 1 << 30
FIGURES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record("limits", FIGURES)


class PeakPerWorker:
    """The largest resident memory of one worker process with its children (its tools), sampled
    every 10 ms from outside while a request runs."""

    def __init__(self, server):
        self.server, self.peak, self._stop = server, 0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            try:
                workers = psutil.Process(self.server.pid).children()
            except psutil.Error:
                workers = []
            for worker in workers:
                try:
                    used = worker.memory_info().rss
                    used += sum(k.memory_info().rss for k in worker.children(recursive=True))
                except psutil.Error:
                    continue
                self.peak = max(self.peak, used)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def tools_running(server) -> list[str]:
    names = []
    for pid in server.children():
        try:
            name = psutil.Process(pid).name()
        except psutil.Error:
            continue
        if name.startswith(("ffmpeg", "ffprobe", "fpcalc")):
            names.append(name)
    return names


def test_zip_bomb_stops_at_the_memory_limit(tmp_path):
    s = serve(tmp_path / "s", env={"ISCC_LAB_JOB_MEMORY": "1G"})
    try:
        s.warm()
        before = media_ids(s.media)
        bomb = zip_bomb_docx(1000)
        started = time.monotonic()
        with PeakPerWorker(s) as mem:
            r = s.upload(bomb, "bomb.docx", route="iscc", timeout=600)
        seconds = time.monotonic() - started
        assert r.status_code == 422, r.text[:300]
        assert "bomb.docx: stopped after using the job memory limit of 1 GiB" in r.text, r.text
        assert media_ids(s.media) == before  # nothing stored
        assert mem.peak <= 1.1 * GIB, mem.peak
        r = s.upload((iscc_samples.IMAGE / "demo.jpg").read_bytes(), "demo.jpg", route="iscc")
        assert r.status_code == 201 and r.json()["mode"] == "image"
        assert s.alive()
        FIGURES["zip_bomb_1000MiB_limit_1GiB"] = {
            "status": 422,
            "seconds_to_422": round(seconds, 1),
            "worker_peak_rss_mib": mem.peak >> 20,
            "peak_over_limit": round(mem.peak / GIB, 3),
            "next_request": "201",
        }
    finally:
        s.stop()


def long_video(tmp_path) -> bytes:
    """demo.mp4 ten times over (10 minutes, streams copied, not encoded again): its ISCC takes
    far longer than 2 s, where demo.mp4 alone may take less on a warm worker."""
    listing = tmp_path / "ten.txt"
    listing.write_text(f"file '{iscc_samples.VIDEO / 'demo.mp4'}'\n" * 10)
    out = tmp_path / "long.mp4"
    ffmpeg = tools.find_tool("ffmpeg")
    cmd = [ffmpeg, "-v", "error", "-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", out]
    subprocess.run([str(c) for c in cmd], check=True, timeout=120)
    return out.read_bytes()


def test_slow_video_stops_at_the_time_limit(tmp_path):
    video = long_video(tmp_path)
    s = serve(tmp_path / "s", args=["--IsccLabApp.job_timeout=2"])
    try:
        s.warm()
        started = time.monotonic()
        r = s.upload(video, "long.mp4", route="iscc", timeout=120)
        seconds = time.monotonic() - started
        assert r.status_code == 422, r.text[:300]
        assert "long.mp4: stopped after the job time limit of 2 s" in r.text, r.text
        assert seconds < 5, seconds
        deadline = time.monotonic() + 5
        while tools_running(s) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tools_running(s) == []  # ffmpeg went with its worker
        r = s.upload((iscc_samples.IMAGE / "demo.jpg").read_bytes(), "demo.jpg", route="iscc")
        assert r.status_code == 201 and r.json()["mode"] == "image", r.text
        assert s.alive()
        FIGURES["video_limit_2s"] = {
            "status": 422,
            "seconds_to_422": round(seconds, 2),
            "tools_left": 0,
            "next_request": "201",
        }
    finally:
        s.stop()
