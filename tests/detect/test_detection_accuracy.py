"""Detector accuracy golden figures (tests/golden/detection.json), recomputed on COCO val images,
and the AP scorer itself on cases worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config.detector import DETECTOR_MODELS, DetectorConfig
from vigil.core.detections import Detections
from vigil.detect.accuracy import VIGIL_CLASSES, LabelledImage, average_precision, load_labelled_folder, score_detector
from vigil.detect.choice import open_detector

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "detection.json"
COCO128_VAL = ROOT.parent / "shared" / "data" / "detection" / "coco128" / "val2017"
SCORING_CONFIDENCE = 0.001  # as bench/detection_accuracy.py, which writes the golden file


def _image(boxes: list[list[float]], classes: list[int]) -> LabelledImage:
    return LabelledImage(Path("x.jpg"), np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(classes, np.int64))


def _found(boxes: list[list[float]], scores: list[float], classes: list[int]) -> Detections:
    return Detections(xyxy=np.asarray(boxes, np.float32).reshape(-1, 4), confidence=scores, class_id=classes)


def test_perfect_boxes_score_100_and_missing_ones_lower_recall() -> None:
    truth = [_image([[0, 0, 10, 10], [20, 20, 40, 40]], [0, 0])]
    perfect = average_precision([_found([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.8], [0, 0])], truth, [0])
    assert perfect[0].ap50 == pytest.approx(100.0) and perfect[0].ap50_95 == pytest.approx(100.0)
    half = average_precision([_found([[0, 0, 10, 10]], [0.9], [0])], truth, [0])
    # Recall reaches 0.5 at precision 1: 51 of the 101 recall points (0 … 0.50).
    assert half[0].ap50 == pytest.approx(100.0 * 51 / 101)


def test_a_duplicate_is_a_false_positive_and_a_loose_box_fails_the_strict_thresholds() -> None:
    truth = [_image([[0, 0, 10, 10]], [0])]
    dup = average_precision([_found([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])], truth, [0])
    assert dup[0].ap50 == pytest.approx(100.0)  # the duplicate comes after full recall
    worse_first = average_precision([_found([[50, 50, 60, 60], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])], truth, [0])
    assert worse_first[0].ap50 == pytest.approx(50.0)  # precision 1/2 at recall 1
    # IoU 0.64 (a box 6.4 px wide inside the 10 px one): a hit at 0.50-0.60, a miss from 0.65 up.
    loose = average_precision([_found([[0, 0, 6.4, 10]], [0.9], [0])], truth, [0])
    assert loose[0].ap50 == pytest.approx(100.0)
    assert loose[0].ap50_95 == pytest.approx(100.0 * 3 / 10)
    other_class = average_precision([_found([[0, 0, 10, 10]], [0.9], [2])], truth, [0])
    assert other_class[0].ap50 == 0.0


@pytest.fixture(scope="module")
def coco128() -> list[LabelledImage]:
    if not COCO128_VAL.is_dir():
        pytest.skip(f"COCO val images not found at {COCO128_VAL}")

    def size(path: Path) -> tuple[int, int]:
        image = cv2.imread(str(path))
        return int(image.shape[1]), int(image.shape[0])

    return load_labelled_folder(COCO128_VAL, size)


@pytest.mark.parametrize(
    ("model", "precision"), [(m, p) for m, choice in DETECTOR_MODELS.items() for p in choice.files]
)
def test_accuracy_on_coco_val_matches_golden(
    model: str, precision: str, coco128: list[LabelledImage], installed_models_dir: Path, picodet_path: Path
) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    want = golden["detectors"][f"{model} {precision}"]
    cfg = DetectorConfig(model=model, precision=precision)  # type: ignore[arg-type]
    detector = open_detector(
        cfg.choice.decoder,
        installed_models_dir / model / cfg.model_file,
        input_size=cfg.input_size,
        confidence=SCORING_CONFIDENCE,
        nms_iou=cfg.nms_iou,
        class_ids=VIGIL_CLASSES,
        threads=2,
    )
    got = score_detector(detector.detect, coco128, lambda p: cv2.imread(str(p)))
    assert len(coco128) == 128
    tol = golden["tolerance"]
    print(model, precision, got["AP50"], got["AP50_95"], got["classes"]["0"])  # type: ignore[index]
    assert got["AP50"] == pytest.approx(want["AP50"], abs=tol)
    assert got["AP50_95"] == pytest.approx(want["AP50_95"], abs=tol)
    for cls, figures in want["classes"].items():
        mine = got["classes"][cls]  # type: ignore[index]
        assert mine["gt"] == figures["gt"]
        assert mine["AP50"] == pytest.approx(figures["AP50"], abs=tol), cls
        assert mine["AP50_95"] == pytest.approx(figures["AP50_95"], abs=tol), cls


def test_yolox_nano_finds_people_at_least_as_well_as_yolov4_tiny() -> None:
    """The bar for YOLOX-Nano to become the default: person AP50-95 no lower than YOLOv4-tiny's
    at either precision, and the six classes' no lower either."""
    figures = json.loads(GOLDEN.read_text(encoding="utf-8"))["detectors"]
    new = figures["yolox-nano fp32"]
    for precision in DETECTOR_MODELS["yolov4-tiny"].files:
        old = figures[f"yolov4-tiny {precision}"]
        assert new["classes"]["0"]["AP50_95"] >= old["classes"]["0"]["AP50_95"]
        assert new["AP50_95"] >= old["AP50_95"]
