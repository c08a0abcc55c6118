"""The experimental semantic features (iscc-sct) and the model they need.

iscc-sct downloads its ONNX model on first use; iscc-lab never lets it. The model must be
provided: put `iscc-sct-v0.2.0.onnx` in the folder named by ISCC_SCT_MODEL_DIR (or in
iscc-sct's default data folder). Without it, asking for semantic features is an error that says
so; `create_simprints` leaves SEMANTIC_TEXT_V0 out.
"""

from pathlib import Path

from iscc_lab.errors import ToolMissing

__all__ = ["model_path", "model_available", "require_model", "semantic_text_features"]


def model_path() -> Path:
    """Where iscc-sct expects its model (honours ISCC_SCT_MODEL_DIR)."""
    from iscc_sct import utils

    return Path(utils.MODEL_PATH)


def model_available() -> bool:
    try:
        return model_path().is_file()
    except ImportError:
        return False


def require_model() -> None:
    """ToolMissing, saying what is missing and how to provide it, unless the model is there."""
    try:
        path = model_path()
    except ImportError:
        raise ToolMissing(
            "Semantic features need the iscc-sct package with its `cpu` extra: "
            "pip install 'iscc-sct[cpu]'."
        ) from None
    if not path.is_file():
        raise ToolMissing(
            f"Semantic features need iscc-sct's ONNX model {path.name}, which is not at {path}. "
            "iscc-lab does not download it at run time: fetch it where you have access (it is "
            "published with the iscc-binaries releases on GitHub), put it in a folder and set "
            "ISCC_SCT_MODEL_DIR to that folder."
        )


def semantic_text_features(text: str) -> dict:
    """The SEMANTIC_TEXT_V0 feature set of `text` (256-bit simprints, UTF-8 byte offsets)."""
    require_model()
    import iscc_sct

    result = iscc_sct.gen_text_code_semantic(
        text, simprints=True, offsets=True, sizes=True, byte_offsets=True, bits_granular=256
    )
    features = result["features"][0]
    features["byte_offsets"] = True
    return features
