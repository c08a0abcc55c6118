"""A persistent collection: a catalogue of ISCCs (SQLite) with incremental updates, exact
similarity search and near-duplicate groups at a million items. See `Collection`.

`catalogue` is the embedded store, `index` the memory-mapped unit bits that search reads,
`collection` the `Collection` verbs; the Hamming kernels are in `iscc_lab.hamming`.
"""

from iscc_lab.collection.collection import Collection

__all__ = ["Collection"]
