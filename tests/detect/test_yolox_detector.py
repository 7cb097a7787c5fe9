"""YOLOX-Nano on ONNX Runtime: the decoder on the model's real output, the letterbox, agreement
with YOLOv4-tiny on real frames, and the start-up checks that refuse a graph the decoder cannot read."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.geometry import box_iou
from vigil.detect.nms import batched_nms
from vigil.detect.yolo import YoloDetector
from vigil.detect.yolo_decode import to_detections
from vigil.detect.yolox import PAD_VALUE, RECT_MULTIPLE, YoloxDetector, letterbox
from vigil.detect.yolox_decode import decode_yolox, expected_rows


def reference_decode(
    rows: NDArray[np.float32], hw: tuple[int, int], scale: float, conf: float
) -> list[tuple[float, ...]]:
    """The decoding as PROVENANCE.md words it, one row at a time: (x1, y1, x2, y2, score, class)."""
    out: list[tuple[float, ...]] = []
    index = 0
    for stride in (8, 16, 32):
        for row in range(hw[0] // stride):
            for col in range(hw[1] // stride):
                tx, ty, tw, th, obj, *probs = rows[index].tolist()
                index += 1
                cls = int(np.argmax(probs))
                score = obj * probs[cls]
                if score < conf:
                    continue
                cx, cy = (tx + col) * stride, (ty + row) * stride
                w, h = math.exp(tw) * stride, math.exp(th) * stride
                out.append(
                    ((cx - w / 2) / scale, (cy - h / 2) / scale, (cx + w / 2) / scale, (cy + h / 2) / scale, score, cls)
                )
    assert index == rows.shape[0]
    return out


def test_letterbox_keeps_the_aspect_ratio_top_left(vtest_frame: NDArray[np.uint8]) -> None:
    blob, scale = letterbox(vtest_frame, 416)
    height = vtest_frame.shape[0]  # 576 x 768
    assert blob.shape == (1, 3, 416, 416) and blob.dtype == np.float32
    assert scale == pytest.approx(416 / 768)
    used = int(height * scale)  # 312 rows of picture, the rest grey
    assert np.all(blob[0, :, used:, :] == PAD_VALUE)
    assert blob[0, :, :used, :].std() > 20  # a real picture, in 0-255 (no /255)
    assert blob.max() > 200
    # BGR kept: the first channel is the image's blue, resized.
    assert abs(float(blob[0, 0, :used].mean()) - float(vtest_frame[..., 0].mean())) < 3.0


def test_decoder_matches_a_row_by_row_reading_of_real_output(
    yolox_path: Path, real_frames: list[tuple[str, NDArray[np.uint8]]]
) -> None:
    """Read at the frame's rectangle (what detect() runs) and at the square: both row orders."""
    detector = YoloxDetector(yolox_path, confidence=0.3)
    assert detector.free_size
    session = detector._session
    compared, rectangles = 0, 0
    for index, (label, image) in enumerate(real_frames[:6]):
        height, width = image.shape[:2]
        square = index % 2 == 1
        blob, scale = letterbox(image, 416, multiple=None if square else RECT_MULTIPLE)
        hw = (blob.shape[2], blob.shape[3])
        rectangles += hw[0] != hw[1]
        (raw,) = session.run(None, {session.get_inputs()[0].name: blob})
        rows = np.asarray(raw, dtype=np.float32)[0]
        assert rows.shape == (expected_rows(hw), 85)
        got = decode_yolox(rows, hw, scale, width, height, 0.3)
        want = reference_decode(rows, hw, scale, 0.3)
        assert len(want) == got.score.size, label
        if not want:
            continue
        ref = np.asarray(want, dtype=np.float64)
        centre = got.cxcywh[:, :2] * [width, height]
        half = got.cxcywh[:, 2:] * [width, height] / 2
        xyxy = np.concatenate([centre - half, centre + half], axis=1)
        np.testing.assert_allclose(xyxy, ref[:, :4], atol=0.05, err_msg=label)
        np.testing.assert_allclose(got.score, ref[:, 4], atol=1e-5, err_msg=label)
        np.testing.assert_array_equal(got.class_id, ref[:, 5].astype(np.int64), err_msg=label)
        compared += len(want)
        final = to_detections(got, width, height, 0.45)
        assert len(batched_nms(final.xyxy, final.confidence, final.class_id, 0.45)) == len(final)
        if not square:  # the detector's own output is exactly this, suppressed and clipped
            np.testing.assert_allclose(detector.detect(image).xyxy, final.xyxy, atol=1e-3)
    assert compared >= 30, "too few candidates for the comparison to mean anything"
    assert rectangles >= 2


