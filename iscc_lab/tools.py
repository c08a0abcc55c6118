"""ffmpeg, ffprobe and fpcalc for iscc-sdk, without run-time downloads.

iscc-sdk looks for its tools under fixed names in its user data folder and downloads them when
they are missing. iscc-lab instead uses the tools the set-up installed (Debian's `ffmpeg` and
`libchromaprint-tools`, or any on PATH, or the paths in ISCC_LAB_FFMPEG / ISCC_LAB_FFPROBE /
ISCC_LAB_FPCALC) and replaces iscc-sdk's runners so that a missing tool is an error that names
it, never a download.

Two known faults of Debian's fpcalc 1.5.1 are handled here:
- it exits non-zero ("Error decoding audio frame (End of file)") after printing a valid
  fingerprint: the fingerprint is used;
- it prints no fingerprint for audio shorter than its analysis window ("Empty fingerprint"):
  such audio has no features, and gets the Audio-Code of an empty feature list, with its
  duration from ffprobe.
Debian's ffmpeg 5.1 also fails some Theora frames (iscc-samples' demo.ogv): ffmpeg runs with
`-max_error_rate 1.0`, so the frames it can decode are used instead of failing the file, and
with one decoding thread, so that which frames those are is the same on every run.

Native libraries that iscc-sdk calls in-process print to the process's stderr (file descriptor
2) from C/C++ code, out of Python's reach: TagLib says "Vorbis::File::read() - Could not find the
Vorbis comment header." for Ogg files that are not Vorbis (iscc-samples' video demo.ogg). Such
lines would land in notebook outputs and terminals. `native_stderr()` (used around every iscc-sdk
call by `generate.sdk`) catches fd 2 for the duration of the call: known noise (`NATIVE_NOISE`)
is logged at debug level only; anything else (a Python warning, a real complaint) is logged too
and written on to stderr as it was, so nothing that matters is lost.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager

from iscc_lab.errors import ToolMissing

__all__ = ["find_tool", "wire", "check_tools", "native_stderr", "NATIVE_NOISE", "TOOLS"]

log = logging.getLogger(__name__)
native_log = logging.getLogger("iscc_lab.native")

#: Beginnings of stderr lines from native libraries that tell a user nothing (debug level only).
NATIVE_NOISE = ("TagLib: ",)
_CAPTURE_LIMIT = 1 << 20  # bytes of captured stderr read back; more is cut (and said so)

TOOLS = {
    "ffmpeg": ("ISCC_LAB_FFMPEG", "video (and audio thumbnails)", "ffmpeg"),
    "ffprobe": ("ISCC_LAB_FFPROBE", "video", "ffmpeg"),
    "fpcalc": ("ISCC_LAB_FPCALC", "audio", "libchromaprint-tools"),
}

_lock = threading.Lock()
_wired = False


def find_tool(name: str) -> str:
    """Path of tool `name`, or ToolMissing naming it and how to install it."""
    env, needed_for, debian = TOOLS[name]
    path = os.environ.get(env) or shutil.which(name)
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    raise ToolMissing(
        f"{name} is not installed; iscc-lab needs it for {needed_for}. Run `make venv` "
        f"(it installs Debian's {debian} package), put {name} on PATH, or set {env} to its path."
    )


def check_tools() -> dict:
    """Which tools are there: {name: path or the message why not}."""
    found = {}
    for name in TOOLS:
        try:
            found[name] = find_tool(name)
        except ToolMissing as e:
            found[name] = str(e)
    return found


def _run(cmd: list) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in cmd], capture_output=True)


def _fail(name: str, args, proc: subprocess.CompletedProcess):
    raise subprocess.CalledProcessError(
        proc.returncode, [name, *map(str, args)], proc.stdout, proc.stderr
    )


def run_ffmpeg(args):
    # -threads 1 before the input: frame-threaded decoding of damaged streams is not
    # deterministic (demo.ogv gave another Video-Code on every run); ISCC work runs one file per
    # process anyway, and one decoding thread is as fast on such files.
    proc = _run([find_tool("ffmpeg"), "-max_error_rate", "1.0", "-threads", "1", *args])
    if proc.returncode:
        _fail("ffmpeg", args, proc)
    return proc


def run_ffprobe(args):
    proc = _run([find_tool("ffprobe"), *args])
    if proc.returncode:
        _fail("ffprobe", args, proc)
    return proc


def _duration(path) -> float:
    proc = run_ffprobe(["-v", "error", "-show_entries", "format=duration", "-of", "json", path])
    try:
        return round(float(json.loads(proc.stdout)["format"]["duration"]), 2)
    except (KeyError, ValueError, TypeError):
        return 0.0


def run_fpcalc(args):
    args = list(args)
    proc = _run([find_tool("fpcalc"), *args])
    try:
        result = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        result = None
    if result and result.get("fingerprint"):
        if proc.returncode:
            log.debug("fpcalc exit %s with a valid fingerprint: %s", proc.returncode, proc.stderr)
        return subprocess.CompletedProcess(proc.args, 0, json.dumps(result).encode(), proc.stderr)
    if b"Empty fingerprint" in proc.stderr:
        # Too short for chromaprint's analysis window: no features to fingerprint.
        result = {"duration": _duration(args[-1]), "fingerprint": []}
        log.info("fpcalc found no fingerprint in %s (too short): empty Audio-Code", args[-1])
        return subprocess.CompletedProcess(proc.args, 0, json.dumps(result).encode(), proc.stderr)
    _fail("fpcalc", args, proc)


def wire():
    """Point iscc-sdk at our runners. Idempotent; called where ISCC work runs."""
    global _wired
    if _wired:
        return
    with _lock:
        import iscc_sdk as idk
        from loguru import logger

        logger.disable("iscc_sdk")  # its DEBUG lines would flood notebooks and server logs
        idk.run_ffmpeg = run_ffmpeg
        idk.run_ffprobe = run_ffprobe
        idk.run_fpcalc = run_fpcalc
        for name in ("run_ffmpeg", "run_ffprobe", "run_fpcalc"):
            setattr(idk.tools, name, globals()[name])
        _wired = True


_capture_lock = threading.RLock()
_capturing = 0  # depth: nested calls capture once


def _flush_python_stderr() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


@contextmanager
def native_stderr():
    """Catch what native code writes to file descriptor 2 while the block runs: known noise
    (`NATIVE_NOISE`) goes to the `iscc_lab.native` logger at debug level only, other lines are
    logged and then written on to stderr unchanged. Nested uses capture once; where the process
    has no fd 2 the block just runs."""
    global _capturing
    with _capture_lock:
        if _capturing:
            _capturing += 1
            try:
                yield
            finally:
                _capturing -= 1
            return
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all (e.g. a detached process)
            yield
            return
        _flush_python_stderr()
        sink = tempfile.TemporaryFile()
        os.dup2(sink.fileno(), 2)
        _capturing = 1
        try:
            yield
        finally:
            _capturing = 0
            _flush_python_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured = sink.read(_CAPTURE_LIMIT + 1)
            sink.close()
            if captured:
                _route(captured)


def _route(captured: bytes) -> None:
    cut = len(captured) > _CAPTURE_LIMIT
    kept = []
    for line in captured[:_CAPTURE_LIMIT].decode("utf-8", "replace").splitlines(keepends=True):
        if not line.strip():
            continue
        native_log.debug("native stderr: %s", line.rstrip())
        if not line.startswith(NATIVE_NOISE):
            kept.append(line)
    if cut:
        native_log.debug("native stderr: more than %d bytes, the rest is cut", _CAPTURE_LIMIT)
    if kept:
        text = "".join(kept)
        try:
            os.write(2, text.encode("utf-8", "replace") + (b"" if text.endswith("\n") else b"\n"))
        except OSError:
            pass
