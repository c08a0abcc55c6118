"""UploadWidget(collection=col): under each uploaded file's card, its nearest matches in the
collection. Driven with the messages the front end sends, as in test_upload.py."""

import iscc_samples
import pytest

import iscc_lab
from iscc_lab import create_iscc
from iscc_lab.collection import Collection
from iscc_lab.widgets import UploadWidget

IMAGES = [iscc_samples.IMAGE / n for n in ("demo.png", "demo.gif")]


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    col = Collection(tmp_path_factory.mktemp("widget") / "col")
    col.add(iscc_lab.batch([*IMAGES, iscc_samples.TEXT / "demo.txt"], workers=1, progress=False))
    yield col
    col.close()


def message(result, filename):
    return {"type": "result", "filename": filename, "size": 1, "via": "server", "result": result}


def test_cards_show_the_nearest_matches(collection):
    w = UploadWidget(collection=collection, matches=2)
    jpg = create_iscc(iscc_samples.IMAGE / "demo.jpg")
    w.handle(message(jpg, "demo.jpg"))
    assert w.errors == []
    (found,) = w.matches
    assert list(found["path"]) == [str(p) for p in IMAGES]  # the two other formats, in order
    assert found["distance"].tolist() == collection.search(jpg["iscc"], k=2)["distance"].tolist()
    html = w.result_view.value
    assert html.count('class="iscc-card"') == 1
    assert "Nearest in the collection" in html
    assert "demo.png" in html and "demo.gif" in html and "demo.txt" not in html
    w.clear()
    assert w.matches == [] and "Nearest" not in w.result_view.value


def test_a_file_with_nothing_comparable_and_no_collection(collection):
    w = UploadWidget(collection=collection)
    audio = create_iscc(iscc_samples.AUDIO / "demo.mp3")
    w.handle(message(audio, "demo.mp3"))
    assert len(w.matches[0]) == 0
    assert "No comparable item in the collection" in w.result_view.value
    plain = UploadWidget()
    plain.handle(message(audio, "demo.mp3"))
    assert plain.matches == [None] and "iscc-matches" not in plain.result_view.value
