"""Errors of the install-time int8 quantiser (vigil.models.quantize), without quantising anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.core.errors import ModelError
from vigil.models.quantize import calibration_images, quantize_int8, quantize_yolo_int8


def test_calibration_frames_ship_with_vigil() -> None:
    assert len(calibration_images()) == 16


def test_no_calibration_images_is_a_model_error(yolo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no calibration images"):
        quantize_yolo_int8(yolo_dir / "model.onnx", tmp_path / "out.onnx", [])
    with pytest.raises(ModelError, match="no calibration images"):
        quantize_int8(yolo_dir / "model.onnx", tmp_path / "out.onnx", [])
