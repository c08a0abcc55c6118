"""batch() under the per-job limits: a file over a limit gets an error row naming it and the
batch goes on; the pool stays warm across calls; a script on standard input works."""

import subprocess
import sys
import time
from pathlib import Path

import iscc_samples

import iscc_lab
from iscc_lab.pool import shared_pool
from tests.reliability.test_hostile import zip_bomb_docx
from tests.reliability.test_limits import long_video


def test_files_over_a_limit_get_error_rows_and_the_batch_goes_on(tmp_path):
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(zip_bomb_docx(1000))
    files = [bomb, iscc_samples.IMAGE / "demo.jpg", iscc_samples.TEXT / "demo.txt"]
    df = iscc_lab.batch(files, workers=2, progress=False, job_memory="1G")
    assert df.loc[0, "error"] == "bomb.docx: stopped after using the job memory limit of 1 GiB."
    assert df["error"][1:].isna().all() and df["iscc"][1:].notna().all()
    video = tmp_path / "long.mp4"
    video.write_bytes(long_video(tmp_path))
    df = iscc_lab.batch([video, iscc_samples.IMAGE / "demo.png"], workers=2, progress=False,
                        job_timeout=2)  # fmt: skip
    assert df.loc[0, "error"] == "long.mp4: stopped after the job time limit of 2 s."
    assert pd_isna(df.loc[1, "error"]) and df.loc[1, "mode"] == "image"


def pd_isna(value) -> bool:
    return value is None or value != value


def test_the_pool_stays_warm_across_calls():
    files = [iscc_samples.IMAGE / "demo.jpg", iscc_samples.IMAGE / "demo.png"]
    iscc_lab.batch(files, workers=2, progress=False)
    deadline = time.monotonic() + 60  # a worker replaced by an earlier test may still start
    while len(shared_pool(2).pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    first = shared_pool(2).pids()
    df = iscc_lab.batch(files, workers=2, progress=False)
    assert df["error"].isna().all()
    assert shared_pool(2).pids() == first and len(first) == 2


def test_a_script_on_standard_input_runs_batch():
    script = (
        "import iscc_lab, iscc_samples\n"
        "df = iscc_lab.batch([iscc_samples.IMAGE / 'demo.jpg', iscc_samples.TEXT / 'demo.txt'],"
        " workers=2, progress=False)\n"
        "print('rows', len(df), int(df['error'].isna().sum()))\n"
    )
    for argv, stdin in (([sys.executable, "-"], script), ([sys.executable, "-c", script], "")):
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=300,
            cwd=Path(__file__).parents[2],
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert "rows 2 2" in done.stdout
