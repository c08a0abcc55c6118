"""The duplicate inventory of an archive: which files are duplicated, in which way, and what it
costs. `inventory()` labels every file with three groups:

- `instance_group`: the same bytes (equal Instance-Codes, compared over their full length);
- `data_group`: Data-Codes within `data_threshold` bits (0: equal);
- `content_group`: Content-Codes of the same kind within `content_threshold` bits, single-link
  (a chain a~b~c is one group). Files without a Content-Code (the ISCC-SUM fallback of
  unsupported files) have no content group.

Data- and Content-Codes are compared as `near_duplicates` compares them: over the common bit
length of the two units, at most `bits` (default 64). The pairs come from the exact kernels of
`iscc_lab.hamming`; a threshold of 0 is a sort, not a join.

Group ids are stable: groups are numbered 0, 1, ... in the order of the first file of each
group by (file name, path) (rows without a path after those with one, by position), so the same
files give the same ids whatever order the rows come in and wherever the archive is mounted. A file alone at a level has <NA> there.

The result is an `Inventory` (a DataFrame) with `.summary()` (per level: groups, files, and the
bytes that keeping one file per group would free; exact for the instance level, candidates to
review for the data and content levels) and `.plot()` (a matplotlib picture of those bytes per
mediatype and of the sizes of the groups).
"""

from __future__ import annotations

import iscc_core as ic
import numpy as np
import pandas as pd

from iscc_lab import hamming
from iscc_lab.batch.rows import string_dtype
from iscc_lab.display import esc, human_size, table
from iscc_lab.errors import BadRequest

__all__ = [
    "COLUMNS",
    "DEFAULT_CONTENT_THRESHOLD",
    "DEFAULT_DATA_THRESHOLD",
    "LEVELS",
    "NEEDED",
    "Inventory",
    "InventorySummary",
    "inventory",
    "inventory_of",
    "plot_inventory",
]

#: The levels of the inventory, from the strictest to the loosest.
LEVELS = ("instance", "data", "content")
#: Default of `inventory(content_threshold=...)`: kmapper-iscc-scan's 10 of 64 bits.
DEFAULT_CONTENT_THRESHOLD = 10
#: Default of `inventory(data_threshold=...)`: equal Data-Codes.
DEFAULT_DATA_THRESHOLD = 0
#: The columns a source frame must have (`filename`, `mediatype`, `datahash` and `instance` are
#: used when present: else the file name from the path, no mediatype, the `iscc`'s Instance-Code).
NEEDED = ("path", "filesize", "iscc")
#: The columns of an inventory.
COLUMNS = (
    "path", "filename", "mediatype", "filesize", "instance_group", "data_group", "content_group",
)  # fmt: skip
_MEANING = {
    "instance": "same bytes: keeping one copy per group frees exactly this",
    "data": "similar data: candidates to review, not safe to delete",
    "content": "similar content: candidates to review, not safe to delete",
}
_COLORS = {"instance": "#1b9e77", "data": "#d95f02", "content": "#7570b3"}
_SIZE_BINS = ((2, 2, "2"), (3, 3, "3"), (4, 4, "4"), (5, 9, "5-9"), (10, 99, "10-99"))


# --------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------


def _mask(length: int) -> np.uint64:
    """A word keeping its first `length` (1..64) bits."""
    return np.uint64(((1 << length) - 1) << (64 - length)) if length < 64 else ~np.uint64(0)


def _equal_roots(units: hamming.Units, bits: int | None) -> np.ndarray:
    """Single-link groups of rows whose units are equal over their common bit length (at most
    `bits`): each row's root. A sort per distinct unit length instead of a join.

    Rows of length L are equal to rows of length >= L whose first L bits are theirs: sorting
    all those rows by (kind, first L bits) puts each such set together, and every member of a
    set that holds a row of length L is linked to the set's first row.
    """
    n = len(units)
    present = units.kind != hamming.NONE
    eff = np.minimum(units.nbits.astype(np.int64), 1 << 30 if bits is None else int(bits))
    chunks = []
    for length in np.unique(eff[present]).tolist():
        if length <= 0:
            continue
        members = np.flatnonzero(present & (eff >= length))
        columns = [units.kind[members].astype(np.uint64)]
        for w in range(-(-length // 64)):
            columns.append(units.words[w, members] & _mask(min(64, length - 64 * w)))
        order = np.lexsort(columns[::-1])
        rows = members[order]
        keys = np.stack([c[order] for c in columns], axis=1)
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (keys[1:] != keys[:-1]).any(axis=1)
        gid = np.cumsum(new) - 1
        has_short = np.bincount(gid, weights=eff[rows] == length) > 0
        link = has_short[gid] & ~new
        chunks.append(np.stack([rows[new][gid[link]], rows[link]], axis=1))
    return hamming.components(n, chunks)


def _roots(units: hamming.Units, threshold: int, bits: int | None) -> np.ndarray:
    if threshold == 0:
        return _equal_roots(units, bits)
    pairs = hamming.near_pairs({"unit": units}, ("unit",), int(threshold), bits)
    return hamming.components(len(units), pairs)


def _path_rank(paths: pd.Series) -> np.ndarray:
    """Each row's position in the order of (file name, path, row), rows without a path last.

    The file name comes first so that the order, and so the group ids, stay the same when the
    archive is read from another place (another mount point or folder)."""
    n = len(paths)
    missing = paths.isna().to_numpy()
    rank = np.empty(n, dtype=np.int64)
    known = np.flatnonzero(~missing)
    values = pd.Series(paths.to_numpy()[known], dtype=string_dtype())  # arrow: a C++ sort
    names = values.str.replace("\\", "/", regex=False).str.rsplit("/", n=1).str[-1]
    order = known[(names + "\x00" + values).argsort(kind="stable").to_numpy()]
    rank[order] = np.arange(len(order))
    rank[missing] = np.arange(len(order), n)
    return rank


def _stable_ids(roots: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Group numbers 0, 1, ... in the order of each group's smallest `rank` (a rank for every
    row in a group); -1 for a row alone."""
    n = len(roots)
    sizes = np.bincount(roots, minlength=n)
    grouped = sizes[roots] >= 2
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, roots[grouped], rank[grouped])
    heads = np.flatnonzero((roots == np.arange(n)) & (sizes >= 2))
    number = np.full(n, -1, dtype=np.int64)
    number[heads[np.argsort(first[heads], kind="stable")]] = np.arange(len(heads))
    return np.where(grouped, number[roots], -1)


def _grouped(roots: np.ndarray) -> np.ndarray:
    return np.bincount(roots, minlength=len(roots))[roots] >= 2


# --------------------------------------------------------------------------------------------
# The verb
# --------------------------------------------------------------------------------------------


def _threshold(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise BadRequest(f"{name} must be a whole number of bits, got {value!r}.")
    if value < 0:
        raise BadRequest(f"{name} must be at least 0, got {value}.")
    return int(value)


def _bits(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise BadRequest(f"bits must be a positive number of bits or None, got {value!r}.")
    if value % 8:
        raise BadRequest(f"bits must be a multiple of 8, got {value}.")
    return int(value)


def _codes(column: pd.Series) -> list:
    """The values of a code column as str, None where missing."""
    values = column.astype(object)
    return values.where(column.notna(), None).tolist()


def inventory(
    source,
    *,
    content_threshold: int = DEFAULT_CONTENT_THRESHOLD,
    data_threshold: int = DEFAULT_DATA_THRESHOLD,
    bits: int | None = 64,
) -> Inventory:
    """The duplicate inventory of `source`: one row per file with its groups at three levels.

    :param source: a `batch()` DataFrame (at least `path`, `filesize` and `iscc`; `filename`,
        `mediatype` and `datahash` are used when present, and without a `datahash` the whole
        `instance` unit), or a `Collection` (then `source.inventory(...)`, which reads only the
        columns it needs).
    :param content_threshold: the largest Content-Code distance in bits within a content group
        (default 10 of 64 bits).
    :param data_threshold: the largest Data-Code distance in bits within a data group (default
        0: equal Data-Codes).
    :param bits: compare Data- and Content-Codes on at most their first `bits` bits (default 64,
        as `near_duplicates`); None: their whole common length. Instance-Codes are always
        compared over their whole common length.
    :return: an `Inventory` with the columns `path`, `filename`, `mediatype`, `filesize`,
        `instance_group`, `data_group`, `content_group` (nullable Int64: stable ids, <NA> where
        a file is alone at that level or has no such code), and the source's index.
    :raises BadRequest: naming a missing column or a bad parameter, or the first code that is
        not a valid ISCC.
    """
    content_threshold = _threshold("content_threshold", content_threshold)
    data_threshold = _threshold("data_threshold", data_threshold)
    bits = _bits(bits)
    if not isinstance(source, pd.DataFrame):
        if callable(getattr(source, "inventory", None)):  # a Collection
            return source.inventory(
                content_threshold=content_threshold, data_threshold=data_threshold, bits=bits
            )
        raise BadRequest(
            f"inventory() expects a batch() DataFrame or a Collection, got {type(source).__name__}."
        )
    missing = [c for c in NEEDED if c not in source.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise BadRequest(
            f"inventory() needs a DataFrame with the column{'s' if len(missing) > 1 else ''} "
            f"{names} (as batch() makes it)."
        )
    codes = _codes(source["iscc"])
    units = hamming.decode(codes, ("data", "content", "instance"))
    if "instance" in source.columns and "datahash" not in source.columns:
        full = _codes(source["instance"])  # the whole unit (256 bits in batch() frames)
        codes = [c if f is None else f for f, c in zip(full, codes, strict=True)]
        units["instance"] = hamming.decode(codes, ("instance",))["instance"]
    return inventory_of(
        source, units, content_threshold=content_threshold, data_threshold=data_threshold,
        bits=bits,
    )  # fmt: skip


_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)


def _with_datahash(units: hamming.Units, datahash: pd.Series) -> hamming.Units:
    """The Instance-Code units, with the whole BLAKE3 digest (256 bits) of each row whose
    `datahash` is the BLAKE3 multihash ISCC results give (`1e20` + 64 hex digits): the
    Instance-Code's hash is the first bits of that digest."""
    text = pd.Series(datahash.to_numpy(), dtype=string_dtype())
    candidate = (text.str.len() == 68) & text.str.lower().str.startswith("1e20")
    rows = np.flatnonzero(candidate.fillna(False).to_numpy(dtype=bool))
    if not len(rows):
        return units
    try:
        chars = np.array(text.iloc[rows].tolist(), dtype="S68").view(np.uint8)
    except UnicodeEncodeError:
        return units
    nibbles = _HEX[chars.reshape(len(rows), 68)[:, 4:]]
    ok = (nibbles != 255).all(axis=1)
    rows, nibbles = rows[ok], nibbles[ok]
    digest = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    words_of = np.ascontiguousarray(digest).view(">u8").astype(np.uint64)  # (m, 4)
    width = max(4, units.words.shape[0])
    words = np.zeros((width, len(units)), dtype=np.uint64)
    words[: units.words.shape[0]] = units.words
    words[:, rows] = 0
    words[:4, rows] = words_of.T
    kind = units.kind.copy()
    kind[rows] = hamming.kind_of(ic.MT.INSTANCE, ic.ST.NONE, ic.VS.V0)
    nbits = units.nbits.copy()
    nbits[rows] = 256
    return hamming.Units(kind, nbits, words)


def inventory_of(
    files: pd.DataFrame,
    units: dict[str, hamming.Units],
    *,
    content_threshold: int = DEFAULT_CONTENT_THRESHOLD,
    data_threshold: int = DEFAULT_DATA_THRESHOLD,
    bits: int | None = 64,
) -> Inventory:
    """The inventory of `files` (`path` and `filesize`; `filename`, `mediatype` and `datahash`
    when present) whose units are `units` ({"instance", "data", "content": `hamming.Units`},
    row for row): what `inventory()` returns, for callers that hold the units already (a
    `Collection` has them in its index)."""
    content_threshold = _threshold("content_threshold", content_threshold)
    data_threshold = _threshold("data_threshold", data_threshold)
    bits = _bits(bits)
    for col in ("path", "filesize"):
        if col not in files.columns:
            raise BadRequest(f"inventory() needs the column {col!r}.")
    instance = units["instance"]
    if "datahash" in files.columns:
        instance = _with_datahash(instance, files["datahash"])
    roots = {
        "instance": _equal_roots(instance, None),
        "data": _roots(units["data"], data_threshold, bits),
        "content": _roots(units["content"], content_threshold, bits),
    }
    # the path order of the rows in some group is all the ids need (sorting only those)
    some = np.flatnonzero(np.logical_or.reduce([_grouped(r) for r in roots.values()]))
    rank = np.zeros(len(files), dtype=np.int64)
    rank[some] = _path_rank(files["path"].iloc[some])
    groups = {level: _stable_ids(r, rank) for level, r in roots.items()}
    n = len(files)
    paths = files["path"]
    if "filename" in files.columns:
        filenames = files["filename"]
    else:
        filenames = paths.map(lambda p: None if pd.isna(p) else str(p).replace("\\", "/")
                              .rsplit("/", 1)[-1])  # fmt: skip
    if "mediatype" in files.columns:
        mediatypes = files["mediatype"]
    else:
        mediatypes = pd.Series([None] * n, index=files.index, dtype=object)
    text = string_dtype()
    data = {
        "path": pd.array(paths.to_numpy(), dtype=text),
        "filename": pd.array(filenames.to_numpy(), dtype=text),
        "mediatype": pd.array(mediatypes.to_numpy(), dtype=text),
        "filesize": pd.array(files["filesize"], dtype="Int64"),
    }
    for level in LEVELS:
        ids = groups[level]
        group = pd.array(np.where(ids >= 0, ids, 0), dtype="Int64")
        group[ids < 0] = pd.NA
        data[f"{level}_group"] = group
    frame = Inventory(data, index=files.index)
    frame.attrs["inventory"] = {
        "content_threshold": content_threshold,
        "data_threshold": data_threshold,
        "bits": bits,
    }
    return frame


# --------------------------------------------------------------------------------------------
# The result: summary, groups, picture
# --------------------------------------------------------------------------------------------


def _check(frame: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise BadRequest(f"Not an inventory: the column {missing[0]!r} is missing.")


def _kept(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """The grouped rows of `level` with `group`, `size` (bytes, 0 when unknown), `major` (the
    mediatype's first part) and `kept` (the one file per group kept: the largest, then the
    first by path)."""
    gid = frame[f"{level}_group"]
    rows = frame.loc[gid.notna().to_numpy()]
    size = rows["filesize"].fillna(0).astype("int64").to_numpy()
    mediatype = rows["mediatype"].astype(object)
    major = [m.partition("/")[0] if isinstance(m, str) and m else "unknown" for m in mediatype]
    out = pd.DataFrame(
        {
            "group": rows[f"{level}_group"].astype("int64").to_numpy(),
            "size": size,
            "major": np.array(major, dtype=object),
            "rank": _path_rank(rows["path"]),
        }
    )
    order = np.lexsort((out["rank"].to_numpy(), -out["size"].to_numpy(), out["group"].to_numpy()))
    first = np.ones(len(order), dtype=bool)
    g = out["group"].to_numpy()[order]
    first[1:] = g[1:] != g[:-1]
    kept = np.zeros(len(out), dtype=bool)
    kept[order[first]] = True
    out["kept"] = kept
    return out


def _summary(frame: pd.DataFrame) -> pd.DataFrame:
    _check(frame)
    rows = []
    for level in LEVELS:
        k = _kept(frame, level)
        rows.append(
            {
                "level": level,
                "groups": int(k["group"].nunique()),
                "files": len(k),
                "bytes": int(k["size"].sum()),
                "bytes_freed": int(k.loc[~k["kept"], "size"].sum()),
                "meaning": _MEANING[level],
            }
        )
    out = InventorySummary(pd.DataFrame(rows).set_index("level"))
    out.attrs["inventory"] = dict(frame.attrs.get("inventory", {}))
    return out


class InventorySummary(pd.DataFrame):
    """Per level (instance, data, content): `groups`, `files` (in groups), `bytes` (of those
    files), `bytes_freed` (what keeping one file per group, the largest, would free) and
    `meaning`. Instance groups are the same bytes: their figure is exact. Data and content
    groups are candidates to review, never safe to delete unseen. In a notebook it renders as a
    table with sizes for people."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        params = self.attrs.get("inventory", {})
        rows = [
            [
                level,
                f"{int(r['groups']):,}",
                f"{int(r['files']):,}",
                human_size(r["bytes"]),
                human_size(r["bytes_freed"]),
                r["meaning"],
            ]
            for level, r in self.iterrows()
        ]
        head = ["level", "groups", "files in groups", "their bytes", "keeping one per group frees",
                "what it means"]  # fmt: skip
        note = "Levels overlap: a file with an exact copy is counted at every level it is in."
        if params:
            note += (
                f" Data-Codes within {params['data_threshold']} bits, Content-Codes within "
                f"{params['content_threshold']} bits"
                + (f" of their first {params['bits']}." if params.get("bits") else ".")
            )
        return (
            '<div class="iscc-inventory-summary">'
            f"{table(head, rows)}"
            f'<p style="font-size:12px;margin:4px 0">{esc(note)}</p></div>'
        )


def _sizes(frame: pd.DataFrame, level: str) -> np.ndarray:
    return frame[f"{level}_group"].dropna().value_counts().to_numpy()


def plot_inventory(frame: pd.DataFrame, *, figsize=(11, 4)):
    """A matplotlib Figure of an inventory: left, the bytes that keeping one file per group
    would free, per level and mediatype (stacked bars); right, how many groups have 2, 3, 4,
    ... files, per level. Made without pyplot (no global state): a notebook shows the returned
    figure, `fig.savefig(path)` writes it."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    summary = _summary(frame)
    kept = {level: _kept(frame, level) for level in LEVELS}
    freed = {level: k.loc[~k["kept"]].groupby("major")["size"].sum() for level, k in kept.items()}
    majors = sorted({m for f in freed.values() for m in f.index})
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1.3, 1))
    total = max([int(summary.loc[level, "bytes_freed"]) for level in LEVELS] + [1])
    scale, unit = next(
        ((s, u) for s, u in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")) if total >= s),
        (1, "bytes"),
    )
    y = np.arange(len(LEVELS))[::-1]
    colors = {m: f"C{i % 10}" for i, m in enumerate(majors)}
    base = np.zeros(len(LEVELS))
    for major in majors:
        widths = np.array([freed[level].get(major, 0) for level in LEVELS], dtype=float) / scale
        left.barh(y, widths, left=base, color=colors[major], label=major, height=0.6)
        base += widths
    for yy, level in zip(y, LEVELS, strict=True):
        left.text(
            base[LEVELS.index(level)], yy, "  " + human_size(summary.loc[level, "bytes_freed"]),
            va="center", fontsize=9,
        )  # fmt: skip
    left.set_yticks(y, ["instance\n(same bytes)", "data\n(to review)", "content\n(to review)"])
    left.set_xlabel(f"{unit} that keeping one file per group would free")
    left.set_xlim(0, max(base.max(), 1e-9) * 1.25)
    left.set_title("Space taken by duplicates, per mediatype")
    if majors:
        left.legend(
            title="mediatype", fontsize=8, ncols=min(len(majors), 6), loc="upper center",
            bbox_to_anchor=(0.5, -0.2), frameon=False,
        )  # fmt: skip
    sizes = {level: _sizes(frame, level) for level in LEVELS}
    largest = max([int(s.max()) for s in sizes.values() if len(s)] + [2])
    bins = [b for b in _SIZE_BINS if b[0] <= largest]
    if largest >= 100:
        bins.append((100, largest, "100+"))
    x = np.arange(len(bins))
    width = 0.8 / len(LEVELS)
    for k, level in enumerate(LEVELS):
        counts = [int(((sizes[level] >= lo) & (sizes[level] <= hi)).sum()) for lo, hi, _ in bins]
        bars = right.bar(x + (k - 1) * width, counts, width, label=level, color=_COLORS[level])
        right.bar_label(bars, [str(c) if c else "" for c in counts], fontsize=8)
    right.set_xticks(x, [b[2] for b in bins])
    right.set_xlabel("files in the group")
    right.set_ylabel("groups")
    right.set_title("Sizes of the groups")
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylim(0, right.get_ylim()[1] * 1.1)
    right.legend(title="level", fontsize=8)
    files = len(frame)
    fig.suptitle(
        f"Duplicate inventory of {files:,} files ({human_size(frame['filesize'].fillna(0).sum())})"
    )
    return fig


class _Plot:
    """`inv.plot()`: the inventory's picture; with pandas' arguments (`inv.plot(kind=...)`,
    `inv.plot.bar(...)`), pandas' plot of the frame."""

    def __init__(self, frame: Inventory):
        self._frame = frame

    def _pandas(self):
        return pd.plotting.PlotAccessor(pd.DataFrame(self._frame))

    def __call__(self, *args, **kwargs):
        if args or set(kwargs) - {"figsize"}:
            return self._pandas()(*args, **kwargs)
        return plot_inventory(self._frame, **kwargs)

    def __getattr__(self, name):
        return getattr(self._pandas(), name)


class Inventory(pd.DataFrame):
    """The result of `inventory()`: a DataFrame, one row per file, with `summary()`,
    `groups(level)` and `plot()`. Frames derived from it (slices, copies) are plain
    DataFrames."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def summary(self) -> InventorySummary:
        """Per level: groups, files in them, their bytes and the bytes keeping one file per
        group would free (see `InventorySummary`)."""
        return _summary(self)

    def groups(self, level: str = "content") -> pd.DataFrame:
        """The groups of `level`, one row each (by id): `files`, `bytes`, `bytes_freed` and
        `filenames` (in path order)."""
        if level not in LEVELS:
            raise BadRequest(f"level: expected one of {', '.join(LEVELS)}, got {level!r}.")
        k = _kept(self, level)
        rows = self.loc[self[f"{level}_group"].notna().to_numpy()]
        k["filename"] = rows["filename"].astype(object).to_numpy()
        k["freed"] = np.where(k["kept"], 0, k["size"])
        k = k.sort_values(["group", "rank"])
        by = k.groupby("group")
        out = pd.DataFrame(
            {
                "files": by.size(),
                "bytes": by["size"].sum(),
                "bytes_freed": by["freed"].sum(),
                "filenames": by["filename"].agg(lambda s: ", ".join(map(str, s))),
            }
        )
        out.index.name = f"{level}_group"
        return out

    @property
    def plot(self):
        return _Plot(self)
