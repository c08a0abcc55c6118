"""Cards and frame views: real results, escaped text, thumbnails as images."""

import iscc_samples
import pandas as pd
import pytest

import iscc_lab
from iscc_lab.display import IsccCard, frame_html


@pytest.fixture(scope="module")
def result():
    return iscc_lab.create_iscc(iscc_samples.IMAGE / "demo.jpg")


def test_create_iscc_stays_a_plain_dict(result):
    assert type(result) is dict


def test_card_shows_code_thumbnail_units_and_metadata(result):
    card = iscc_lab.card(result)
    assert isinstance(card, IsccCard)
    html = card._repr_html_()
    assert result["iscc"] in html
    assert f'<img src="{result["thumbnail"]}"' in html
    for unit in result["units"]:
        assert unit in html
    for text in ("meta", "content", "data", "instance", "image/jpeg", "200 × 133", "35393 bytes"):
        assert text in html
    assert result["iscc"] in repr(card)


def test_card_escapes_text(result):
    evil = dict(result, name="<script>alert(1)</script>", filename="a&b.jpg")
    html = iscc_lab.card(evil)._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&amp;b.jpg" in html


def test_card_only_shows_image_data_urls(result):
    html = iscc_lab.card(dict(result, thumbnail="javascript:alert(1)"))._repr_html_()
    assert "<img" not in html and "javascript:" not in html


def test_card_of_a_frame_row():
    df = iscc_lab.batch([iscc_samples.VIDEO / "demo.mp4"], workers=1, progress=False)
    html = iscc_lab.card(df.iloc[0])._repr_html_()
    assert df.loc[0, "iscc"] in html and df.loc[0, "content"] in html
    assert "60 s" in html and "176 × 144" in html and "<img" in html


def test_frame_html_renders_thumbnails():
    df = iscc_lab.batch(
        [iscc_samples.IMAGE / "demo.png", iscc_samples.TEXT / "demo.txt"], workers=1, progress=False
    )
    df.loc[1, "name"] = "<b>bold</b>"
    html = df.iscc.html()._repr_html_()
    assert html.count("<img") == 1  # the text has no thumbnail
    assert df.loc[0, "thumbnail"] in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert html.index("<th>thumbnail</th>") < html.index("<th>filename</th>")
    assert "<img" not in df._repr_html_()  # the plain frame stays plain
    some = frame_html(df, ["filename", "thumbnail"], max_rows=1)._repr_html_()
    assert "demo.txt" not in some and "1 more rows" in some


def test_frame_html_of_any_frame():
    df = pd.DataFrame({"iscc": ["ISCC:AAA4RJYGHHVRCZ5T"], "thumbnail": [None], "x": [1.5]})
    html = df.iscc.html()._repr_html_()
    assert "ISCC:AAA4RJYGHHVRCZ5T" in html and "1.5" in html and "<img" not in html
