"""Faults beyond tests/server_ext/test_faults.py: the server killed (SIGKILL) mid-upload and
mid-ISCC and restarted on the same media folder; expiry cleanup and DELETE while a download
streams to a slow client.

Figures go to tests/artifacts/reliability/faults.json.
"""

import contextlib
import hashlib
import os
import signal
import socket
import threading
import time

import iscc_samples
import psutil
import pytest
import requests

from tests.reliability.conftest import b64, media_ids, reap, record, serve

FIGURES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record("faults", FIGURES)


def wait_for(predicate, timeout: float = 30, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_server_killed_mid_upload_and_mid_iscc_then_restarted(tmp_path):
    """SIGKILL while one upload streams in and another media is being processed; a new server
    on the same media folder: earlier media are intact and served, the half-received upload is
    neither listed nor served, the media whose ISCC was cut short is a complete upload without
    an ISCC."""
    media = tmp_path / "media"
    a = serve(tmp_path / "a", media=media)
    kids = []
    try:
        a.warm()
        # Earlier media: an ISCC result, a JPEG, 5 MiB of random bytes.
        text = ("Words that were stored before the crash. " * 40).encode()
        jpeg = (iscc_samples.IMAGE / "demo.jpg").read_bytes()
        blob = os.urandom(5 << 20)
        r = a.upload(text, "before.txt", route="iscc")
        assert r.status_code == 201
        earlier = {r.json()["media_id"]: text}
        iscc_before = {r.json()["media_id"]: a.call("GET", f"iscc/{r.json()['media_id']}").json()}
        for data, name in ((jpeg, "before.jpg"), (blob, "before.bin")):
            r = a.upload(data, name)
            earlier[r.json()["media_id"]] = data

        # An ISCC job in progress: a video, whose media is committed before the work starts.
        video = (iscc_samples.VIDEO / "demo.mp4").read_bytes()
        in_progress = threading.Thread(
            target=lambda: _swallow(a.upload, video, "cut-short.mp4", route="iscc", timeout=60)
        )
        in_progress.start()
        processing = wait_for(lambda: [m for m in media_ids(media) if m not in earlier], timeout=20)
        assert processing, "the video upload never became a media"
        assert wait_for(
            lambda: any(p.name().startswith("ff") for pid in a.children() for p in _procs(pid)),
            timeout=20,
        )

        # An upload streaming in: 8 of 64 MiB sent.
        sock = socket.create_connection(("127.0.0.1", a.port))
        sock.sendall(
            f"POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {a.token}\r\n"
            f"X-Upload-Filename: {b64('half.bin')}\r\nContent-Length: {64 << 20}\r\n\r\n".encode()
        )
        sock.sendall(os.urandom(8 << 20))
        assert wait_for(lambda: list((media / ".incoming").iterdir()), timeout=10)

        kids = a.children()
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        sock.close()
        in_progress.join(30)
        # Do the worker processes (and their ffmpeg) go away with the server?
        t0 = time.monotonic()
        gone = wait_for(lambda: not [p for p in kids if _running(p)], timeout=5)
        FIGURES["orphans_after_sigkill"] = {
            "worker_and_tool_processes": len(kids),
            "all_exited_within_5s": bool(gone),
            "seconds": round(time.monotonic() - t0, 1),
        }
    finally:
        a.stop()
        killed = reap(kids, timeout=0.1)
        FIGURES.setdefault("orphans_after_sigkill", {})["killed_by_the_test"] = len(killed)

    leftovers = list((media / ".incoming").iterdir())
    half = [p for p in leftovers]
    half_bytes = sum(f.stat().st_size for p in half for f in p.rglob("*") if f.is_file())
    listed = set(media_ids(media))
    assert listed == set(earlier) | set(processing), (listed, set(earlier), processing)

    b = serve(tmp_path / "b", media=media)
    try:
        for media_id, data in earlier.items():
            r = b.call("GET", f"media/{media_id}")
            assert r.status_code == 200 and r.content == data
        for media_id, result in iscc_before.items():
            assert b.call("GET", f"iscc/{media_id}").json() == result
        # The half-received upload: no media, not servable under the id it was received as.
        for p in half:
            partial_id = p.name.split("-")[0]
            assert b.call("GET", f"media/{partial_id}").status_code == 404
            assert b.call("GET", f"iscc/{partial_id}").status_code == 404
        # The media whose ISCC was cut short: complete bytes, no ISCC.
        (cut,) = processing
        r = b.call("GET", f"media/{cut}")
        assert r.status_code == 200 and r.content == video
        # Its ISCC: none, or a complete one. (The orphaned worker of the killed server may still
        # finish the job and write it: see test_workers_exit_when_the_server_is_killed.)
        r = b.call("GET", f"iscc/{cut}")
        assert r.status_code in (200, 404)
        if r.status_code == 200:
            assert r.json()["mode"] == "video" and len(r.json()["units"]) == 4
        cut_iscc = r.status_code
        assert not list((media / cut).glob(".tmp-*"))  # no half-written result
        # And the restarted server does everything.
        r = b.upload(video, "after.mp4", route="iscc", timeout=120)
        assert r.status_code == 201 and r.json()["mode"] == "video"
        assert b.alive()
    finally:
        b.stop()
    FIGURES["sigkill_restart"] = {
        "earlier_media_intact": len(earlier),
        "half_upload_left_in_incoming_bytes": half_bytes,
        "half_upload_entries": len(half),
        "media_with_cut_short_iscc": len(processing),
        "cut_short_iscc_after_restart": {200: "written by the orphaned worker", 404: "absent"}[
            cut_iscc
        ],
    }


def _running(pid) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _procs(pid):
    try:
        return [psutil.Process(pid)]
    except psutil.NoSuchProcess:
        return []


def _swallow(fn, *args, **kw):
    with contextlib.suppress(requests.RequestException):  # the server is killed under it
        fn(*args, **kw)


def test_workers_exit_when_the_server_is_killed(tmp_path):
    s = serve(tmp_path / "s")  # the server starts its workers at once (pool.warm)
    kids = []
    try:
        assert wait_for(lambda: len(s.children()) >= 3, timeout=30)  # 2 workers + resource tracker
        time.sleep(1)
        kids = s.children()
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(10)
        exited = wait_for(lambda: not [p for p in kids if _running(p)], timeout=5)
    finally:
        s.stop()
        reap(kids, timeout=0.1)
    assert exited, "workers still running 5 s after the server was killed"


SLOW_CHUNK = 256 << 10


def _slow_download(server, media_id, seconds: float, progress: dict):
    """Read the download in 256 KiB pieces, spread over about `seconds`."""
    r = server.call("GET", f"media/{media_id}", stream=True, timeout=120)
    progress["status"] = r.status_code
    if r.status_code != 200:
        progress["body"] = r.content
        return
    total = int(r.headers["Content-Length"])
    pause = seconds / max(1, total // SLOW_CHUNK)
    digest, size = hashlib.sha256(), 0
    for chunk in r.iter_content(SLOW_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        progress["read"] = size
        time.sleep(pause)
    progress.update(sha256=digest.hexdigest(), size=size, finished=time.monotonic())


@pytest.mark.parametrize("remover", ["expiry-cleanup", "api-delete"])
def test_media_removed_while_a_download_streams(tmp_path, remover):
    """What holds: a download that has started completes with the right bytes even though the
    media is removed meanwhile (an open file keeps streaming after its name is gone); requests
    after the removal get a clean 404; nothing is left in .trash; the server does not buffer the
    file in memory for the slow client."""
    expiry = (
        {"ISCC_WEB_STORAGE_EXPIRY": 3, "ISCC_WEB_CLEANUP_INTERVAL": 1}
        if remover == "expiry-cleanup"
        else {}
    )
    s = serve(tmp_path / "s", env=expiry)  # no worker is needed: not warmed
    try:
        data = os.urandom(32 << 20)
        r = s.upload(data, "large.bin")
        assert r.status_code == 201
        media_id = r.json()["media_id"]
        rss_before = s.rss()
        progress: dict = {}
        reader = threading.Thread(target=_slow_download, args=(s, media_id, 7.0, progress))
        reader.start()
        assert wait_for(lambda: progress.get("read", 0) > 0, timeout=10)
        if remover == "api-delete":
            time.sleep(1)
            assert s.call("DELETE", f"media/{media_id}").status_code == 204
        removed = wait_for(lambda: media_id not in media_ids(s.media), timeout=20)
        removed_at = time.monotonic()
        read_when_removed = progress.get("read", 0)
        rss_peak = s.rss()
        assert removed, "the media was not removed"
        assert s.call("GET", f"media/{media_id}").status_code == 404  # a new request: clean 404
        assert s.call("GET", f"iscc/{media_id}").status_code == 404
        reader.join(60)
        assert progress["status"] == 200
        assert (
            progress["size"] == len(data) and progress["sha256"] == hashlib.sha256(data).hexdigest()
        )
        assert read_when_removed < len(data) and progress["finished"] > removed_at, (
            "removed only after the download"
        )
        assert list((s.media / ".trash").iterdir()) == []
        assert s.alive()
        FIGURES[f"download_during_{remover}"] = {
            "file_mib": len(data) >> 20,
            "read_when_removed_mib": round(read_when_removed / (1 << 20), 1),
            "download_complete_and_identical": True,
            "server_rss_before_mib": rss_before >> 20,
            "server_rss_while_streaming_mib": rss_peak >> 20,
        }
        # Streaming to a slow client does not hold the file in the server's memory.
        assert rss_peak - rss_before < 32 << 20, (rss_before, rss_peak)
    finally:
        s.stop()
