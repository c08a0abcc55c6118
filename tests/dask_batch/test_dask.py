"""batch() on a Dask LocalCluster with 2 worker processes: the same frame as the local run."""

import os
import signal
import threading

import iscc_samples
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

import iscc_lab  # noqa: E402
from iscc_lab.batch.dask import IsccToolsPlugin, prepare_cluster  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def local_frame():
    return iscc_lab.batch(iscc_samples.ROOT, workers=2, progress=False)


def codes(frame):
    return frame[["filename", "iscc", "error"]].reset_index(drop=True)


def test_corpus_gives_the_same_frame_as_the_local_run(client, local_frame):
    prepare_cluster(client)
    frame = iscc_lab.batch(iscc_samples.ROOT, client=client, progress=False)
    assert len(frame) == 55 and frame["error"].isna().all()
    pd.testing.assert_frame_equal(
        frame.drop(columns="thumbnail"), local_frame.drop(columns="thumbnail")
    )


def test_a_failing_file_keeps_its_error_row(client, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    paths = [
        iscc_samples.IMAGE / "demo.png", tmp_path / "missing.jpg", empty,
        iscc_samples.TEXT / "demo.txt",
    ]  # fmt: skip
    frame = iscc_lab.batch(paths, client=client, progress=False)
    assert list(frame["filename"]) == ["demo.png", "missing.jpg", "empty.mp4", "demo.txt"]
    assert frame["error"].isna().tolist() == [True, False, False, True]
    assert "No file" in frame["error"][1] and "empty" in frame["error"][2]


def test_a_killed_worker_is_retried_without_losing_or_duplicating_rows(client, local_frame):
    videos = sorted(iscc_samples.VIDEO.glob("*"))
    expected = local_frame.set_index("path").loc[[str(p) for p in videos], "iscc"].tolist()
    pids = client.run(os.getpid)
    killer = threading.Timer(2.0, lambda: os.kill(next(iter(pids.values())), signal.SIGKILL))
    killer.start()
    frame = iscc_lab.batch(videos, client=client, progress=False)
    killer.join()
    assert frame["filename"].tolist() == [p.name for p in videos]
    assert frame["iscc"].tolist() == expected and frame["error"].isna().all()
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_batch_dask_is_lazy_and_writes_parquet(client, local_frame, tmp_path):
    lazy = iscc_lab.batch_dask(iscc_samples.IMAGE, chunk_size=2)
    assert lazy.npartitions == 3
    out = tmp_path / "images.parquet"
    lazy.to_parquet(out)
    back = pd.read_parquet(out)
    expected = local_frame[local_frame["path"].str.startswith(str(iscc_samples.IMAGE) + "/")]
    assert back["iscc"].tolist() == expected["iscc"].tolist()
    assert set(["meta", "semantic", "content", "data", "instance"]) <= set(back.columns)


def test_provenance_columns_on_the_cluster(client, tmp_path, demo_jpg):
    """soft_binding=True and the `c2pa` column of a signed file, as on the local pool; in
    batch_dask's partitions `c2pa` is JSON text (one schema for every partition)."""
    import json

    from tests.provenance.certs import make_signer

    chain, key = make_signer(tmp_path)
    signed, result = iscc_lab.sign(demo_jpg, outpath=tmp_path / "signed.jpg", cert=chain, key=key)
    paths = [demo_jpg, signed, tmp_path / "missing.jpg"]
    local = iscc_lab.batch(paths, soft_binding=True, workers=1, progress=False)
    remote = iscc_lab.batch(paths, soft_binding=True, client=client, progress=False)
    pd.testing.assert_frame_equal(remote.drop(columns="thumbnail"), local.drop(columns="thumbnail"))
    assert remote["soft_binding"].tolist()[:2] == [
        iscc_lab.soft_binding(p)["value"] for p in paths[:2]
    ]
    lazy = iscc_lab.batch_dask(paths, chunk_size=1, soft_binding=True)
    out = tmp_path / "provenance.parquet"
    lazy.to_parquet(out)  # partitions with and without a manifest: one schema
    back = pd.read_parquet(out)
    assert back["soft_binding"].tolist()[:2] == remote["soft_binding"].tolist()[:2]
    assert back["c2pa"].isna().tolist() == [True, False, True]
    assert json.loads(back["c2pa"][1]) == remote["c2pa"][1]
    assert remote["c2pa"][1]["active_manifest"] == result["c2pa"]["active_manifest"]


def test_plugin_fails_clearly_when_a_tool_is_missing(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for var in ("ISCC_LAB_FFMPEG", "ISCC_LAB_FFPROBE", "ISCC_LAB_FPCALC"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(iscc_lab.ToolMissing, match="ffmpeg is not installed"):
        IsccToolsPlugin().setup()


def test_core_and_local_batch_do_not_import_dask():
    import subprocess
    import sys

    code = (
        "import sys, iscc_lab, iscc_samples\n"
        "iscc_lab.batch([iscc_samples.IMAGE / 'demo.png'], workers=1, progress=False)\n"
        "assert not [m for m in ('dask', 'distributed') if m in sys.modules]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
