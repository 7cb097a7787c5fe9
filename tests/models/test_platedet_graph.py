"""Install-time surgery on the platedet graph, on a small graph of the same shape: a head whose raw
output is split, a second output branch that is dropped, and a fixed input that becomes free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vigil.core.errors import ModelError
from vigil.models.platedet_graph import cut_detection_head


def yolo_like(path: Path, split_name: str = "/model.22/Split") -> None:
    """images (1, 3, 64, 64) → Conv (5 channels) → Split [4, 1] → Concat → output0; Conv → output1."""
    rng = np.random.default_rng(0)
    w_head = numpy_helper.from_array(rng.normal(size=(5, 3, 3, 3)).astype(np.float32), "w_head")
    w_mask = numpy_helper.from_array(rng.normal(size=(2, 3, 1, 1)).astype(np.float32), "w_mask")
    sizes = numpy_helper.from_array(np.array([4, 1], np.int64), "sizes")
    shape = numpy_helper.from_array(np.array([1, 5, -1], np.int64), "shape")
    nodes = [
        helper.make_node(
            "Conv", ["images", "w_head"], ["head"], name="/model.22/cv2/Conv", strides=[8, 8], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Reshape", ["head", "shape"], ["raw"], name="/model.22/Reshape_3"),
        helper.make_node("Split", ["raw", "sizes"], ["box", "cls"], name=split_name, axis=1),
        helper.make_node("Sigmoid", ["cls"], ["score"], name="/model.22/Sigmoid"),
        helper.make_node("Concat", ["box", "score"], ["output0"], name="/model.22/Concat_6", axis=1),
        helper.make_node("Conv", ["images", "w_mask"], ["output1"], name="/model.22/proto/Conv"),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo-like",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [
            helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, 64]),
            helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 2, 64, 64]),
        ],
        [w_head, w_mask, sizes, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_the_cut_graph_keeps_only_the_raw_head_and_takes_any_input_size(tmp_path: Path) -> None:
    src, out = tmp_path / "full.onnx", tmp_path / "cut.onnx"
    yolo_like(src)
    cut_detection_head(src, out)
    model = onnx.load(str(out))
    assert [o.name for o in model.graph.output] == ["raw"]
    assert [n.name for n in model.graph.node] == ["/model.22/cv2/Conv", "/model.22/Reshape_3"]
    assert {i.name for i in model.graph.initializer} == {"w_head", "shape"}  # the mask weights are gone
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[2:]] == ["height", "width"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(1).random((1, 3, 96, 128), dtype=np.float32)
    (raw,) = session.run(None, {"images": image})
    assert raw.shape == (1, 5, 12 * 16)  # a non-square input the source graph would refuse
    # Same numbers as the source graph's own head on the input it was made for.
    square = image[:, :, :64, :64]
    full = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {"images": square})[0]
    (cut_square,) = session.run(None, {"images": square})
    np.testing.assert_allclose(cut_square[:, :4], full[:, :4], rtol=1e-6)


def test_a_graph_that_is_not_a_yolov8_head_or_not_onnx_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.onnx"
    yolo_like(other, split_name="/backbone/Split")
    with pytest.raises(ModelError, match=r"other.onnx: not the platedet YOLOv8 graph"):
        cut_detection_head(other, tmp_path / "out.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match=r"junk.onnx: not a readable ONNX graph"):
        cut_detection_head(junk, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
