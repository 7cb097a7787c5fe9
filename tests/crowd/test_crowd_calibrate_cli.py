"""``vigil crowd calibrate CAMERA FRAMES`` end to end on real Mall frames, and ``vigil crowd eval
--camera``: the fit is stored with the camera and audited with the signed-in account; each bad
input (unknown camera, too few frames, a point outside its frame) is one line and stores nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.cli.options import resolve_config
from vigil.core.errors import VigilError
from vigil.governance.auth import AuthService, principal_of
from vigil.store import Store

PASSWORD = "correct horse battery"


def _labelled(shared_data: Path, dest: Path, names: list[str]) -> Path:
    src = shared_data / "crowd" / "mall_dev"
    (dest / "images").mkdir(parents=True)
    (dest / "ground-truth").mkdir()
    for name in names:
        shutil.copy(src / "images" / f"{name}.jpg", dest / "images")
        shutil.copy(src / "ground-truth" / f"GT_{name}_points.csv", dest / "ground-truth")
    return dest


def _deployment(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    data = tmp_path / "data"
    monkeypatch.setenv("VIGIL_DATA_DIR", str(data))  # the environment wins over the file
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(data),
                "models_dir": str(models_dir),
                "cameras": [{"id": "mall", "url": "rtsp://127.0.0.1:8554/mall"}],
            }
        )
    )
    cfg = resolve_config(config)
    with Store.for_config(cfg) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        user = auth.add_user("rao", PASSWORD, "supervisor", None, actor="test")
        token = auth.issue_token(principal_of(user, "session"), "test", 1)[0]
    return config, token


def _vigil(token: str, args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env={"VIGIL_TOKEN": token})
    if isinstance(result.exception, VigilError):
        return 1, result.stdout, f"error: {result.exception}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _stored(config: Path) -> tuple[int, int]:
    with Store.for_config(resolve_config(config)) as store:
        return (
            len(store.crowd.calibrations("mall")),
            len(store.governance.audit.list(action="crowd.calibrate", limit=100)),
        )


def test_bad_calibration_input_is_one_line_and_stores_nothing(
    shared_data: Path, installed_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, token = _deployment(tmp_path, installed_models_dir, monkeypatch)
    names = [f"seq_{i:06d}" for i in range(1, 40, 2)]  # 20 frames
    good = _labelled(shared_data, tmp_path / "good", names)
    few = _labelled(shared_data, tmp_path / "few", names[:9])
    outside = _labelled(shared_data, tmp_path / "outside", names[:12])
    gt = outside / "ground-truth" / f"GT_{names[3]}_points.csv"
    gt.write_text(gt.read_text() + "700.0,20.5\n")  # the frames are 640x480

    cases = [
        (["crowd", "calibrate", "lobby", str(good), "--config", str(config)], "camera 'lobby' does not exist"),
        (["crowd", "calibrate", "mall", str(few), "--config", str(config)], "9 labelled frames given"),
        (["crowd", "calibrate", "mall", str(outside), "--config", str(config)], "(700, 20.5) is outside the 640x480"),
        (["crowd", "calibrate", "mall", str(tmp_path / "nope"), "--config", str(config)], "not a folder"),
    ]
    for args, expected in cases:
        code, _, err = _vigil(token, args)
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert expected in err, err
    assert _stored(config) == (0, 0)
    code, _, err = _vigil("", ["crowd", "calibrate", "mall", str(good), "--config", str(config)])
    assert code != 0 and _stored(config) == (0, 0)


@pytest.mark.slow
def test_calibration_is_stored_audited_and_used_by_eval(
    shared_data: Path, installed_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, token = _deployment(tmp_path, installed_models_dir, monkeypatch)
    frames = _labelled(shared_data, tmp_path / "calib", [f"seq_{i:06d}" for i in range(1, 80, 8)])  # 10 frames
    code, out, err = _vigil(token, ["crowd", "calibrate", "mall", str(frames), "--config", str(config), "--json"])
    assert code == 0, err
    stored = json.loads(out.strip().splitlines()[-1])
    assert stored["camera"] == "mall" and stored["frames"] == 10 and stored["people"] > 100
    (factor,) = stored["correction"]["factors"]
    assert 0.25 <= factor <= 4.0
    with Store.for_config(resolve_config(config)) as store:
        (record,) = store.governance.audit.list(action="crowd.calibrate", limit=10)
        active = store.crowd.active_calibration("mall")
    assert record.actor == "rao" and record.camera_id == "mall" and record.detail["via"] == "cli"
    assert active is not None and active.calibration_id == stored["calibration_id"] == record.object_id

    held_out = _labelled(shared_data, tmp_path / "held", [f"seq_{i:06d}" for i in range(401, 480, 16)])
    code, out, err = _vigil(
        token, ["crowd", "eval", str(held_out), "--camera", "mall", "--config", str(config), "--json"]
    )
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 5 and result["calibrated"]["n"] == 5
    assert set(result["bands"]) == set(result["calibrated"]["bands"]) == {"<20", "20-99", ">=100"}
    # The report names the tail that ran and the rule's settings (the linear far-path weights).
    assert result["density_tail"] == "tuned"
    assert (result["rule"]["far_combined"], result["rule"]["far_tuned"]) == (0.32, 0.76)
    # The calibrated counts are the uncalibrated ones times the factor (one band).
    assert result["calibrated"]["bias"] != result["bias"]
