import pytest

from iscc_lab import BadRequest, Unprocessable, embed_metadata, extract_metadata


def test_extract_only_present_fields(demo_jpg):
    assert extract_metadata(demo_jpg) == {"name": "Concentrated Cat", "creator": "Some Cat Lover"}


def test_extract_from_a_document():
    import iscc_samples

    found = extract_metadata(iscc_samples.TEXT / "demo.docx")
    assert found["name"] == "title from metadata"


def test_embed_makes_a_copy_and_a_new_iscc(demo_jpg, tmp_path):
    before = demo_jpg.read_bytes()
    fields = {"name": "The Never Ending Story", "creator": "Joanne K. Rowling", "keywords": ["cat", "story"]}
    path, result = embed_metadata(demo_jpg, fields, "test-image.jpg", outpath=tmp_path / "out.jpg")
    assert demo_jpg.read_bytes() == before  # the original is never modified
    assert path == tmp_path / "out.jpg" and path.read_bytes() != before
    assert result["name"] == "The Never Ending Story"
    assert "Joanne K. Rowling" in result["creator"]
    assert result["iscc"].startswith("ISCC:KECTN76LTY")  # the contract's Meta-Code prefix
    assert extract_metadata(path)["name"] == "The Never Ending Story"


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"name": "x" * 129}, "name"),
        ({"description": "x" * 4097}, "description"),
        ({"meta": "not a data url"}, "Data-URL"),
        ({"meta": "data:application/json;base64," + "A" * 16400}, "meta"),
        ({"name": 5}, "name"),
        ({"colour": "red"}, "colour"),
        ({"keywords": [1, 2]}, "keywords"),
        ({}, "No metadata"),
        ([], "object"),
    ],
)
def test_embed_refuses_bad_metadata(demo_jpg, fields, problem):
    with pytest.raises(BadRequest, match=problem):
        embed_metadata(demo_jpg, fields)


def test_embed_into_unsupported_media_is_unprocessable(demo_bmp):
    with pytest.raises(Unprocessable):
        embed_metadata(demo_bmp, {"name": "x"}, "test-image.bmp")
