"""Shared fixtures: the iscc-samples corpus and the contract's reference values."""

import iscc_samples
import pytest

# A real Jupyter server over real HTTP for the REST face (jp_fetch, jp_serverapp, ...).
pytest_plugins = ["pytest_jupyter.jupyter_server"]

# The contract's image example: iscc-samples' demo.bmp uploaded as test-image.jpg.
IMAGE_EXAMPLE = {
    "iscc": "ISCC:KECXNDSZVTTX2LDQYNBTBHR4T2HGOYBAGBNWZ767PKO3JQGZ42GFEAY",
    "name": "test image",
    "mode": "image",
    "filename": "test-image.jpg",
    "filesize": 53256,
    "mediatype": "image/jpeg",
    "width": 200,
    "height": 133,
    "metahash": "1e20304ab0c98a760be580dfa20716f2912d7ae30ec82b5f48b01dcf8f008d42568d",
    "datahash": "1e209db4c0d9e68c5203dc8c2fefe52fa5d54671be3a3253e06888cace7c60e5a743",
    "units": [
        "ISCC:AADXNDSZVTTX2LDQWWLJUWUK3DGIQV27EFWEUI2AEXNONCRDWUSE2OY",
        # The contract's Content unit was made by an older iscc-core; its first 64 bits match.
        # Current iscc-core (1.5) and iscc-lib (0.7) agree on this one (shared/spec/README.md).
        "ISCC:EED4GQZQTY6J5DTHNDQ7S7EGNENJNRTEGLGHFWXFGNDZHSMO4HEZGZI",
        "ISCC:GADWAIBQLNWP7X32J3INMAMDUJ4QMN67BBQKVTVZIWHXQ7QJIKHYTBY",
        "ISCC:IADZ3NGA3HTIYUQD3SGC737FF6S5KRTRXY5DEU7ANCEMVTT4MDS2OQY",
    ],
}
CONTRACT_CONTENT_UNIT = "ISCC:EED4GQZQTY6J5DTHQ2DWCPDZHQOM6QZQTY6J5DTFZ2DWCPDZHQOMXDI"

EXPLAIN_CODE = "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"
EXPLAIN_EXAMPLE = {
    "iscc": EXPLAIN_CODE,
    "readable": "ISCC-VIDEO-V0-MSDI-c8a70639eb1167b367a9c3787c65c1e582e2e662f728b4fa42485e3a0a5d2f34",
    "multiformat": "uzAFTBsinBjnrEWezZ6nDeHxlweWC4uZi9yi0-kJIXjoKXS80",
    "decomposed": "AAA4RJYGHHVRCZ5T-CMAWPKODPB6GLQPF-GAAYFYXGML3SRNH2-IAAUESC6HIFF2LZU",
    "first_unit": {
        "iscc_unit": "ISCC:AAA4RJYGHHVRCZ5T",
        "readable": "META-NONE-V0-64-c8a70639eb1167b3",
        "hash_hex": "c8a70639eb1167b3",
        "hash_uint": "14458531974522955699",
        "hash_bits": "1100100010100111000001100011100111101011000100010110011110110011",
    },
}


@pytest.fixture(scope="session")
def samples():
    """All 55 files of iscc-samples."""
    files = iscc_samples.all()
    assert len(files) == 55
    return files


@pytest.fixture(scope="session")
def demo_bmp():
    return iscc_samples.IMAGE / "demo.bmp"


@pytest.fixture(scope="session")
def demo_jpg():
    return iscc_samples.IMAGE / "demo.jpg"


@pytest.fixture()
def store(tmp_path):
    from iscc_lab.store import Store

    return Store(tmp_path / "media", max_upload_size=1000)


@pytest.fixture(scope="session")
def semantic_model_files(tmp_path_factory):
    """Tiny ONNX models of iscc-sct's and iscc-sci's shapes (tests/semantic/models.py), in
    folders of their own: `.text` and `.image` are the model files."""
    from types import SimpleNamespace

    from iscc_lab import semantic
    from tests.semantic.models import build_image_model, build_text_model

    root = tmp_path_factory.mktemp("semantic-models")
    text = build_text_model(root / "sct" / semantic.model_path("text").name)
    image = build_image_model(root / "sci" / semantic.model_path("image").name)
    return SimpleNamespace(text=text, image=image)


@pytest.fixture
def semantic_model(semantic_model_files, monkeypatch):
    """The test-made models where iscc-lab looks (ISCC_SCT_MODEL_DIR, ISCC_SCI_MODEL_DIR), for
    this process and the worker processes it starts from now on (a server started after this
    fixture, batch()'s pool)."""
    monkeypatch.setenv("ISCC_SCT_MODEL_DIR", str(semantic_model_files.text.parent))
    monkeypatch.setenv("ISCC_SCI_MODEL_DIR", str(semantic_model_files.image.parent))
    return semantic_model_files


@pytest.fixture
def no_semantic_model(tmp_path, monkeypatch):
    """Model folders with no model in them."""
    for env, name in (("ISCC_SCT_MODEL_DIR", "sct"), ("ISCC_SCI_MODEL_DIR", "sci")):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(env, str(tmp_path / name))
    return tmp_path
