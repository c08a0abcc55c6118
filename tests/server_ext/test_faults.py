"""Faults: a worker killed mid-job, a client gone mid-upload, delete during processing."""

import asyncio
import os
import signal

import iscc_samples

from tests.server_ext.conftest import b64, upload


def live_media(media_path):
    return sorted(p.name for p in media_path.iterdir() if not p.name.startswith("."))


async def test_killed_worker_fails_its_request_and_the_next_succeeds(api, jp_serverapp, media_path):
    service = jp_serverapp.web_app.settings["iscc_lab_service"]
    await upload(api, b"warm up the pool " * 10, "warm.txt")
    before = live_media(media_path)
    video = (iscc_samples.VIDEO / "demo.mp4").read_bytes()
    pending = asyncio.ensure_future(upload(api, video, "demo.mp4"))
    for _ in range(100):  # wait until the job runs in a worker
        await asyncio.sleep(0.05)
        if list((media_path).glob("*/demo.mp4")):
            break
    await asyncio.sleep(0.3)
    for pid in service.pool.pids():
        os.kill(pid, signal.SIGKILL)
    r = await pending
    assert r.status == 422 and "worker process" in r.text
    assert live_media(media_path) == before  # the failed request left nothing
    r = await upload(api, video, "demo.mp4")
    assert r.status == 201 and r.json["mode"] == "video"


async def test_client_gone_mid_upload_leaves_nothing(api, jp_base_url, port, token, media_path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {jp_base_url}api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token {token}\r\n"
        f"X-Upload-Filename: {b64('partial.bin')}\r\nContent-Length: {10 << 20}\r\n\r\n"
    )
    writer.write(head.encode() + b"x" * (1 << 20))
    await writer.drain()
    await asyncio.sleep(0.3)
    assert list((media_path / ".incoming").iterdir())  # the upload is being received
    writer.transport.abort()  # the client vanishes
    for _ in range(50):
        await asyncio.sleep(0.1)
        if not list((media_path / ".incoming").iterdir()):
            break
    assert list((media_path / ".incoming").iterdir()) == []
    assert live_media(media_path) == []
    assert (
        await api("GET", "explain", "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA")
    ).status == 200


async def test_delete_while_processing(api, media_path):
    data = (iscc_samples.VIDEO / "demo.mkv").read_bytes()
    media = (await upload(api, data, "demo.mkv", route="media")).json["media_id"]
    # Run the ISCC of the stored media as the metadata embed would, and delete meanwhile.
    pending = asyncio.ensure_future(api("GET", "metadata", media))
    assert (await api("DELETE", "media", media)).status == 204
    r = await pending
    assert r.status in (200, 404)
    assert live_media(media_path) == []
