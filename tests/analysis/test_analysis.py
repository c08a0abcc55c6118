"""explain_frame(), compare(), near_duplicates() and the df.iscc accessor, on real codes."""

import iscc_core as ic
import iscc_samples
import numpy as np
import pandas as pd
import pytest

import iscc_lab
from iscc_lab.errors import BadRequest

EXPLAIN_CODE = "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"
IMAGES = ["demo.jpg", "demo.png", "demo.bmp", "demo.gif", "demo.tif", "demo.psd"]
DISTANCES = ["meta", "semantic", "content", "data", "instance"]


@pytest.fixture(scope="module")
def media():
    """The six image formats of the same picture, a text and two videos."""
    files = [iscc_samples.IMAGE / n for n in IMAGES]
    files += [iscc_samples.TEXT / "demo.txt", iscc_samples.TEXT / "demo.docx"]
    files += [iscc_samples.VIDEO / "demo.mp4", iscc_samples.VIDEO / "demo.webm"]
    df = iscc_lab.batch(files, workers=2, progress=False)
    assert df["error"].isna().all()
    return df


def test_explain_frame_of_the_contract_example():
    df = iscc_lab.explain_frame(EXPLAIN_CODE)
    assert list(df.columns) == ["code", "unit", "unit_type", "readable", "hash_hex", "bits"]
    assert len(df) == 4
    # iscc-core: META, SEMANTIC (video), DATA, INSTANCE; no Content-Code in this one.
    assert df["unit_type"].tolist() == ["meta", "semantic", "data", "instance"]
    assert df["unit"].tolist()[0] == "ISCC:AAA4RJYGHHVRCZ5T"
    assert df["readable"].tolist()[1] == "SEMANTIC-VIDEO-V0-64-67a9c3787c65c1e5"
    assert df["hash_hex"].tolist()[0] == "c8a70639eb1167b3"
    assert df["bits"].tolist() == [64, 64, 64, 64]
    assert (df["code"] == EXPLAIN_CODE).all()


def test_explain_frame_of_lists_series_and_frames(media):
    codes = media["iscc"].tolist()[:2]
    by_list = iscc_lab.explain_frame(codes)
    assert len(by_list) == 8 and by_list["code"].unique().tolist() == codes
    by_series = iscc_lab.explain_frame(pd.Series([codes[0], None]))
    assert len(by_series) == 4
    by_accessor = media.iscc.explain()
    assert len(by_accessor) == 4 * len(media)
    # a 256-bit unit explains as itself
    unit = iscc_lab.explain_frame(media.loc[0, "content"])
    assert unit["unit_type"].tolist() == ["content"] and unit["bits"].tolist() == [256]
    with pytest.raises(BadRequest):
        iscc_lab.explain_frame("ISCC:NOTACODE")


def test_compare_two_images_is_near_on_content(media):
    jpg, png = media.loc[0, "iscc"], media.loc[1, "iscc"]
    df = iscc_lab.compare(jpg, png)
    assert len(df) == 1
    assert list(df.columns) == ["a", "b", *DISTANCES, "instance_match"]
    row = df.iloc[0]
    assert (row["a"], row["b"]) == (jpg, png)
    assert row["content"] <= 12
    assert row["data"] > 12  # other bytes
    assert not row["instance_match"]
    assert np.isnan(row["semantic"])  # neither has a Semantic-Code
    # the same distances as iscc-core's iscc_compare
    ref = ic.iscc_compare(jpg, png)
    assert row["meta"] == ref["meta_dist"] and row["content"] == ref["content_dist"]
    assert row["data"] == ref["data_dist"]
    assert bool(row["instance_match"]) == ref["instance_match"]


def test_compare_with_itself_is_zero(media):
    code = media.loc[0, "iscc"]
    row = iscc_lab.compare(code, code).iloc[0]
    for unit_type in ("meta", "content", "data", "instance"):
        assert row[unit_type] == 0
    assert row["instance_match"]


def test_compare_units_of_different_lengths_on_their_common_prefix(media):
    code, unit256 = media.loc[0, "iscc"], media.loc[0, "content"]
    row = iscc_lab.compare(code, unit256).iloc[0]
    assert row["content"] == 0  # the ISCC-CODE's 64-bit content unit is the unit's prefix
    assert np.isnan(row["meta"]) and pd.isna(row["instance_match"])
    png256 = media.loc[1, "content"]
    full = iscc_lab.compare(unit256, png256).iloc[0]["content"]
    first64 = iscc_lab.compare(unit256, png256, bits=64).iloc[0]["content"]
    assert first64 == iscc_lab.compare(code, media.loc[1, "iscc"]).iloc[0]["content"]
    assert full >= first64


def test_compare_all_pairs_and_frames(media):
    df = iscc_lab.compare(media)
    n = len(media)
    assert len(df) == n * (n - 1) // 2
    assert df.index.names == ["a_index", "b_index"]
    assert all(i < j for i, j in df.index)
    # image vs text: contents are not comparable (other sub types)
    assert np.isnan(df.loc[(0, 6), "content"])
    assert df.loc[(0, 6), "data"] >= 0 and not df.loc[(0, 6), "instance_match"]
    # videos in two containers: near on content
    assert df.loc[(8, 9), "content"] <= 12
    cross = media.iscc.compare(media.iloc[:2])
    assert len(cross) == 2 * n
    assert (cross.xs(0, level="a_index").loc[0, DISTANCES[2:]] == 0).all()
    assert df.equals(media.iscc.compare())


def test_compare_skips_missing_codes():
    df = iscc_lab.compare([EXPLAIN_CODE, None])
    assert len(df) == 1 and df[DISTANCES].isna().all(axis=None) and pd.isna(df.iloc[0]["b"])


def test_near_duplicates_groups_the_image_formats(media):
    out = iscc_lab.near_duplicates(media)
    assert out is not media and "group" not in media.columns
    assert str(out["group"].dtype) == "Int64"
    images = out.loc[out["filename"].isin(IMAGES), "group"]
    assert images.notna().all() and images.nunique() == 1
    text = out.loc[out["filename"] == "demo.txt", "group"].iloc[0]
    assert pd.isna(text) or text not in set(images)
    videos = out.loc[out["filename"].isin(["demo.mp4", "demo.webm"]), "group"]
    assert videos.notna().all() and videos.nunique() == 1 and videos.iloc[0] != images.iloc[0]
    assert out["group"].dropna().min() == 0  # numbered from 0 by first row


def test_near_duplicates_options(media):
    # threshold 0 on instance: only identical files, none here
    assert iscc_lab.near_duplicates(media, threshold=0, on="instance")["group"].isna().all()
    # content and data both near: the formats differ in their bytes
    assert iscc_lab.near_duplicates(media, on=("content", "data"))["group"].isna().all()
    via_accessor = media.iscc.near_duplicates(threshold=12)
    assert via_accessor["group"].equals(iscc_lab.near_duplicates(media)["group"])
    from_list = iscc_lab.near_duplicates(media["iscc"].tolist())
    assert from_list["group"].tolist() == via_accessor["group"].tolist()
    with pytest.raises(BadRequest):
        iscc_lab.near_duplicates(media, on="colour")


def test_accessor_needs_an_iscc_column():
    df = pd.DataFrame({"path": ["a.jpg"]})
    with pytest.raises(AttributeError, match="'iscc' column"):
        df.iscc  # noqa: B018
    assert not hasattr(df, "iscc")
