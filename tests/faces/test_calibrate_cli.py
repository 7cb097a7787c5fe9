"""``vigil calibrate``: refusals on bad folders; the real run on the deepface set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.config import VigilConfig
from vigil.governance.auth import AuthService, principal_of
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


def _supervisor_token(deployment: VigilConfig) -> str:
    """A supervisor's API token: setting the threshold is done as a signed-in account."""
    with Store.for_config(deployment) as store:
        auth = AuthService(store.governance, deployment.governance.auth)
        user = auth.add_user("cal", "correct horse battery", "supervisor", None, actor="test")
        return auth.issue_token(principal_of(user, "session"), "test", 1)[0]


def test_calibrate_deepface_sets_threshold(shared_data: Path, deployment: VigilConfig, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = runner.invoke(
        app,
        ["calibrate", str(shared_data / "faces" / "deepface" / "identities"), "--json", "--report", str(report),
         "--set-threshold-fmr", "1e-3", "--reason", "quarterly calibration",
         "--data-dir", str(deployment.data_dir)],
        env={"VIGIL_TOKEN": _supervisor_token(deployment)},
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
    assert cal.set_by == "cal" and cal.n_impostor == out["n_impostor"]


def _to_pgm(src: Path, dst: Path, long_side: int = 320) -> None:
    """Write ``src`` as an 8-bit binary PGM (the AT&T/ORL face database's format)."""
    import cv2

    grey = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
    assert grey is not None, src
    scale = long_side / max(grey.shape)
    grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(dst), grey)


def test_calibrate_reads_pgm_identity_folders(shared_data: Path, deployment: VigilConfig, tmp_path: Path) -> None:
    """Hole 16: the ORL layout (``s1/1.pgm`` …) was refused as 'no identity folders with images'."""
    source = shared_data / "faces" / "deepface" / "identities"
    orl = tmp_path / "orl"
    n = 0
    for identity in sorted(source.iterdir())[:4]:
        (orl / identity.name).mkdir(parents=True)
        for i, img in enumerate(sorted(identity.glob("*.jpg"))[:3], start=1):
            _to_pgm(img, orl / identity.name / f"{i}.pgm")
            n += 1
    assert (orl / "id00" / "1.pgm").read_bytes()[:2] == b"P5"
    result = runner.invoke(app, ["calibrate", str(orl), "--json", "--data-dir", str(deployment.data_dir)])
    assert result.exit_code == 0, (result.output, result.exception)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["n_images"] == n
    assert out["n_no_face"] < n // 2, out
    assert out["n_genuine"] > 0 and out["n_impostor"] > 0


def test_folder_with_no_readable_image_names_the_formats_found(tmp_path: Path, deployment: VigilConfig) -> None:
    root = tmp_path / "faces"
    for who, names in {"alice": ["a.heic", "b.heic", "notes.txt"], "bob": ["c.heic"]}.items():
        (root / who).mkdir(parents=True)
        for name in names:
            (root / who / name).write_bytes(b"\x00\x00\x00\x18ftypheic not an image OpenCV reads")
    result = runner.invoke(app, ["calibrate", str(root), "--json", "--data-dir", str(deployment.data_dir)])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "\n" not in message
    assert ".heic (3)" in message and ".txt (1)" in message, message
    assert "none" in message and ".pgm" in message, message
