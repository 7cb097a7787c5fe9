"""Fixtures of the faces tests: the real models, a deployment in a temporary data dir."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.config import VigilConfig
from vigil.config.faces import FacesConfig
from vigil.core.accountability import Authorisation
from vigil.faces import FacePipeline
from vigil.store.facade import Store

REPO = Path(__file__).resolve().parents[2]
PORTRAIT = REPO / "samples" / "faces" / "astronaut.jpg"


@pytest.fixture(scope="session")
def face_pipeline(installed_models_dir: Path) -> FacePipeline:
    return FacePipeline.load(installed_models_dir / "yunet", installed_models_dir / "sface", FacesConfig())


@pytest.fixture
def deployment(tmp_path: Path, installed_models_dir: Path) -> VigilConfig:
    return VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)


@pytest.fixture
def store(deployment: VigilConfig) -> Iterator[Store]:
    deployment.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(deployment.store_url) as s:
        yield s


def authorisation(days: float = 30, legal_basis: str = "WARRANT-42 test", **kw: str) -> Authorisation:
    return Authorisation(
        legal_basis=legal_basis,
        authorised_by=kw.get("authorised_by", "Sam Supervisor"),
        entered_by=kw.get("entered_by", "Olu Operator"),
        expires_at=datetime.now(UTC) + timedelta(days=days),
    )