def test_a_frame_runs_at_its_letterbox_rectangle(vtest_frame: NDArray[np.uint8]) -> None:
    blob, scale = letterbox(vtest_frame, 416, multiple=RECT_MULTIPLE)
    assert blob.shape == (1, 3, 320, 416)  # 768x576 -> 416x312 of picture, 8 grey rows
    assert np.all(blob[0, :, 312:, :] == PAD_VALUE) and blob[0, :, :312].std() > 20
    square, square_scale = letterbox(vtest_frame, 416)
    assert scale == square_scale
    np.testing.assert_array_equal(blob[0], square[0, :, :320])
    wide, _ = letterbox(np.zeros((720, 1280, 3), np.uint8), 416, multiple=RECT_MULTIPLE)
    tall, _ = letterbox(np.zeros((1280, 720, 3), np.uint8), 416, multiple=RECT_MULTIPLE)
    assert wide.shape == (1, 3, 256, 416) and tall.shape == (1, 3, 416, 256)


def test_the_rectangle_finds_what_the_square_finds(
    yolox_path: Path, real_frames: list[tuple[str, NDArray[np.uint8]]]
) -> None:
    """Only grey rows are left out, so the boxes at the tracker's threshold are the same ones."""
    detector = YoloxDetector(yolox_path, confidence=0.5, class_ids=[0, 2])
    rect_n, matched = 0, 0
    for _label, image in real_frames:
        rect = detector.detect(image)
        detector.free_size = False
        try:
            square = detector.detect(image)
        finally:
            detector.free_size = True
        rect_n += len(rect)
        if len(rect) and len(square):
            matched += int((box_iou(rect.xyxy, square.xyxy).max(axis=1) >= 0.7).sum())
    print(f"{matched} of {rect_n} boxes found at the rectangle match a square box at IoU >= 0.7")
    assert rect_n >= 20
    assert matched / rect_n >= 0.9


def test_finds_the_people_on_a_street_frame(yolox_path: Path, vtest_frame: NDArray[np.uint8]) -> None:
    found = YoloxDetector(yolox_path, confidence=0.3, class_ids=[0]).detect(vtest_frame)
    # 6 people walk in this frame (checked by eye); YOLOX-Nano finds them plus partly hidden ones.
    assert 6 <= len(found) <= 12
    assert set(found.class_id.tolist()) == {0}
    heights = found.xyxy[:, 3] - found.xyxy[:, 1]
    # The six walkers are 60-90 px tall here (the others are small, partly hidden people).
    assert int(((heights > 55) & (heights < 120)).sum()) >= 6, heights
    assert np.all((heights > 15) & (heights < 200)), heights  # not the whole frame, not specks
    assert np.all(found.xyxy[:, [2, 3]] <= [768, 576])


