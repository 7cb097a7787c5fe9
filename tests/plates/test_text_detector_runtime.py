"""The text detector under OpenVINO (``plates.text_detector_runtime``) against ONNX Runtime's, on real
US scenes: the same text lines, within a stated tolerance, and the same plate read.

Tolerance: f32 is the same arithmetic in another order (its map within 2e-5 of ONNX Runtime's), so
every line's corners within half a pixel (measured: identical on 9 scenes). bf16 (what ``auto`` takes
on AMX; on other CPUs OpenVINO emulates it, slower, with the same rounding) keeps 8 bits of mantissa:
its probability map is up to ~0.08 off, so a line's edge may move by a pixel or two of the detector's
input; corners within TOL_BF16_PX (measured on 9 scenes, 2026-12-07: 0 on 5, 2 px on 3, 4 px on 1;
0-2 px on these three), and the same number of lines. The whole-set accuracy of each runtime is in
tests/plates/test_plate_golden.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.config.plates import PlatesConfig
from vigil.core.errors import ModelError
from vigil.core.openvino_session import RuntimeChoice
from vigil.plates.eval import load_labels, read_image
from vigil.plates.ocr import Quad, RapidTextEngine
from vigil.workers.plates_stage import build_plate_reader

SCENES = ("car12.jpg", "car11.jpg", "car5.jpg")
"""Three US scenes of different sizes (each is a new input shape for OpenVINO)."""

TOL_F32_PX = 0.5
TOL_BF16_PX = 4.0


@pytest.fixture(scope="module")
def images(shared_data: Path) -> list[np.ndarray]:
    folder = shared_data / "plates" / "us"
    if not folder.is_dir():
        pytest.skip(f"labelled plates not found at {folder}")
    _, items = load_labels(folder)
    chosen = [read_image(i.image) for i in items if i.image.name in SCENES]
    assert len(chosen) == len(SCENES)
    return chosen


def _worst_corner_px(ours: list[Quad], theirs: list[Quad]) -> float:
    """The largest distance (pixels) from a corner of one of ``theirs`` lines to the same corner of
    the nearest of ``ours`` (lines matched by their nearest corners, so order does not matter)."""
    worst = 0.0
    for q in theirs:
        worst = max(worst, min(float(np.abs(p - q).max()) for p in ours))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "tol"), [("f32", TOL_F32_PX), ("bf16", TOL_BF16_PX)])
def test_openvino_detector_gives_onnxruntimes_lines(images: list[np.ndarray], precision: str, tol: float) -> None:
    pytest.importorskip("openvino", reason="the optional extra vigil[openvino] is not installed")
    ort = RapidTextEngine(threads=2)
    ov = RapidTextEngine(threads=2, detector_runtime=RuntimeChoice("openvino", precision, "test"))  # type: ignore[arg-type]
    for image in images:
        a, b = ort.detect_scene_lines(image), ov.detect_scene_lines(image)
        assert len(a) == len(b) > 0
        assert _worst_corner_px(b, a) <= tol
        assert _worst_corner_px(a, b) <= tol


@pytest.mark.slow
def test_default_reader_reads_the_same_plates_under_openvino_bf16(
    images: list[np.ndarray], installed_models_dir: Path
) -> None:
    pytest.importorskip("openvino", reason="the optional extra vigil[openvino] is not installed")
    ort = build_plate_reader(PlatesConfig(text_detector_runtime="onnxruntime"), installed_models_dir)
    ov = build_plate_reader(PlatesConfig(text_detector_runtime="onnxruntime"), installed_models_dir)
    assert isinstance(ov._ocr, RapidTextEngine)
    ov._ocr = RapidTextEngine(threads=2, detector_runtime=RuntimeChoice("openvino", "bf16", "test"))
    for image in images:
        a, b = ort.read_scene(image)[0], ov.read_scene(image)[0]
        assert a.text == b.text
        assert np.abs(np.subtract(a.box, b.box)).max() <= TOL_BF16_PX


def test_openvino_set_but_not_installed_refuses_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vigil.core.openvino_session.openvino_installed", lambda: False)
    with pytest.raises(ModelError, match=r"^plates.text_detector_runtime is 'openvino' but OpenVINO is not installed"):
        build_plate_reader(PlatesConfig(text_detector_runtime="openvino", recogniser="ppocr"), tmp_path)
