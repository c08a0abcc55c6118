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
    fields = {
        "name": "The Never Ending Story",
        "creator": "Joanne K. Rowling",
        "keywords": ["cat", "story"],
    }
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


# -- every field x every format of iscc-samples: embedded and read back, or a 422 naming both --

import functools  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import iscc_samples  # noqa: E402

from iscc_lab.metadata import embed_copy  # noqa: E402

VALUES = {
    "name": "The Never Ending Story",
    "description": "A story about a boy and a book.",
    "meta": "data:application/json;base64,eyJpc2JuIjogIjk3ODAwMDAwMDAwMDIifQ==",
    "identifier": "urn:isbn:9780000000002",
    "creator": "Joanne K. Rowling",
    "license": "https://creativecommons.org/licenses/by/4.0/",
    "acquire": "https://example.com/acquire",
    "credit": "Photo: Zoë Müller / Agentur",
    "rights": "© 2024 Example Rights Holder",
    "keywords": ["cat", "story"],
}
EVERY = tuple(VALUES)
SAMPLES = {f"{p.parent.name}/{p.name}": p for p in iscc_samples.all()}
# What each format keeps, read back from the copy (fields it cannot carry get a 422 naming them).
FULL = {"text/demo.pdf", "image/demo.jpg", "image/demo.png", "image/demo.psd", "image/demo.tif"}
AUDIO = "demo.aac demo.aif demo.mp3 demo.ogg demo.opus demo.wav demo.wv short.wav withcover.mp3"
FULL |= {f"audio/{n}" for n in AUDIO.split()}
FULL |= {f"video/demo.{n}" for n in "asf f4v flv m4v mkv mov mp4 webm wmv".split()}
CARRIES = {key: (EVERY if key in FULL else ()) for key in SAMPLES}
CARRIES["text/demo.docx"] = ("name", "description", "identifier", "creator", "keywords")
CARRIES["text/demo.epub"] = ("name", "description", "creator")
CARRIES["video/demo.avi"] = ("rights",)
EMBEDDABLE = sorted(key for key, fields in CARRIES.items() if fields)


@functools.cache
def embedded(key: str) -> tuple[dict, bytes]:
    """Embed every field `key` carries into a copy; (what GET /metadata reads, the copy's bytes)."""
    source = SAMPLES[key]
    out = Path(tempfile.mkdtemp(prefix="iscc-lab-test-")) / source.name
    embed_copy(source, {f: VALUES[f] for f in CARRIES[key]}, out)
    try:
        return extract_metadata(out), out.read_bytes()
    finally:
        out.unlink()
        out.parent.rmdir()


@pytest.mark.parametrize("key, field", [(k, f) for k in EMBEDDABLE for f in CARRIES[k]])
def test_each_field_is_embedded_and_read_back(key, field):
    found, data = embedded(key)
    assert data != SAMPLES[key].read_bytes()
    if field == "keywords":  # checked on the copy by embed_copy; not a field of GET /metadata
        assert "keywords" not in found
    elif field == "creator":  # after any creator already there, as the reference service does
        assert found["creator"] == VALUES["creator"] or found["creator"].endswith(
            ", " + VALUES["creator"]
        )
    else:
        assert found[field] == VALUES[field]


@pytest.mark.parametrize("key", [k for k in SAMPLES if set(CARRIES[k]) != set(EVERY)])
def test_fields_a_format_cannot_carry_are_a_422_naming_them(key, tmp_path):
    source = SAMPLES[key]
    out = tmp_path / source.name
    with pytest.raises(Unprocessable) as info:
        embed_copy(source, VALUES, out)
    message = str(info.value)
    assert message.startswith(source.name)  # the format: the file and its media type
    lost = [f for f in EVERY if f not in CARRIES[key]]
    named = message.split("cannot carry the field")[1].split(":")[0].removeprefix("s").strip()
    assert named.split(", ") == lost, message
    assert not out.exists()  # no copy (the fields it carries alone: the test above)
    assert "/tmp" not in message and tempfile.gettempdir() not in message  # no server paths


def test_credit_in_jpeg_png_tiff_is_xmp_and_iptc(tmp_path):
    import exiv2

    for name in ("demo.jpg", "demo.png", "demo.tif"):
        out = embed_copy(iscc_samples.IMAGE / name, {"credit": "Agency X"}, tmp_path / name)
        image = exiv2.ImageFactory.open(str(out))
        image.readMetadata()
        assert {d.key(): d.toString() for d in image.xmpData()}[
            "Xmp.photoshop.Credit"
        ] == "Agency X"
        if name != "demo.png":
            assert {d.key(): d.toString() for d in image.iptcData()}[
                "Iptc.Application2.Credit"
            ] == "Agency X"
        assert extract_metadata(out)["credit"] == "Agency X"
