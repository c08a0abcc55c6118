"""Tiny ONNX models of the shapes iscc-sct and iscc-sci feed and read, made with `onnx`.

They stand in for the real models (450 MB and 105 MB, published with the iscc-binaries releases),
which cannot be downloaded where the tests run. They are deterministic functions of their input,
so the same text or image gives the same Semantic-Code on every run and in every process; their
embeddings mean nothing.

- text (iscc-sct): inputs input_ids, attention_mask, token_type_ids (int64, batch x tokens);
  output (batch, tokens, 384) float32: a fixed random row per token id (modulo 1024), scaled by
  the attention mask.
- image (iscc-sci): input (1, 3, 512, 512) float32; output (1, 256) float32: the image averaged
  over 16 x 16 pixel blocks, projected by a fixed random matrix.
"""

from pathlib import Path

import numpy as np

TEXT_DIM = 384
TEXT_ROWS = 1024
IMAGE_DIM = 256


def build_text_model(path: Path, seed: int = 13) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    table = rng.standard_normal((TEXT_ROWS, TEXT_DIM)).astype(np.float32)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", TEXT_DIM]
    )
    nodes = [
        helper.make_node("Mod", ["input_ids", "rows"], ["row"]),
        helper.make_node("Gather", ["table", "row"], ["embedded"], axis=0),
        helper.make_node("Add", ["attention_mask", "token_type_ids"], ["mask_types"]),
        helper.make_node("Cast", ["mask_types"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["last_hidden_state"]),
    ]
    init = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array(TEXT_ROWS, dtype=np.int64), "rows"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
    ]
    graph = helper.make_graph(nodes, "tiny-iscc-sct", inputs, [output], init)
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def build_image_model(path: Path, seed: int = 16) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    blocks = 3 * 32 * 32  # (512 / 16) ** 2 blocks of each channel
    proj = rng.standard_normal((blocks, IMAGE_DIM)).astype(np.float32)
    pixels = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])
    output = helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, IMAGE_DIM])
    nodes = [
        helper.make_node(
            "AveragePool", ["input"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]
        ),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "proj"], ["features"]),
    ]
    init = [
        numpy_helper.from_array(proj, "proj"),
        numpy_helper.from_array(np.array([1, blocks], dtype=np.int64), "flat_shape"),
    ]
    graph = helper.make_graph(nodes, "tiny-iscc-sci", [pixels], [output], init)
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _save(model, path: Path) -> Path:
    import onnx

    onnx.checker.check_model(model, full_check=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
