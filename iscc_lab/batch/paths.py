"""Collecting the paths of a batch: folders, glob patterns, single files, lists and Series."""

from __future__ import annotations

import glob
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from iscc_lab.errors import BadRequest

__all__ = ["SORT_LIMIT", "collect_paths", "largest_first"]

SORT_LIMIT = 100_000  # submit the largest files first up to this many files


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(folder: Path) -> list[Path]:
    """Regular files under `folder` (symlinks are not followed), hidden files and folders
    skipped, sorted."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not _hidden(d)]
        for name in files:
            if _hidden(name):
                continue
            path = Path(root) / name
            try:
                if stat.S_ISREG(os.lstat(path).st_mode):
                    found.append(path)
            except OSError:
                continue
    return sorted(found)


def _as_path(item) -> Path | None:
    if isinstance(item, (str, os.PathLike)) and os.fspath(item):
        return Path(item)
    return None


def collect_paths(source) -> tuple[list, object | None]:
    """The paths of `source` in row order, and the index of the rows (None: a RangeIndex).

    `source` is a folder (walked recursively, regular files only, hidden files and folders
    skipped, sorted), a glob pattern (`**` recurses; matches sorted, folders dropped), a single
    file, a list (or other iterable) of paths, or a pandas Series of paths (its index is kept),
    or a DataFrame with a `path` column. Items of a list or Series are used as given (None
    where an item is not a path): a missing file gives an error row.
    """
    pd = sys.modules.get("pandas")  # a Series or DataFrame means pandas is imported already
    if pd is not None and isinstance(source, pd.DataFrame):
        if "path" not in source.columns:
            raise BadRequest("A DataFrame source needs a 'path' column.")
        source = source["path"]
    if pd is not None and isinstance(source, pd.Series):
        return [_as_path(p) for p in source.tolist()], source.index
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_dir():
            return _walk(path), None
        if path.is_file():
            return [path], None
        if isinstance(source, str) and glob.has_magic(text):
            matches = glob.glob(os.path.expanduser(text), recursive=True)
            return sorted(Path(m) for m in matches if os.path.isfile(m)), None
        raise BadRequest(f"No file, folder or glob match at {text}.")
    if isinstance(source, (bytes, bytearray)) or not isinstance(source, Iterable):
        raise BadRequest(
            "batch() takes a folder, a glob pattern, a list of paths or a Series of paths, "
            f"not {type(source).__name__}."
        )
    return [_as_path(p) for p in source], None


def largest_first(paths: list) -> list[int]:
    """The positions of `paths` with the largest files first (so that the longest jobs do not
    end up last), for lists up to SORT_LIMIT; the input order for longer lists."""
    order = list(range(len(paths)))
    if len(paths) > SORT_LIMIT:
        return order

    def size(i):
        try:
            return os.stat(paths[i]).st_size if paths[i] is not None else 0
        except (OSError, TypeError, ValueError):
            return 0

    return sorted(order, key=size, reverse=True)
