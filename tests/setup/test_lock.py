"""The set-up installs exactly what uv.lock says, and says what to do when it cannot.

Each test copies the project's own pyproject.toml, uv.lock and scripts/venv.sh into a temporary
folder, breaks one thing, runs the real set-up script there (with the checkout's bootstrap uv) and
reads what it says. Nothing is installed into the project's own .venv.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from importlib.metadata import distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOT = ROOT / ".bootstrap"

pytestmark = pytest.mark.skipif(
    not (BOOT / "bin" / "uv").exists(), reason="no .bootstrap/bin/uv: run `make venv` first"
)


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    (copy / "iscc_lab").mkdir(parents=True)
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    (copy / "iscc_lab" / "__init__.py").write_text("")
    return copy


def run_setup(copy: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        VENV=str(copy / ".venv"),
        BOOT=str(BOOT),
        PYTHON=getattr(sys, "_base_executable", sys.executable),
    )
    return subprocess.run(
        ["bash", "scripts/venv.sh"], cwd=copy, env=env, capture_output=True, text=True, timeout=120
    )


def lock_version(lock: str, name: str) -> str:
    return re.search(rf'\nname = "{name}"\nversion = "([^"]+)"', lock).group(1)


def test_a_locked_version_the_registry_lacks_fails_at_once_naming_it(tmp_path):
    copy = project_copy(tmp_path)
    lock = (copy / "uv.lock").read_text()
    old = lock_version(lock, "six")
    start = lock.index(f'\nname = "six"\nversion = "{old}"')
    end = lock.index("[[package]]", start)
    (copy / "uv.lock").write_text(
        lock[:start] + lock[start:end].replace(old, "1.99.0") + lock[end:]
    )
    began = time.monotonic()
    done = run_setup(copy)
    assert done.returncode != 0
    assert time.monotonic() - began < 60
    assert "six==1.99.0" in done.stderr
    assert "make lock" in done.stderr


def test_a_lock_older_than_pyproject_is_refused_with_make_lock(tmp_path):
    copy = project_copy(tmp_path)
    pyproject = (copy / "pyproject.toml").read_text()
    (copy / "pyproject.toml").write_text(
        pyproject.replace('"pebble>=5.1",', '"pebble>=5.1",\n    "packaging>=20",', 1)
    )
    done = run_setup(copy)
    assert done.returncode != 0
    assert "does not match pyproject.toml" in done.stderr
    assert "make lock" in done.stderr
    assert not (copy / ".venv" / "lib").exists() or not any(
        (copy / ".venv" / "lib").glob("*/site-packages/pebble")
    )


def test_the_venv_holds_exactly_the_locked_versions():
    """Every package in this environment is the one uv.lock names, at its locked version."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(package["name"], set()).add(package["version"])
    norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    installed = {norm(d.metadata["Name"]): d.version for d in distributions()}
    assert "iscc-sdk" in installed and "pytest" in installed
    wrong = {
        name: (version, sorted(locked.get(name, ())))
        for name, version in installed.items()
        if version not in locked.get(name, ())
    }
    assert not wrong, f"installed, not as locked: {wrong}"