def test_agrees_with_yolov4_tiny_on_confident_boxes(
    yolox_path: Path, yolo_dir: Path, real_frames: list[tuple[str, NDArray[np.uint8]]]
) -> None:
    """A scale or offset slip in the letterbox would move every box; two unrelated models agree."""
    yolox = YoloxDetector(yolox_path, confidence=0.3, class_ids=[0, 2])
    yolo = YoloDetector(yolo_dir / "model.onnx", confidence=0.3, class_ids=[0, 2])
    sure, matched = 0, 0
    for _label, image in real_frames:
        ours, theirs = yolox.detect(image), yolo.detect(image)
        theirs_sure = theirs.xyxy[theirs.confidence >= 0.6]
        sure += len(theirs_sure)
        if len(theirs_sure) and len(ours):
            matched += int((box_iou(theirs_sure, ours.xyxy).max(axis=1) >= 0.5).sum())
    print(f"{matched} of {sure} confident YOLOv4-tiny boxes have a YOLOX-Nano box at IoU >= 0.5")
    assert sure >= 20
    # Measured: 34 of 34 confident YOLOv4-tiny boxes have a YOLOX-Nano box at IoU >= 0.5.
    assert matched / sure >= 0.85


def test_a_darknet_graph_is_refused_by_the_yolox_decoder(yolo_dir: Path) -> None:
    with pytest.raises(
        ModelError, match=r"^model\.onnx: the yolox decoder needs one \[1, rows, 85\] output, the graph has 2"
    ):
        YoloxDetector(yolo_dir / "model.onnx")


def test_the_yolox_graph_is_refused_by_the_darknet_decoder(yolox_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no 'vigil.yolo' metadata"):
        YoloDetector(yolox_path)


@pytest.mark.parametrize("size", [320, 640])
def test_an_input_size_the_graph_does_not_take_is_one_line(yolox_path: Path, size: int) -> None:
    with pytest.raises(ModelError) as caught:
        YoloxDetector(yolox_path, input_size=size)
    message = str(caught.value)
    assert "\n" not in message
    assert (
        message == f"yolox_nano.onnx takes 416x416 input, detector.input_size is {size} (allowed for this model: 416)"
    )


def test_run_with_a_wrong_input_size_stops_at_start_up(tmp_path: Path, yolox_path: Path, vtest_clip: Path) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text("detector:\n  model: yolox-nano\n  input_size: 320\n")
    result = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "analyze", str(vtest_clip), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "VIGIL_DATA_DIR": str(tmp_path / "data"), "VIGIL_MODELS_DIR": str(yolox_path.parents[1])},
    )
    assert result.returncode == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "takes 416x416 input, detector.input_size is 320" in lines[0]


def test_detector_model_names_the_choice_and_a_wrong_name_lists_the_valid_ones() -> None:
    from vigil.config import parse_config
    from vigil.core.errors import ConfigError

    cfg = parse_config({"detector": {"model": "yolox-nano"}})
    assert cfg.detector.choice.decoder == "yolox"
    assert cfg.detector.model_file == "yolox_nano.onnx"
    assert parse_config({"detector": {"model": "yolov4-tiny"}}).detector.model_file == "model-int8.onnx"
    with pytest.raises(ConfigError) as caught:
        parse_config({"detector": {"model": "yolov8n"}})
    message = str(caught.value)
    assert "\n" not in message
    assert "detector.model" in message
    assert all(f"'{name}'" in message for name in ("yolov4-tiny", "yolox-nano", "picodet-s-416"))


def test_a_precision_the_model_lacks_is_refused() -> None:
    from vigil.config import parse_config
    from vigil.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"precision 'int8' is not available for yolox-nano; allowed: fp32"):
        parse_config({"detector": {"model": "yolox-nano", "precision": "int8"}})


def test_the_wiring_opens_the_configured_decoder(yolox_path: Path, yolo_dir: Path) -> None:
    from vigil.config import VigilConfig
    from vigil.workers.wiring import build_detector

    assert yolox_path.parents[1] == yolo_dir.parent
    base = VigilConfig(models_dir=yolo_dir.parent)
    yolox = base.model_copy(update={"detector": base.detector.model_copy(update={"model": "yolox-nano"})})
    assert isinstance(build_detector(yolox), YoloxDetector)
    old = base.model_copy(update={"detector": base.detector.model_copy(update={"model": "yolov4-tiny"})})
    assert isinstance(build_detector(old), YoloDetector)
