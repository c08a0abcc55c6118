"""batch(): the iscc-samples corpus on two workers, inputs of every kind, error rows, and an
interrupted batch leaving no worker behind. Real media, real iscc-sdk, no mocks."""

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import iscc_samples
import pandas as pd
import psutil
import pytest

import iscc_lab
from iscc_lab.batch import local, paths, rows
from iscc_lab.errors import BadRequest, Unprocessable
from iscc_lab.pool import shared_pool, shutdown_pools

BASE = list(rows.COLUMNS)


@pytest.fixture(scope="module")
def corpus():
    """The whole corpus (55 files, in iscc_samples.all() order: not sorted) on 2 workers."""
    files = iscc_samples.all()
    assert len(files) == 55
    return files, iscc_lab.batch(files, workers=2, progress=False)


def test_import_stays_light():
    code = (
        "import sys, iscc_lab; "
        "assert not {'pandas', 'tornado', 'ipywidgets'} & set(sys.modules), sys.modules.keys(); "
        "import iscc_lab.batch.rows, iscc_lab.batch.local; assert 'pandas' not in sys.modules; "
        "iscc_lab.batch; iscc_lab.card; "
        "assert 'pandas' in sys.modules; "
        "assert not {'tornado', 'ipywidgets'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_corpus_rows_in_input_order(corpus):
    files, df = corpus
    assert len(df) == 55
    assert df["path"].tolist() == [str(p) for p in files]
    assert df["filename"].tolist() == [p.name for p in files]
    assert list(df.index) == list(range(55))


def test_corpus_every_row_has_an_iscc(corpus):
    _, df = corpus
    assert df["error"].isna().all(), df.loc[df["error"].notna(), ["filename", "error"]]
    assert df["iscc"].str.startswith("ISCC:").all()
    assert df["datahash"].notna().all()
    # the 2-unit ISCC-SUMs of unsupported media (mobi, sqlite) have no Meta-Code nor metahash
    assert (df["metahash"].notna() == df["meta"].notna()).all()
    assert df["meta"].isna().sum() == 2


def test_corpus_columns_and_dtypes(corpus):
    _, df = corpus
    assert list(df.columns) == [*BASE, "meta", "content", "data", "instance", "thumbnail", "error"]
    for col in ("filesize", "width", "height"):
        assert str(df[col].dtype) == "Int64"
    assert df["duration"].dtype == "float64"
    for col in ("path", "iscc", "mode", "name", "meta", "content", "thumbnail", "error"):
        assert pd.api.types.is_string_dtype(df[col]) or df[col].dtype == object, col
    assert (df["filesize"] > 0).all()


def test_corpus_values_match_create_iscc(corpus):
    files, df = corpus
    jpg = files.index(iscc_samples.IMAGE / "demo.jpg")
    row = df.iloc[jpg]
    result = iscc_lab.create_iscc(iscc_samples.IMAGE / "demo.jpg")
    assert row["iscc"] == result["iscc"]
    assert (row["mode"], row["mediatype"], row["filesize"]) == ("image", "image/jpeg", 35393)
    assert (row["width"], row["height"], row["name"]) == (200, 133, result["name"])
    assert [row[t] for t in ("meta", "content", "data", "instance")] == result["units"]
    assert row["thumbnail"].startswith("data:image/")


def test_corpus_media_kinds(corpus):
    _, df = corpus
    by_name = df.set_index(df["path"].map(lambda p: Path(p).parent.name + "/" + Path(p).name))
    video = by_name.loc["video/demo.mp4"]
    assert video["mode"] == "video" and video["duration"] == pytest.approx(60, abs=1)
    assert by_name.loc["audio/demo.mp3", "mode"] == "audio"
    assert by_name.loc["text/demo.txt", "mode"] == "text"
    # Unsupported media get the 2-unit ISCC-SUM (fallback on): no meta and content units.
    mobi = by_name.loc["text/demo.mobi"]
    assert pd.isna(mobi["content"]) and mobi["data"].startswith("ISCC:G")


def test_unit_columns_are_classified_by_maintype(corpus):
    import iscc_core as ic

    _, df = corpus
    for col, mt in (("meta", ic.MT.META), ("content", ic.MT.CONTENT), ("data", ic.MT.DATA),
                    ("instance", ic.MT.INSTANCE)):  # fmt: skip
        for unit in df[col].dropna():
            assert ic.Code(unit).maintype == mt


def test_errors_keep_the_batch_going(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.jpg"
    files = [iscc_samples.IMAGE / "demo.jpg", missing, empty, iscc_samples.IMAGE / "demo.png"]
    df = iscc_lab.batch(files, workers=2, progress=False)
    assert df["filename"].tolist() == ["demo.jpg", "missing.jpg", "empty.txt", "demo.png"]
    assert df["iscc"].notna().tolist() == [True, False, False, True]
    assert df["error"].notna().tolist() == [False, True, True, False]
    assert "No file at" in df.loc[1, "error"]
    assert "is empty" in df.loc[2, "error"]
    assert pd.isna(df.loc[1, "filesize"]) and pd.isna(df.loc[2, "mode"])


def test_error_messages():
    assert rows.message(Unprocessable("demo.xyz: unsupported")) == "demo.xyz: unsupported"
    assert rows.message(ValueError("bad value")) == "ValueError: bad value"
    assert rows.message(RuntimeError()) == "RuntimeError"
    assert rows.work(None, None, False, None)["error"] == "No path given."


def test_glob_input():
    df = iscc_lab.batch(str(iscc_samples.IMAGE / "demo.[jp]*g"), workers=1, progress=False)
    assert df["filename"].tolist() == ["demo.jpg", "demo.png"]
    assert df["error"].isna().all()


def test_series_input_keeps_its_index():
    paths = pd.Series(
        [str(iscc_samples.IMAGE / "demo.gif"), str(iscc_samples.TEXT / "demo.txt")],
        index=["cat", "text"],
    )
    df = iscc_lab.batch(paths, workers=2, progress=False)
    assert list(df.index) == ["cat", "text"]
    assert df["mode"].tolist() == ["image", "text"]
    assert list(df.columns[-6:]) == ["meta", "content", "data", "instance", "thumbnail", "error"]


def test_folder_input_is_sorted_skips_hidden_and_links(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for rel in ("b/z.txt", "a.txt", ".dot.txt", ".hidden/x.txt", "b/c.txt"):
        (tmp_path / rel).write_text("hello " + rel)
    os.symlink(tmp_path / "a.txt", tmp_path / "link.txt")
    found, index = paths.collect_paths(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.txt", "b/c.txt", "b/z.txt"]
    assert index is None
    df = iscc_lab.batch(tmp_path, workers=1, progress=False)
    assert df["filename"].tolist() == ["a.txt", "c.txt", "z.txt"]
    assert df["error"].isna().all()


def test_corpus_folder_order():
    found, _ = paths.collect_paths(iscc_samples.ROOT)
    assert len(found) == 55 and found == sorted(found)


def test_bad_sources(tmp_path):
    with pytest.raises(BadRequest):
        paths.collect_paths(tmp_path / "nothing-here")
    with pytest.raises(BadRequest):
        paths.collect_paths(42)
    with pytest.raises(BadRequest):
        iscc_lab.batch([], workers=0)
    empty = iscc_lab.batch(str(tmp_path / "*.none"), progress=False)
    assert len(empty) == 0 and list(empty.columns) == [*BASE, "thumbnail", "error"]


def test_granular_features_column():
    df = iscc_lab.batch([iscc_samples.TEXT / "demo.txt"], granular=True, progress=False)
    assert "features" in df.columns
    assert df.loc[0, "features"][0]["simprints"]


def crash_on_crash_txt(path, *args):
    """A worker job that kills its process for files named crash.txt, as a segfault would."""
    if path is not None and Path(path).name == "crash.txt":
        os._exit(1)
    return rows.work(path, *args)


def test_a_dying_worker_only_fails_its_file(tmp_path):
    crash = tmp_path / "crash.txt"
    crash.write_text("this file kills its worker")
    files = [iscc_samples.IMAGE / n for n in ("demo.jpg", "demo.png", "demo.gif", "demo.bmp")]
    files.insert(2, crash)
    outcomes = dict(local.iter_rows(files, workers=2, granular=False, job=crash_on_crash_txt))
    assert sorted(outcomes) == [0, 1, 2, 3, 4]
    assert "worker process died" in outcomes[2]["error"]
    assert all(outcomes[i]["error"] is None for i in (0, 1, 3, 4))
    # The pool stays warm for the next batch: the dead worker was replaced, none is extra.
    deadline = time.monotonic() + 60  # the replacement worker starts (imports iscc-sdk)
    while len(shared_pool(2).pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(shared_pool(2).pids()) == 2
    shutdown_pools()
    assert multiprocessing.active_children() == []


def _children() -> set[int]:
    """Our child processes, leaving out multiprocessing's resource tracker (one per session)."""
    found = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                found.add(p.pid)
        except psutil.Error:
            continue
    return found


def test_interrupt_leaves_no_workers():
    before = _children()
    videos, _ = paths.collect_paths(iscc_samples.VIDEO)
    seen = []

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for i, _row in local.iter_rows(videos, workers=2):
            seen.append(i)
            raise KeyboardInterrupt
    assert len(seen) == 1
    assert time.monotonic() - started < 30  # it did not run the other 20 videos
    deadline = time.monotonic() + 5
    while (
        multiprocessing.active_children() or _children() - before
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []
    assert _children() - before == set()


def test_sigint_ends_batch_and_workers():
    """A real interrupt (SIGINT to a process running batch()) ends it with KeyboardInterrupt
    and takes the worker processes with it."""
    import signal

    # Ctrl-C as in a terminal: a shell's background job (and so a CI run started as one) hands
    # its children SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    script = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import iscc_lab, iscc_samples\n"
        "if __name__ == '__main__':\n"
        "    iscc_lab.batch(iscc_samples.VIDEO, workers=2, progress=False)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    parent = psutil.Process(proc.pid)
    workers = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [p for p in parent.children() if "spawn_main" in " ".join(p.cmdline())]
        if len(workers) == 2:
            break
        time.sleep(0.1)
    assert len(workers) == 2, "the pool did not start"
    time.sleep(2)  # mid-batch: the workers are busy with videos
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0, stderr.decode(errors="replace")[-2000:]
    assert b"KeyboardInterrupt" in stderr
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []
