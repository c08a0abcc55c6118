"""The duplicate inventory on the iscc-samples folder with planted copies (same bytes under other
names, re-encoded images, the same video in other containers, a binary file with a few bytes
changed), against a brute-force reference that compares every pair."""

from pathlib import Path

import iscc_core as ic
import iscc_samples
import matplotlib
import numpy as np
import pandas as pd
import pytest

import iscc_lab
from iscc_lab.duplicates import LEVELS, Inventory, inventory
from iscc_lab.errors import BadRequest
from tests.inventory.planted import (
    BLOBS,
    REENCODED,
    REMUXED,
    SAME_BYTES,
    groups_of,
    plant,
    reference,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    made = plant(folder)
    return folder, made


@pytest.fixture(scope="module")
def frame(planted):
    """batch() of the 55 samples and the planted files: once per session, on 2 workers."""
    _folder, made = planted
    paths = [*map(str, iscc_samples.all()), *map(str, made)]
    df = iscc_lab.batch(paths, workers=2, progress=False)
    assert df["error"].isna().all(), df.loc[df["error"].notna(), ["path", "error"]]
    return df


@pytest.fixture(scope="module")
def inv(frame):
    return iscc_lab.inventory(frame)


def _by_name(inv, folder: Path) -> dict:
    """{planted name or sample 'folder/file': row} of an inventory."""
    root = Path(iscc_samples.ROOT)
    out = {}
    for _, row in inv.iterrows():
        p = Path(row["path"])
        key = p.relative_to(folder) if p.is_relative_to(folder) else p.relative_to(root)
        out[key.as_posix()] = row
    return out


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------


def test_columns_and_one_row_per_file(frame, inv):
    assert isinstance(inv, Inventory)
    assert list(inv.columns) == [
        "path", "filename", "mediatype", "filesize",
        "instance_group", "data_group", "content_group",
    ]  # fmt: skip
    assert len(inv) == len(frame) == 55 + 13
    assert inv.index.equals(frame.index)
    assert inv["path"].tolist() == frame["path"].tolist()
    assert inv["filesize"].tolist() == [Path(p).stat().st_size for p in frame["path"]]
    for level in LEVELS:
        assert str(inv[f"{level}_group"].dtype) == "Int64"


@pytest.mark.parametrize(
    "params",
    [{}, {"content_threshold": 4, "data_threshold": 6}, {"content_threshold": 16, "bits": None}],
    ids=["defaults", "tight-content-loose-data", "wide-content-whole-length"],
)
def test_groups_equal_brute_force(frame, inv, params):
    got = inv if not params else inventory(frame, **params)
    expected = reference(frame, **params)
    for level in LEVELS:
        assert groups_of(got, level) == expected[level], level
    assert expected["instance"] and expected["data"] and expected["content"]


def test_planted_copies_land_where_they_belong(planted, inv):
    folder, _ = planted
    rows = _by_name(inv, folder)

    def same(level, a, b):
        ga, gb = rows[a][f"{level}_group"], rows[b][f"{level}_group"]
        return not pd.isna(ga) and not pd.isna(gb) and ga == gb

    for copy, original in SAME_BYTES.items():
        assert same("instance", copy, original)
        assert same("data", copy, original)
        assert same("content", copy, original)
    for copy, original in {**REENCODED, **REMUXED}.items():
        assert not same("instance", copy, original)
        assert same("content", copy, original), copy
    blob, blob_copy, edited = BLOBS
    assert same("instance", blob, blob_copy) and not same("instance", blob, edited)
    assert same("data", blob, edited)  # a few bytes changed: the same Data-Code
    for name in BLOBS:  # ISCC-SUM: no Content-Code, no content group
        assert pd.isna(rows[name]["content_group"])
    # the iscc-samples' own duplicates: demo.mpeg and demo.mpg are the same bytes
    assert same("instance", "video/demo.mpeg", "video/demo.mpg")
    assert pd.isna(rows["text/demo.sqlite"]["content_group"])  # ISCC-SUM fallback


def test_content_groups_are_near_duplicates_groups(frame, inv):
    nd = iscc_lab.near_duplicates(frame, threshold=10, on="content")
    nd_groups = {frozenset(g["path"]) for _, g in nd.dropna(subset=["group"]).groupby("group")}
    assert groups_of(inv, "content") == nd_groups


def test_ids_are_stable_and_numbered_by_first_file_name_then_path(frame, inv):
    keyed = inv.assign(key=inv["path"].map(lambda p: f"{p.rsplit('/', 1)[-1]}\x00{p}"))
    for level in LEVELS:
        col = f"{level}_group"
        firsts = keyed.dropna(subset=[col]).groupby(col)["key"].min()
        assert firsts.index.tolist() == list(range(len(firsts)))
        assert firsts.is_monotonic_increasing and firsts.is_unique
    shuffled = frame.sample(frac=1, random_state=3)
    again = inventory(shuffled)
    for level in LEVELS:
        col = f"{level}_group"
        a = inv.set_index("path")[col]
        b = again.set_index("path")[col].reindex(a.index)
        assert a.equals(b), level
    assert again.index.equals(shuffled.index)


# --------------------------------------------------------------------------------------------
# Summary and picture
# --------------------------------------------------------------------------------------------


def _freed_reference(frame, level_groups) -> int:
    """Bytes freed by keeping the largest file of each group, from the files on disk."""
    total = 0
    for group in level_groups:
        sizes = [Path(p).stat().st_size for p in group]
        total += sum(sizes) - max(sizes)
    return total


def test_summary_counts_groups_files_and_bytes(frame, inv):
    s = inv.summary()
    assert s.index.tolist() == list(LEVELS)
    assert list(s.columns) == ["groups", "files", "bytes", "bytes_freed", "meaning"]
    expected = reference(frame)
    for level in LEVELS:
        groups = expected[level]
        assert s.loc[level, "groups"] == len(groups)
        assert s.loc[level, "files"] == sum(len(g) for g in groups)
        assert s.loc[level, "bytes"] == sum(Path(p).stat().st_size for g in groups for p in g)
        assert s.loc[level, "bytes_freed"] == _freed_reference(frame, groups)
    # exact copies: every file of a group but one is freed, and they all have the same size
    exact = sum((len(g) - 1) * Path(next(iter(g))).stat().st_size for g in expected["instance"])
    assert s.loc["instance", "bytes_freed"] == exact
    assert "exactly" in s.loc["instance", "meaning"]
    for level in ("data", "content"):
        assert "candidates to review" in s.loc[level, "meaning"]
        assert "not safe to delete" in s.loc[level, "meaning"]
    assert "safe to delete" not in s.loc["instance", "meaning"].replace("not safe", "")


def test_summary_html_for_people(inv):
    s = inv.summary()
    html = s._repr_html_()
    assert html == inv.summary()._repr_html_()  # deterministic (nbval compares it)
    assert "candidates to review, not safe to delete" in html
    assert "MB" in html and "<table" in html
    assert "Content-Codes within 10 bits of their first 64" in html


def test_groups_table(inv):
    g = inv.groups("instance")
    assert g.index.name == "instance_group"
    assert g["files"].sum() == inv["instance_group"].notna().sum()
    row = g.loc[inv.loc[inv["filename"] == "demo-copy.jpg", "instance_group"].item()]
    assert row["filenames"] in ("demo.jpg, demo-copy.jpg", "demo-copy.jpg, demo.jpg")
    assert row["bytes_freed"] == (Path(iscc_samples.ROOT) / "image/demo.jpg").stat().st_size
    with pytest.raises(BadRequest, match="level"):
        inv.groups("meta")


def test_plot_shows_the_freed_bytes_and_the_group_sizes(inv, tmp_path):
    fig = inv.plot()
    left, right = fig.axes[:2]
    s = inv.summary()
    scale = {"KB": 1e3, "MB": 1e6, "GB": 1e9}[left.get_xlabel().split()[0]]
    widths = {}
    for bar in left.patches:
        y = round(bar.get_y() + bar.get_height() / 2)
        widths[y] = widths.get(y, 0) + bar.get_width()
    # bars from the top: instance, data, content
    for y, level in zip((2, 1, 0), LEVELS, strict=True):
        assert widths[y] * scale == pytest.approx(s.loc[level, "bytes_freed"], rel=1e-9)
    legend = [t.get_text() for t in left.get_legend().get_texts()]
    assert {"image", "video", "application"} <= set(legend)
    heights = {c.get_label(): sum(b.get_height() for b in c) for c in right.containers}
    for level in LEVELS:
        assert heights[level] == s.loc[level, "groups"]
    png = tmp_path / "inventory.png"
    fig.savefig(png, dpi=80)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # pandas' own plot is still there with its arguments
    ax = inv.plot(kind="scatter", x="filesize", y="filesize")
    assert ax.get_xlabel() == "filesize"


# --------------------------------------------------------------------------------------------
# Without batch(): synthetic codes, units of mixed lengths, bad input
# --------------------------------------------------------------------------------------------


def _unit(mt, st, nbits, digest: bytes) -> str:
    return ic.encode_component(mt, st, ic.VS.V0, nbits, digest)


def test_units_of_mixed_lengths_are_compared_over_their_common_length():
    rng = np.random.default_rng(5)
    data = rng.bytes(16)
    inst = rng.bytes(32)
    other = rng.bytes(16)

    def sum_code(d: bytes, i: bytes, wide: bool) -> str:
        bits = 128 if wide else 64
        units = [_unit(ic.MT.DATA, ic.ST.NONE, bits, d), _unit(ic.MT.INSTANCE, ic.ST.NONE, bits, i)]
        return ic.gen_iscc_code_v0(units, wide=wide)["iscc"]

    codes = [
        sum_code(data, inst, True),  # 128-bit Data- and Instance-Code
        sum_code(data, inst, False),  # the same, 64-bit: equal over the common 64 bits
        sum_code(data[:8] + other[8:], inst[:8] + other[8:], True),  # equal first 64 bits
        sum_code(other, other, True),
    ]
    df = pd.DataFrame({"path": ["d", "c", "b", "a"], "filesize": [10, 10, 10, 5], "iscc": codes})
    inv = inventory(df)
    assert inv["instance_group"].tolist() == [0, 0, 0, pd.NA]
    assert inv["data_group"].tolist() == [0, 0, 0, pd.NA]
    assert inv["content_group"].isna().all()
    whole = inventory(df, bits=None)  # 128 bits where both have them
    assert whole["data_group"].tolist() == [0, 0, 0, pd.NA]  # b~c over 64, c~d over 64
    assert inv["filename"].tolist() == ["d", "c", "b", "a"]
    assert inv["mediatype"].isna().all()
    assert inv.summary().loc["instance", "bytes_freed"] == 20


def test_datahash_decides_the_instance_level_over_the_whole_digest():
    rng = np.random.default_rng(6)
    prefix, d1, d2 = rng.bytes(8), rng.bytes(24), rng.bytes(24)
    inst = _unit(ic.MT.INSTANCE, ic.ST.NONE, 64, prefix)
    data = _unit(ic.MT.DATA, ic.ST.NONE, 64, rng.bytes(8))
    code = ic.gen_iscc_code_v0([data, inst])["iscc"]
    df = pd.DataFrame(
        {
            "path": ["a", "b", "c"],
            "filesize": [1, 1, 1],
            "iscc": [code] * 3,
            "datahash": ["1e20" + (prefix + d1).hex(), "1e20" + (prefix + d2).hex(), None],
        }
    )
    inv = inventory(df)
    # a and b share the first 64 bits only; c has no datahash: its 64-bit unit matches both
    assert inv["instance_group"].tolist() == [0, 0, 0]
    df.loc[2, "iscc"] = ic.gen_iscc_code_v0([data, _unit(ic.MT.INSTANCE, 0, 64, d1[:8])])["iscc"]
    assert inventory(df)["instance_group"].isna().all()
    # a datahash that is not a BLAKE3 multihash is not used: the Instance-Codes decide
    df["datahash"] = ["1e20" + "zz" * 32, "1220" + (prefix + d1).hex(), "1E20" + prefix.hex()]
    assert inventory(df)["instance_group"].tolist() == [0, 0, pd.NA]
    df["datahash"] = ["1E20" + (prefix + d1).hex().upper(), "1e20" + (prefix + d1).hex(), None]
    assert inventory(df)["instance_group"].tolist() == [0, 0, pd.NA]


def test_rows_without_a_code_are_alone_everywhere(frame):
    df = frame.head(12).copy()
    df.loc[df.index[0], "iscc"] = None
    df.loc[df.index[0], "instance"] = None
    inv = inventory(df)
    assert inv.iloc[0][["instance_group", "data_group", "content_group"]].isna().all()


def test_bad_input_is_a_bad_request_naming_it(frame):
    small = frame.head(3)
    with pytest.raises(BadRequest, match="'iscc'"):
        inventory(small.drop(columns=["iscc"]))
    with pytest.raises(BadRequest, match="'path', 'filesize'"):
        inventory(small.drop(columns=["path", "filesize"]))
    with pytest.raises(BadRequest, match="content_threshold must be at least 0"):
        inventory(small, content_threshold=-1)
    with pytest.raises(BadRequest, match="data_threshold must be at least 0"):
        inventory(small, data_threshold=-3)
    with pytest.raises(BadRequest, match="content_threshold must be a whole number"):
        inventory(small, content_threshold=2.5)
    with pytest.raises(BadRequest, match="bits must be a multiple of 8"):
        inventory(small, bits=12)
    with pytest.raises(BadRequest, match="bits must be a positive"):
        inventory(small, bits=0)
    with pytest.raises(BadRequest, match="expects a batch\\(\\) DataFrame or a Collection"):
        inventory(["ISCC:AAA"])
    broken = small.copy()
    broken.loc[broken.index[1], "iscc"] = "ISCC:NOT-A-CODE"
    with pytest.raises(BadRequest, match="Invalid ISCC|ISCC"):
        inventory(broken)
    with pytest.raises(BadRequest, match="Not an inventory: the column 'instance_group'"):
        Inventory(small[["path", "filename", "mediatype", "filesize"]]).summary()


def test_same_input_same_output(frame, inv):
    pd.testing.assert_frame_equal(pd.DataFrame(inv), pd.DataFrame(inventory(frame)))


# --------------------------------------------------------------------------------------------
# Over a Collection
# --------------------------------------------------------------------------------------------


def test_collection_inventory_equals_the_frame_inventory(frame, inv, tmp_path, monkeypatch):
    from iscc_lab.collection.catalogue import Catalogue

    col = iscc_lab.Collection(tmp_path / "archive")
    col.add(frame)

    def no_whole_rows(self, ids=None):
        raise AssertionError("inventory() read whole rows")

    monkeypatch.setattr(Catalogue, "rows", no_whole_rows)
    got = col.inventory()
    assert isinstance(got, Inventory)
    assert len(got) == len(frame)
    by_path = got.set_index("path")
    expected = inv.set_index("path").reindex(by_path.index)
    pd.testing.assert_frame_equal(pd.DataFrame(by_path), pd.DataFrame(expected))
    again = iscc_lab.inventory(col, content_threshold=4)
    assert groups_of(again, "content") == reference(frame, content_threshold=4)["content"]
    with pytest.raises(BadRequest, match="data_threshold must be at least 0"):
        col.inventory(data_threshold=-1)
    col.close()


def test_the_verb_is_public_and_lazy():
    assert iscc_lab.inventory is inventory  # the module (iscc_lab.duplicates) does not shadow it
    assert "inventory" in iscc_lab.__all__
