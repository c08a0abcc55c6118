"""Set-up time on a fresh clone with empty package caches: `make venv` (uv from PyPI, installing
uv.lock) against the pip set-up it replaced (`pip install -e .` with every extra, resolving the
ranges afresh), one after the other in the same run; then a second `make venv` with nothing
changed. System packages are not counted: both would find the same Debian packages installed.

    .venv/bin/python bench/bench_setup.py
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import HERE, stamp, write_section  # noqa: E402

ROOT = HERE.parent
PYTHON = getattr(sys, "_base_executable", sys.executable)


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    began = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - began


def fresh_clone(parent: Path, name: str) -> Path:
    target = parent / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    return target


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="iscc-lab-setup-") as tmp:
        tmp = Path(tmp)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
        extras = ",".join(["test", "dask", "semantic-image"])

        pip_dir = fresh_clone(tmp, "pip")
        pip_env = dict(base, PIP_CACHE_DIR=str(tmp / "pip-cache"))
        pip_s = timed([PYTHON, "-m", "venv", ".venv"], pip_dir, pip_env)
        pip_s += timed([".venv/bin/pip", "install", "-q", "--upgrade", "pip"], pip_dir, pip_env)
        pip_s += timed([".venv/bin/pip", "install", "-q", "-e", f".[{extras}]"], pip_dir, pip_env)
        pip_count = len(
            subprocess.run(
                [".venv/bin/pip", "list", "--format=freeze"],
                cwd=pip_dir,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
        )

        uv_dir = fresh_clone(tmp, "uv")
        uv_env = dict(
            base, PIP_CACHE_DIR=str(tmp / "pip-cache-uv"), UV_CACHE_DIR=str(tmp / "uv-cache")
        )
        uv_s = timed(["make", "-s", "venv"], uv_dir, uv_env)
        again_s = timed(["make", "-s", "venv"], uv_dir, uv_env)
        uv_count = len(
            subprocess.run(
                [".bootstrap/bin/uv", "pip", "list", "--python", ".venv/bin/python"],
                cwd=uv_dir,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()[2:]
        )
        load = os.getloadavg()

    ratio = uv_s / pip_s
    text = f"""
Measured {stamp()}, by `bench/bench_setup.py`: a fresh clone of main with empty package caches
(pip's and uv's), one set-up after the other in the same run; system packages not counted.
Load average (1/5/15 min) at the end: {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}.

| set-up | packages | seconds |
|---|---:|---:|
| pip: `python -m venv`, upgrade pip, `pip install -e ".[{extras}]"` (resolving the ranges) | {pip_count} | {pip_s:.1f} |
| `make venv`: uv {os.environ.get("UV_VERSION", "0.13.9")} from PyPI into `.bootstrap`, then `uv sync --locked --all-extras` | {uv_count} | {uv_s:.1f} |
| **`make venv` / pip** | | **{ratio:.2f}** (target: at most 0.50: {"met" if ratio <= 0.5 else "NOT met"}) |
| a second `make venv`, nothing changed | | {again_s:.2f} |
"""
    write_section("Set-up: make venv (uv, locked) vs pip", text)
    print(text)


if __name__ == "__main__":
    main()
