"""Golden counting accuracy on the labelled crowd photos (tests/golden/crowd.json).

Recomputes MAE and RMSE of detection only, density only and the combination (both precisions) on
``../shared/data/crowd/train`` with the default settings (detection on the whole frame plus
3×3 overlapping tiles, CSRNet at 384 px, density floor 0.03) and compares them with the
committed figures. Tolerance: 0.25
people, which covers ONNX Runtime / OpenCV resize differences across machines but fails on
any change to the rule, the models or their pre-processing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from vigil.config import VigilConfig
from vigil.config.crowd import CrowdConfig
from vigil.config.detector import DetectorConfig
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.dataset import count_errors, head_points, list_images
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.detect.yolo import YoloDetector
from vigil.workers.crowd_stage import build_density

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "crowd.json"
TOLERANCE = 0.25

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("precision", "figures"),
    [
        pytest.param("fp32", "methods", id="fp32-reference"),
        pytest.param("int8", "int8_default", id="int8-default"),
    ],
)
def test_counting_accuracy_matches_golden(
    shared_data: Path, installed_models_dir: Path, precision: Literal["fp32", "int8"], figures: str
) -> None:
    """fp32 detector and CSRNet: the reference, the same on every CPU. int8 both: what Vigil runs
    by default (the int8 graphs may differ a little between CPUs with and without VNNI)."""
    root = shared_data / "crowd" / "train"
    if not root.is_dir():
        pytest.skip(f"crowd evaluation set not found at {root}")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    cfg = VigilConfig(
        models_dir=installed_models_dir,
        # The golden figures were measured with YOLOv4-tiny (crowd.json's settings), kept as
        # the reference when YOLOX-Nano became the default detector.
        detector=DetectorConfig(model="yolov4-tiny", precision=precision),
        # CSRNet at 384 px: the step before issue 22, which is now the near-people path
        # (vigil.crowd.counter); tests/crowd/test_crowd_golden_sets.py checks Vigil's count.
        # The stock tail: the map this file's figures were measured on (the tuned tail counts only off
        # the near path, where this test does not reach).
        crowd=CrowdConfig(density_precision=precision, density_input_width=384, density_tail="stock"),
    )
    yolo = YoloDetector(
        installed_models_dir / "yolov4-tiny" / cfg.detector.model_file,
        input_size=cfg.detector.input_size,
        confidence=cfg.detector.confidence,
        nms_iou=cfg.detector.nms_iou,
        class_ids=(0,),
        threads=2,
    )
    count_detector = tiled(lambda image: yolo.detect(image).xyxy, cfg.crowd.count_tiles)
    density = build_density(cfg, required=True)
    assert density is not None
    truth, det, dens, comb = [], [], [], []
    for item in list_images(root):
        image = _read(item.image)
        boxes = count_detector(image)
        dmap = density.estimate(image)
        truth.append(int(head_points(item.truth).shape[0]))
        det.append(float(len(boxes)))
        dens.append(dmap.count)
        comb.append(
            combined_count(len(boxes), split_density(dmap, boxes, cfg.crowd.density_floor, cfg.crowd.hidden_heads_px))
        )
    got = {
        "detection": count_errors(det, truth),
        "density": count_errors(dens, truth),
        "combined": count_errors(comb, truth),
    }
    for method, errors in got.items():
        want = golden[figures][method]
        assert errors.n == golden["n"]
        assert errors.mae == pytest.approx(want["mae"], abs=TOLERANCE), method
        assert errors.rmse == pytest.approx(want["rmse"], abs=TOLERANCE), method
    assert golden["tolerance"] == TOLERANCE
    # The point of the combination: better than either alone.
    assert got["combined"].mae < min(got["detection"].mae, got["density"].mae)
