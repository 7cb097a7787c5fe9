"""Errors of the install-time int8 quantiser (vigil.models.quantize), without quantising anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.core.errors import ModelError
from vigil.models.quantize import calibration_images, quantize_csrnet_int8, quantize_int8, quantize_yolo_int8


def test_calibration_frames_ship_with_vigil() -> None:
    assert len(calibration_images()) == 16


def test_no_calibration_images_is_a_model_error(yolo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no calibration images"):
        quantize_yolo_int8(yolo_dir / "model.onnx", tmp_path / "out.onnx", [])
    with pytest.raises(ModelError, match="no calibration images"):
        quantize_int8(yolo_dir / "model.onnx", tmp_path / "out.onnx", [])


def test_csrnet_calibration_frames_are_prepared_as_the_runtime_prepares_them() -> None:
    from vigil.crowd.density import preprocess
    from vigil.models.csrnet import input_blob
    from vigil.models.quantize import read_image

    for path in calibration_images()[::5]:
        frame = read_image(path)
        for width in (384, 512, 200):
            np.testing.assert_array_equal(input_blob(frame, width), preprocess(frame, width))


def test_no_calibration_images_for_csrnet_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no calibration images"):
        quantize_csrnet_int8(tmp_path / "model.onnx", tmp_path / "out.onnx", [])
