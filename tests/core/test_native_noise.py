"""Native libraries' stderr noise (TagLib on iscc-samples' video demo.ogg) stays out of what users
see, in the core and in batch(); real stderr output still comes through (issue 14)."""

import subprocess
import sys
import textwrap

import iscc_samples

NOISY = iscc_samples.VIDEO / "demo.ogg"  # an Ogg Theora file: TagLib looks for Vorbis comments
NOISE = b"Could not find the Vorbis comment header"


def run(tmp_path, code: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=300, cwd=tmp_path
    )


def test_taglib_prints_noise_without_the_capture(tmp_path):
    """The premise: TagLib itself writes to fd 2 for this file (else the tests below prove
    nothing)."""
    proc = run(
        tmp_path,
        f"""
        import taglib
        taglib.File({str(NOISY)!r}).close()
    """,
    )
    assert NOISE in proc.stderr


def test_core_on_the_noisy_sample_keeps_stderr_clean(tmp_path):
    proc = run(
        tmp_path,
        f"""
        import logging, iscc_lab
        path = {str(NOISY)!r}
        print(iscc_lab.create_iscc(path)["iscc"])
        print(iscc_lab.extract_metadata(path))
        try:
            iscc_lab.embed_metadata(path, {{"name": "Quiet"}})
        except iscc_lab.Unprocessable as e:  # TagLib cannot write this file: a message, no noise
            print(e)
        logging.basicConfig(level=logging.DEBUG, filename="debug.log")
        iscc_lab.extract_metadata(path)
    """,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.startswith(b"ISCC:")
    assert proc.stderr == b"", proc.stderr.decode()
    assert "DEBUG:iscc_lab.native:native stderr: TagLib:" in (tmp_path / "debug.log").read_text()


def test_batch_on_the_noisy_sample_keeps_stderr_clean(tmp_path):
    proc = run(
        tmp_path,
        f"""
        import iscc_lab
        if __name__ == "__main__":
            df = iscc_lab.batch([{str(NOISY)!r}, {str(NOISY)!r}], workers=2, progress=False)
            assert df["error"].isna().all(), df["error"].tolist()
            print(df["iscc"].tolist())
    """,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"ISCC:" in proc.stdout
    assert NOISE not in proc.stderr, proc.stderr.decode()


def test_other_stderr_output_still_comes_through(tmp_path):
    proc = run(
        tmp_path,
        """
        import os, sys
        from iscc_lab.tools import native_stderr
        with native_stderr():
            os.write(2, b"TagLib: noise\\n")
            os.write(2, b"a real complaint from C\\n")
            print("a Python warning", file=sys.stderr)
            with native_stderr():  # nested: captured once
                os.write(2, b"inner\\n")
        os.write(2, b"after\\n")
    """,
    )
    assert proc.returncode == 0
    assert proc.stderr == b"a real complaint from C\na Python warning\ninner\nafter\n"
