"""batch(semantic=True) and the upload widget's semantic option with the test-made models:
the same Semantic-Code unit as create_iscc, for the same text, run after run."""

import iscc_samples
import pandas as pd
import pytest

from iscc_lab import batch, create_iscc
from iscc_lab.widgets import UploadWidget
from tests.semantic.helpers import LONG, SHORT, semantic_unit

pytestmark = pytest.mark.usefixtures("semantic_model")

DEMO = iscc_samples.IMAGE / "demo.jpg"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "short.txt").write_text(SHORT * 10)
    (tmp_path / "long.txt").write_text(LONG)
    (tmp_path / "demo.jpg").write_bytes(DEMO.read_bytes())
    (tmp_path / "demo.mp3").write_bytes((iscc_samples.AUDIO / "demo.mp3").read_bytes())
    return tmp_path


def test_batch_semantic_column(folder):
    """Through the worker pool (workers=2), whose processes see the model folders."""
    workers = 2
    df = batch(folder, semantic=True, workers=workers, progress=False)
    assert df["error"].isna().all(), df["error"].tolist()
    by_name = df.set_index("filename")
    for name in ("short.txt", "long.txt", "demo.jpg"):
        expected = semantic_unit(create_iscc(folder / name, semantic=True))
        assert by_name.loc[name, "semantic"] == expected
    assert pd.isna(by_name.loc["demo.mp3", "semantic"])  # audio has no Semantic-Code
    again = batch(folder, semantic=True, workers=workers, progress=False)
    assert again["semantic"].tolist() == df["semantic"].tolist()
    plain = batch(folder, semantic=False, workers=workers, progress=False)
    assert "semantic" not in plain.columns or plain["semantic"].isna().all()
    assert plain["content"].tolist() == df["content"].tolist()


def test_upload_widget_semantic_option_in_the_kernel():
    """The widget's kernel path (what the browser's `_kernel_upload` reaches, see
    tests/widgets/test_upload.py) with semantic=True."""
    data = (SHORT * 10).encode()
    expected = create_iscc(data, "notes.txt", semantic=True, granular=False)
    units = []
    for semantic in (True, True, False):
        w = UploadWidget(semantic=semantic, granular=False)
        w.front.send = lambda content, buffers=None: None
        answer = w.kernel_upload({"filename": "notes.txt", "size": len(data)}, [memoryview(data)])
        assert answer["type"] == "kernel-result", answer
        assert w.errors == []
        units.append(w.results[0]["units"])
        if semantic:
            assert w.results[0] == expected
            assert w.frame.iloc[0]["semantic"] == semantic_unit(expected)
    assert units[0] == units[1] and len(units[2]) == 4


def test_collection_update_semantic(folder, tmp_path):
    """Collection.update(..., semantic=True): the catalogue keeps the Semantic-Code units that
    create_iscc makes, and search compares on them."""
    from iscc_lab import Collection

    col = Collection(tmp_path / "archive.isccs")
    texts = [folder / "short.txt", folder / "long.txt", folder / "demo.jpg"]
    df = col.update(texts, semantic=True, workers=1, progress=False)
    assert df.attrs["summary"]["new"] == 3 and df["error"].isna().all()
    expected = {p.name: semantic_unit(create_iscc(p, semantic=True)) for p in texts}
    assert dict(zip(df["filename"], df["semantic"], strict=True)) == expected
    stored = col.frame()
    assert dict(zip(stored["filename"], stored["semantic"], strict=True)) == expected
    hits = col.search(folder / "long.txt", k=1, on="semantic")
    assert hits.iloc[0]["path"] == str(folder / "long.txt") and hits.iloc[0]["distance"] == 0
