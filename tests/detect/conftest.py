"""Fixtures for detector tests: the installed YOLO model and real frames from the shared data."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from vigil.models import install, verify

ROOT = Path(__file__).resolve().parents[2]
VIDEO_DIR = ROOT.parent / "shared" / "data" / "video"
# (file, frame indices): spread over each clip, crowded and empty scenes alike.
CLIPS = (
    ("opencv/vtest.avi", (0, 150, 300, 450, 600, 780)),
    ("intel/car-detection.mp4", (20, 200, 360)),
    ("intel/one-by-one-person-detection.mp4", (100, 700, 1300)),
)


@pytest.fixture(scope="session")
def yolo_dir() -> Path:
    """``$VIGIL_MODELS_DIR/yolov4-tiny`` (default ``<repo>/vigil-data/models``), installed and verified."""
    models_dir = Path(os.environ.get("VIGIL_MODELS_DIR", str(ROOT / "vigil-data" / "models")))
    if verify(models_dir, ["yolov4-tiny"])[0].status != "ok":
        install(models_dir, ["yolov4-tiny"])
    return models_dir / "yolov4-tiny"


def decode_frames(path: Path, indices: tuple[int, ...]) -> list[NDArray[np.uint8]]:
    """Decode the frames at ``indices`` (sorted) as ``(H, W, 3)`` uint8 BGR."""
    wanted = set(indices)
    frames: list[NDArray[np.uint8]] = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames.append(frame.to_ndarray(format="bgr24"))
            if index >= max(indices):
                break
    return frames


@pytest.fixture(scope="session")
def real_frames() -> list[tuple[str, NDArray[np.uint8]]]:
    """12 real CCTV-style frames as ``(label, BGR image)``; skips when the shared data is absent."""
    if not VIDEO_DIR.is_dir():
        pytest.skip(f"shared evaluation data not found at {VIDEO_DIR} (see /work/shared/data/README.md)")
    out: list[tuple[str, NDArray[np.uint8]]] = []
    for name, indices in CLIPS:
        for index, image in zip(indices, decode_frames(VIDEO_DIR / name, indices), strict=True):
            out.append((f"{name}#{index}", image))
    return out


@pytest.fixture(scope="session")
def vtest_frame() -> NDArray[np.uint8]:
    """Frame 300 of OpenCV's vtest.avi: a pedestrian street with 6 people walking (checked by eye)."""
    path = VIDEO_DIR / "opencv" / "vtest.avi"
    if not path.is_file():
        pytest.skip(f"shared evaluation data not found: {path}")
    return decode_frames(path, (300,))[0]


SHARED_MODELS = ROOT.parent / "shared" / "models"


@pytest.fixture(scope="session")
def yolox_path() -> Path:
    """The installed YOLOX-Nano graph (installed from ``../shared/models`` as CI does when missing)."""
    models_dir = Path(os.environ.get("VIGIL_MODELS_DIR", str(ROOT / "vigil-data" / "models")))
    if verify(models_dir, ["yolox-nano"])[0].status != "ok":
        if not SHARED_MODELS.is_dir():
            pytest.skip(f"YOLOX-Nano copy not found at {SHARED_MODELS} and not installed")
        install(models_dir, ["yolox-nano"], source_from=SHARED_MODELS)
    return models_dir / "yolox-nano" / "yolox_nano.onnx"


@pytest.fixture(scope="session")
def picodet_path(yolox_path: Path) -> Path:
    """The installed PP-PicoDet-S 416 graph (optional: installed from ``../shared/models`` when missing)."""
    models_dir = yolox_path.parents[1]
    if verify(models_dir, ["picodet-s-416"])[0].status != "ok":
        if not (SHARED_MODELS / "detectors" / "picodet-s-416-legacy").is_dir():
            pytest.skip(f"PicoDet copy not found in {SHARED_MODELS} and not installed")
        install(models_dir, ["picodet-s-416"], source_from=SHARED_MODELS)
    return models_dir / "picodet-s-416" / "picodet_s_416_coco.onnx"


@pytest.fixture(scope="session")
def vtest_clip() -> Path:
    path = VIDEO_DIR / "opencv" / "vtest.avi"
    if not path.is_file():
        pytest.skip(f"shared evaluation data not found: {path}")
    return path
