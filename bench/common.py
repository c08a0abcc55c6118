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


def stamp() -> str:
    return f"{datetime.date.today().isoformat()}, {machine()}"


def write_section(title: str, text: str) -> None:
    """Replace the `## title` section of RESULTS.md with `text` (other sections are kept)."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{text.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: section + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(new.rstrip("\n") + "\n")
