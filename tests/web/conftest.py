"""Browser-test fixtures: one seeded deployment on a real uvicorn server, Debian's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_support import Live, make_config, seed, serve

from vigil.store.facade import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            f"{CHROMIUM} is absent: the browser tests drive Debian's Chromium "
            "(apt-get install chromium; CI installs it in .ci/run)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, installed_models_dir: Path, chromium_path: Path) -> Iterator[Live]:
    """Enrolled subject found by the real pipeline at two cameras, crowd counts, plate reads."""
    root = tmp_path_factory.mktemp("web")
    cfg = make_config(root, installed_models_dir)
    cfg.data_dir.mkdir(parents=True)
    with Store.open(cfg.store_url) as store:
        seed(cfg, store)
        with serve(cfg, store) as running:
            yield running


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
