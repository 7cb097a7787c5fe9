"""Service-layer fixtures: the API test deployment (tests/api/api_support.py) behind every door."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from api_support import Env, build_env

from vigil.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'vigil.db'}") as opened:
        yield opened


@pytest.fixture
def env(tmp_path: Path, store: Store) -> Iterator[Env]:
    yield from build_env(tmp_path, store)
