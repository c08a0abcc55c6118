"""Shared by the benchmarks: machine facts and writing one section of RESULTS.md."""

import datetime
import os
import platform
import re
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "RESULTS.md"


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


VERSIONED = ("iscc-sdk", "iscc-lib", "iscc-core", "iscc-sct", "c2pa-python", "numpy", "pandas")


def versions() -> str:
    """The versions a figure was measured on: the key packages and the lock they came from."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in VERSIONED:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    lock = HERE.parent / "uv.lock"
    if lock.exists():
        parts.append(f"uv.lock {hashlib.sha256(lock.read_bytes()).hexdigest()[:12]}")
    return ", ".join(parts)


def stamp() -> str:
    """Date, machine and versions, for the head of a RESULTS.md section."""
    return f"{datetime.date.today().isoformat()}, {machine()}; {versions()}"


def write_section(title: str, text: str) -> None:
    """Replace the `## title` section of RESULTS.md with `text` (other sections are kept)."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{text.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = (
        pattern.sub(lambda _: section + "\n", old)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + section
    )
    RESULTS.write_text(new.rstrip("\n") + "\n")
