"""ISCC generation on real media: every sample, the contract's example, options per call."""

import io

import iscc_core as ic
import pytest

from iscc_lab import Settings, Unprocessable, create_iscc
from iscc_lab.errors import BadRequest, ToolMissing
from tests.conftest import CONTRACT_CONTENT_UNIT, IMAGE_EXAMPLE


def test_contract_image_example_reproduces(demo_bmp):
    result = create_iscc(demo_bmp, "test-image.jpg")
    for key, value in IMAGE_EXAMPLE.items():
        assert result[key] == value, key
    # The Content unit agrees with the contract's in its first 64 bits.
    ours, theirs = ic.Code(result["units"][1]), ic.Code(CONTRACT_CONTENT_UNIT)
    assert ours.hash_bits[:64] == theirs.hash_bits[:64]
    assert result["@context"] == "http://purl.org/iscc/context/0.8.0.jsonld"
    assert result["@type"] == "ImageObject"
    assert result["$schema"] == "http://purl.org/iscc/schema/0.8.0.json"
    assert result["thumbnail"].startswith("data:image/webp;base64,")
    assert result["generator"].startswith("iscc-sdk - v")
    assert "media_id" not in result and "content" not in result
    assert "features" not in result  # granular features are for text only
    assert list(result)[:4] == ["@context", "@type", "$schema", "iscc"]


@pytest.mark.parametrize("kind", ["path", "bytes", "stream"])
def test_sources_agree(kind, demo_bmp):
    data = demo_bmp.read_bytes()
    source = {"path": demo_bmp, "bytes": data, "stream": io.BytesIO(data)}[kind]
    assert create_iscc(source, "test-image.jpg")["iscc"] == IMAGE_EXAMPLE["iscc"]


def test_bytes_need_a_filename():
    with pytest.raises(BadRequest, match="filename"):
        create_iscc(b"abc")


def test_empty_and_missing_files_are_refused(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(BadRequest, match="empty"):
        create_iscc(empty)
    with pytest.raises(BadRequest, match="No file"):
        create_iscc(tmp_path / "nothing.jpg")


@pytest.mark.slow
def test_every_sample_gets_an_iscc(samples):
    """All 55 files: images, texts, audio, video; a 2-unit ISCC-SUM where unsupported."""
    modes = {}
    for path in samples:
        result = create_iscc(path)
        code = ic.Code(result["iscc"])
        units = result["units"]
        if result.get("mode"):
            assert len(units) == 4, path
            modes.setdefault(result["mode"], []).append(path.name)
        else:  # unsupported media type: Data + Instance (wide ISCC-SUM)
            assert len(units) == 2, path
            assert code.maintype == ic.MT.ISCC and code.subtype == ic.ST_ISCC.WIDE
        assert all(ic.Code(u).length == 256 for u in units), path
    assert set(modes) == {"text", "image", "audio", "video"}
    assert "short.wav" in modes["audio"]  # fpcalc 1.5.1 gives no fingerprint: handled
    assert "demo.ogv" in modes["video"]  # Debian ffmpeg 5.1 fails some Theora frames: handled


def test_granular_text_features_in_utf8_bytes(tmp_path):
    text = ("Schöne Grüße aus Köln – ein längerer Text über Ähnlichkeit. " * 60).encode()
    result = create_iscc(text, "gruss.txt", granular=True)
    (features,) = result["features"]
    assert features["maintype"] == "content" and features["subtype"] == "text"
    assert features["byte_offsets"] is True and features["version"] == 0
    assert len(features["simprints"]) == len(features["offsets"]) == len(features["sizes"])
    assert all(len(s) == 43 for s in features["simprints"])  # 256 bits, base64url
    assert features["offsets"][0] == 0
    assert sum(features["sizes"]) <= len(text)


def test_options_do_not_leak_between_calls():
    text = b"A text about nothing in particular, long enough to chunk. " * 40
    assert "features" in create_iscc(text, "a.txt", granular=True)
    assert "features" not in create_iscc(text, "a.txt", granular=False)
    assert "features" in create_iscc(text, "a.txt", granular=True)
    import iscc_sdk as idk

    assert idk.sdk_opts.granular is False and idk.sdk_opts.bits == 64  # untouched globals


def test_unsupported_media_without_fallback_is_unprocessable():
    data = bytes(range(256)) * 64
    result = create_iscc(data, "random.bin")
    assert len(result["units"]) == 2
    with pytest.raises(Unprocessable, match="unsupported media type"):
        create_iscc(data, "random.bin", settings=Settings(fallback=False))


def test_semantic_without_model_says_what_is_missing(no_semantic_model):
    with pytest.raises(ToolMissing) as e:
        create_iscc(b"Some text to embed semantically. " * 20, "t.txt", semantic=True)
    assert "ISCC_SCT_MODEL_DIR" in str(e.value) and "iscc-sct-v0.2.0.onnx" in str(e.value)
    assert e.value.status == 422


def test_missing_tool_is_named(monkeypatch, samples):
    import iscc_samples

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("ISCC_LAB_FPCALC", "/nonexistent/fpcalc")
    with pytest.raises(ToolMissing, match="fpcalc is not installed"):
        create_iscc(iscc_samples.AUDIO / "demo.mp3")


def test_damaged_video_gives_the_same_code_every_time():
    """demo.ogv has Theora frames Debian's ffmpeg cannot decode: the code must not vary."""
    import iscc_samples

    codes = {create_iscc(iscc_samples.VIDEO / "demo.ogv")["iscc"] for _ in range(3)}
    assert len(codes) == 1


def test_a_document_is_parsed_for_its_metadata_once(monkeypatch):
    """iscc-sdk parses a document's metadata with Tika twice per ISCC; iscc-lab answers the
    second from the first. The same ISCC JSON, one parse fewer, and iscc-sdk as it was after."""
    import contextlib

    import iscc_samples
    import iscc_sdk
    import iscc_sdk.metadata
    import iscc_sdk.text

    import iscc_lab.generate as generate
    from iscc_lab.generate import create_iscc

    real = iscc_sdk.text.Extractor
    parsed = []

    class Counting:
        def __init__(self, inner=None):
            self.inner = inner if inner is not None else real()

        def set_extract_string_max_length(self, n):
            return Counting(self.inner.set_extract_string_max_length(n))

        def extract_file_to_string(self, path):
            parsed.append(path)
            return self.inner.extract_file_to_string(path)

    monkeypatch.setattr(iscc_sdk.text, "Extractor", Counting)
    original = iscc_sdk.text_meta_extract
    docx = iscc_samples.TEXT / "demo.docx"
    ours = create_iscc(docx)
    assert len(parsed) == 2  # the text, and the metadata once
    assert iscc_sdk.text_meta_extract is original
    assert iscc_sdk.metadata.EXTRACTORS["text"] is original
    parsed.clear()
    monkeypatch.setattr(generate, "_one_metadata_parse", lambda idk: contextlib.nullcontext())
    theirs = create_iscc(docx)
    assert len(parsed) == 3  # iscc-sdk on its own: the metadata twice
    assert {k: v for k, v in ours.items() if k != "generator"} == {
        k: v for k, v in theirs.items() if k != "generator"
    }
