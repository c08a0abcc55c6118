"""The search index of a collection: the bits of every item's units as numpy arrays, kept next
to the catalogue as .npy files and memory-mapped, so that opening a collection of a million
items reads nothing but a small manifest.

The index is a cache of the catalogue. It holds, in catalogue id order, the ids and for each
unit type (meta, semantic, content, data, instance) the `iscc_lab.hamming.Units` of the items'
ISCCs. Its manifest names the catalogue generation it was built from; when the catalogue has
moved on (an update, an add, a removal, also by another process), the next search brings it up
to date from the rows the catalogue's change journal names and the rows added since (decoding
only those), or rebuilds
it from every row in one snapshot when there is no journal that reaches back or most rows
changed. A rebuild is written into a new folder, then the manifest
is replaced atomically: a reader sees the old index or the new one, never a mix; a process
killed while writing leaves a stray folder that the next rebuild removes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import numpy as np

from iscc_lab.batch.rows import UNIT_TYPES
from iscc_lab.collection.catalogue import REMOVED, Catalogue
from iscc_lab.hamming import Units, decode

__all__ = ["Index"]
_FOLDER = "index"
_MANIFEST = "manifest.json"


class Index:
    """The index of `catalogue`, persisted in `<collection>/index/`."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.folder: Path = catalogue.folder / _FOLDER
        self._guard = threading.RLock()
        self._generation: int | None = None
        self._ids: np.ndarray | None = None
        self._units: dict[str, Units] = {}
        self._dir: Path | None = None
        self._memory: dict | None = None  # an index that could not be written (read-only)

    def get(self, unit_types) -> tuple[np.ndarray, dict[str, Units]]:
        """(ids, {unit type: units}) of every item, fresh for the catalogue as it is now, all
        from one generation."""
        with self._guard:
            generation = self.catalogue.generation()
            if generation != self._generation:
                self._open(generation)
            for unit_type in unit_types:
                if unit_type not in self._units:
                    try:
                        self._units[unit_type] = self._unit_arrays(unit_type)
                    except FileNotFoundError:  # another process replaced the index meanwhile
                        self._open(generation)
                        return self.get(unit_types)
            return self._ids, {t: self._units[t] for t in unit_types}

    def _unit_arrays(self, unit_type: str) -> Units:
        if self._memory is not None:
            return self._memory[unit_type]
        return Units(*(self._load(f"{unit_type}.{part}") for part in ("kind", "nbits", "words")))

    def _load(self, name: str) -> np.ndarray:
        return np.load(self._dir / f"{name}.npy", mmap_mode="r")

    def _open(self, generation: int) -> None:
        memory, self._units, self._memory = self._memory, {}, None
        manifest = self._manifest()
        if manifest and manifest.get("generation") == generation:
            self._dir = self.folder / manifest["dir"]
            try:
                self._ids = self._load("ids")
                self._generation = generation
                return
            except (OSError, ValueError):  # removed or damaged: build it again
                manifest = None
        if not self._refresh(manifest, memory):
            self._rebuild()

    def _manifest(self) -> dict | None:
        try:
            return json.loads((self.folder / _MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def _refresh(self, manifest: dict | None, memory: dict | None) -> bool:
        """Bring the last index (on disk, or this process's in memory) up to date from the rows
        the catalogue's journal names as changed since; False when that cannot be done (no
        index, no journal that reaches back, or so many changes that a rebuild is cheaper)."""
        try:
            if memory is not None and self._ids is not None and self._generation is not None:
                since, ids, base = self._generation, np.asarray(self._ids), memory
            elif manifest:
                since, self._dir = int(manifest["generation"]), self.folder / manifest["dir"]
                ids = self._load("ids")
                base = {t: self._unit_arrays(t) for t in UNIT_TYPES}
            else:
                return False
        except (OSError, ValueError, KeyError, TypeError):
            return False
        last_id = int(ids[-1]) if len(ids) else 0
        delta = self.catalogue.changes(since, last_id, limit=max(1024, len(ids) // 2))
        if delta is None:
            return False
        generation, changed_ids, codes = delta
        if not changed_ids and memory is None:  # written without changing an item: same arrays
            try:
                if self._manifest() == manifest:  # not replaced by another process meanwhile
                    self._publish(generation, manifest["dir"], len(ids))
                    self.catalogue.forget_changes(generation)
            except OSError:  # a read-only folder: this process knows the index is fresh
                pass
            self._ids, self._generation, self._units = ids, generation, dict(base)
            return True
        changed = np.asarray(changed_ids, dtype=np.int64)
        present = np.array([c != REMOVED for c in codes], dtype=bool)
        fresh_ids = changed[present]
        fresh = decode([c for c in codes if c != REMOVED], UNIT_TYPES)
        keep = ~np.isin(ids, changed)
        kept_ids = np.asarray(ids)[keep]
        new_ids = np.concatenate([kept_ids, fresh_ids])
        in_order = not len(kept_ids) or not len(fresh_ids) or fresh_ids[0] > kept_ids[-1]
        order = None if in_order else np.argsort(new_ids, kind="stable")
        units = {}
        for t in UNIT_TYPES:
            joined = Units.concat([base[t].take(keep), fresh[t]])
            units[t] = joined if order is None else joined.take(order)
        self._store(generation, new_ids if order is None else new_ids[order], units)
        return True

    def _rebuild(self) -> None:
        generation, ids, codes = self.catalogue.codes()
        self._store(generation, np.asarray(ids, dtype=np.int64), decode(codes, UNIT_TYPES))

    def _store(self, generation: int, ids: np.ndarray, units: dict[str, Units]) -> None:
        """Make `units` of `generation` the index: written to disk, or kept in memory when the
        collection is read-only. A written index lets the catalogue forget its journal so far."""
        self._memory = None
        try:
            self._write(generation, ids, units)
        except OSError:  # a read-only collection: keep the index in memory
            self._memory = units
            self._dir = None
        self._ids = ids if self._memory is not None else self._load("ids")
        self._generation = generation
        self._units = {}
        if self._memory is None:
            self.catalogue.forget_changes(generation)

    def _publish(self, generation: int, name: str, n: int) -> None:
        """Point the manifest at the index in folder `name`, as of `generation` (atomically)."""
        if self.catalogue.readonly:
            raise OSError("read-only")
        manifest = self.folder / f".{_MANIFEST}.{uuid.uuid4().hex}.tmp"
        manifest.write_text(json.dumps({"generation": generation, "dir": name, "n": n}))
        os.replace(manifest, self.folder / _MANIFEST)
        self._dir = self.folder / name

    def _write(self, generation: int, ids: np.ndarray, units: dict[str, Units]) -> None:
        if self.catalogue.readonly:
            raise OSError("read-only")
        self.folder.mkdir(exist_ok=True)
        name = f"g{generation}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.mkdir()
        try:
            arrays = {"ids": ids}
            for t, u in units.items():
                arrays.update({f"{t}.kind": u.kind, f"{t}.nbits": u.nbits, f"{t}.words": u.words})
            for key, array in arrays.items():
                with open(tmp / f"{key}.npy", "wb") as f:
                    np.save(f, np.ascontiguousarray(array))
                    f.flush()
                    os.fsync(f.fileno())
            os.rename(tmp, self.folder / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._publish(generation, name, len(ids))
        for old in self.folder.iterdir():  # earlier indexes and interrupted writes
            if old.name not in (name, _MANIFEST) and not old.name.startswith(f".{_MANIFEST}"):
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
