"""``vigil calibrate``: refusals on bad folders; the real run on the deepface set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.config import VigilConfig
from vigil.store.facade import Store

from .conftest import PORTRAIT

runner = CliRunner()


def test_empty_folder_and_single_identity_are_refused(tmp_path: Path, deployment: VigilConfig) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["calibrate", "--json", "--data-dir", str(deployment.data_dir)]
    result = runner.invoke(app, [*args[:1], str(empty), *args[1:]])
    assert result.exit_code != 0 and "no identity folders" in str(result.exception)
    one = tmp_path / "one" / "alice"
    one.mkdir(parents=True)
    shutil.copy(PORTRAIT, one / "a.jpg")
    result = runner.invoke(app, ["calibrate", str(one.parent), "--json", "--data-dir", str(deployment.data_dir)])
    assert result.exit_code != 0 and "only one identity" in str(result.exception)


def test_calibrate_deepface_sets_threshold(shared_data: Path, deployment: VigilConfig, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = runner.invoke(
        app,
        ["calibrate", str(shared_data / "faces" / "deepface" / "identities"), "--json", "--report", str(report),
         "--set-threshold-fmr", "1e-3", "--by", "Cal Ibrator", "--reason", "quarterly calibration",
         "--data-dir", str(deployment.data_dir)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "n_images",
        "n_no_face",
        "n_genuine",
        "n_impostor",
        "eer",
        "tar_at_fmr",
        "threshold_at_fmr",
        "embedder",
    ):
        assert key in out
    assert set(out["tar_at_fmr"]) == {"1e-2", "1e-3", "1e-4"}
    assert out["n_genuine"] + out["n_impostor"] == out["n_images"] * (out["n_images"] - 1) // 2
    assert {p.name for p in report.iterdir()} == {"roc.png", "histograms.png", "report.md"}
    assert (report / "roc.png").read_bytes()[:4] == b"\x89PNG"
    with Store.open(deployment.store_url) as store:
        cal = store.faces.active_calibration()
    assert cal is not None and cal.calibration_id == out["calibration_id"]
    assert cal.threshold == pytest.approx(out["threshold_at_fmr"]["1e-3"], abs=1e-5)
    assert cal.set_by == "Cal Ibrator" and cal.n_impostor == out["n_impostor"]
