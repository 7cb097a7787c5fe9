"""Fixtures for model-installation tests: the real installed model directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vigil.models import install, verify

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """``$VIGIL_MODELS_DIR`` (default ``<repo>/vigil-data/models``), yolov4-tiny installed and verified."""
    path = Path(os.environ.get("VIGIL_MODELS_DIR", str(ROOT / "vigil-data" / "models")))
    if verify(path, ["yolov4-tiny"])[0].status != "ok":
        install(path, ["yolov4-tiny"])
    return path


@pytest.fixture(scope="session")
def yolo_dir(models_dir: Path) -> Path:
    return models_dir / "yolov4-tiny"
