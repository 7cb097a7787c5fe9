"""YoloDetector (Vigil's ONNX conversion, ONNX Runtime) against OpenCV's Darknet importer, on real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.geometry import box_iou
from vigil.detect import OpenCVDarknetDetector, YoloDetector

# Same weights, same input blob, same decode and NMS: only float rounding differs, so boxes
# must agree to well under a pixel; 2 px leaves room for other CPUs' conv kernels.
MAX_BOX_DIFF_PX = 2.0
MAX_SCORE_DIFF = 0.02


@pytest.fixture(scope="module")
def detector(yolo_dir: Path) -> YoloDetector:
    return YoloDetector(yolo_dir, threads=2)


@pytest.fixture(scope="module")
def reference(yolo_dir: Path) -> OpenCVDarknetDetector:
    return OpenCVDarknetDetector(
        yolo_dir / "yolov4-tiny.cfg",
        yolo_dir / "yolov4-tiny.weights",
        threads=2,
        names=yolo_dir / "coco.names",
    )


def test_matches_opencv_darknet_on_real_frames(
    detector: YoloDetector,
    reference: OpenCVDarknetDetector,
    real_frames: list[tuple[str, NDArray[np.uint8]]],
) -> None:
    worst_px, worst_score, total = 0.0, 0.0, 0
    for label, image in real_frames:
        ours, theirs = detector.detect(image), reference.detect(image)
        assert len(ours) == len(theirs), f"{label}: {len(ours)} boxes vs OpenCV's {len(theirs)}"
        if len(ours) == 0:
            continue
        match = box_iou(ours.xyxy, theirs.xyxy).argmax(axis=1)
        assert sorted(match.tolist()) == list(range(len(theirs))), f"{label}: boxes do not pair up one to one"
        np.testing.assert_array_equal(ours.class_id, theirs.class_id[match], err_msg=label)
        worst_px = max(worst_px, float(np.abs(ours.xyxy - theirs.xyxy[match]).max()))
        worst_score = max(worst_score, float(np.abs(ours.confidence - theirs.confidence[match]).max()))
        total += len(ours)
    print(f"{len(real_frames)} frames, {total} boxes: max box diff {worst_px:.4f} px, max score diff {worst_score:.2e}")
    assert total >= 30, "too few detections for the comparison to mean anything"
    assert worst_px <= MAX_BOX_DIFF_PX
    assert worst_score <= MAX_SCORE_DIFF


def test_finds_the_people_on_a_street_frame(detector: YoloDetector, vtest_frame: NDArray[np.uint8]) -> None:
    found = detector.detect(vtest_frame)
    people = found.select((found.class_id == 0) & (found.confidence >= 0.5))
    assert len(people) >= 5
    assert detector.class_names[0] == "person"
    assert len(detector.class_names) == 80


def test_boxes_are_clipped_to_the_image(detector: YoloDetector, vtest_frame: NDArray[np.uint8]) -> None:
    found = detector.detect(vtest_frame)
    height, width = vtest_frame.shape[:2]
    assert (found.xyxy >= 0).all()
    assert (found.xyxy[:, [0, 2]] <= width).all()
    assert (found.xyxy[:, [1, 3]] <= height).all()
    assert (found.tracker_id == -1).all()


def test_class_filter_keeps_only_requested_classes(yolo_dir: Path, vtest_frame: NDArray[np.uint8]) -> None:
    found = YoloDetector(yolo_dir, class_ids=[2, 7]).detect(vtest_frame)
    assert len(found) >= 1
    assert set(found.class_id.tolist()) <= {2, 7}


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param((480, 640, 3), id="black-vga"),
        pytest.param((0, 0, 3), id="empty"),
        pytest.param((1, 1, 3), id="one-pixel"),
    ],
)
def test_blank_image_gives_empty_detections_of_the_right_shape(
    detector: YoloDetector, reference: OpenCVDarknetDetector, shape: tuple[int, int, int]
) -> None:
    image = np.zeros(shape, dtype=np.uint8)
    for found in (detector.detect(image), reference.detect(image)):
        assert len(found) == 0
        assert found.xyxy.shape == (0, 4)
        assert found.xyxy.dtype == np.float32
        assert found.confidence.shape == found.class_id.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "expected", "match"),
    [
        ({"input_size": 400}, ValueError, "multiple of 32"),
        ({"confidence": 0.0}, ValueError, "confidence"),
        ({"nms_iou": 1.5}, ValueError, "nms_iou"),
        ({"threads": 0}, ValueError, "threads"),
    ],
)
def test_invalid_arguments_are_refused(
    yolo_dir: Path, kwargs: dict[str, float], expected: type[Exception], match: str
) -> None:
    with pytest.raises(expected, match=match):
        YoloDetector(yolo_dir, **kwargs)  # type: ignore[arg-type]


def test_other_input_sizes_work(yolo_dir: Path, vtest_frame: NDArray[np.uint8]) -> None:
    # The graph's spatial input dims are symbolic: 608 finds at least what 416 does here.
    found = YoloDetector(yolo_dir, input_size=608).detect(vtest_frame)
    assert ((found.class_id == 0) & (found.confidence >= 0.5)).sum() >= 5


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        YoloDetector(tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        OpenCVDarknetDetector(tmp_path / "x.cfg", tmp_path / "x.weights")


def test_onnx_without_yolo_metadata_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["out"])],
        "plain",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save_model(model, str(tmp_path / "model.onnx"))
    with pytest.raises(ModelError, match=r"vigil\.yolo"):
        YoloDetector(tmp_path)


def test_corrupt_onnx_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load"):
        YoloDetector(tmp_path)
