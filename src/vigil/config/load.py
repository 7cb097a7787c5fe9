"""Reading YAML into the config tree, with errors that name the key path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from vigil.config.root import VigilConfig
from vigil.core.errors import ConfigError


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _describe(exc: ValidationError, source: str) -> str:
    """One line for the first error: where, what was given, what is allowed."""
    err = exc.errors(include_url=False)[0]
    # Drop pydantic's union/function tags, which mean nothing to a user.
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
    where = _key_path(loc)
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        valid = ", ".join(_keys_at(loc[:-1]))
        return f"{source}: unknown key {where!r}; allowed keys here: {valid}"
    if err["type"] == "missing":
        return f"{source}: {where} is required"
    count = exc.error_count()
    more = f" (and {count - 1} more error{'s' if count > 2 else ''})" if count > 1 else ""
    given = err.get("input")
    if not loc:
        # A rule over the whole file (duplicate ids): the message names its own key path.
        return f"{source}: {msg}{more}"
    if isinstance(given, Mapping) and str(err["type"]).endswith("_type"):
        return f"{source}: {where}: got a mapping; {_allowed(msg)}{more}"
    if isinstance(given, Mapping):
        # A whole section failed a cross-field rule: its value would only be noise.
        return f"{source}: {where}: {msg}{more}"
    shown = repr(given)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{source}: {where}: got {shown}; {_allowed(msg)}{more}"


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the config section at ``loc`` accepts."""
    model: type[BaseModel] = VigilConfig
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        inner = [a for a in (annotation, *get_args(annotation)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _allowed(msg: str) -> str:
    """Rephrase pydantic's 'Input should be ...' as what is allowed."""
    msg = msg.replace("a valid tuple", "a list")
    if msg.startswith("Input should be "):
        return "expected " + msg.removeprefix("Input should be ")
    if msg.startswith("String should match pattern "):
        return "expected text matching " + msg.removeprefix("String should match pattern ")
    return msg


def parse_config(data: Mapping[str, Any] | None, source: str = "config") -> VigilConfig:
    """Validate a mapping (e.g. parsed YAML); raises ConfigError with one line."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(data).__name__}")
    try:
        return VigilConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc


def load_config(path: Path) -> VigilConfig:
    """Load and validate a YAML config file.

    Relative ``data_dir``, ``models_dir`` and camera file paths are taken relative to the
    config file's folder, so a config works from any working directory. The environment
    variables ``VIGIL_DATA_DIR`` and ``VIGIL_MODELS_DIR`` override the file when set.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from exc
    cfg = parse_config(data, source=str(path))
    base = path.resolve().parent
    updates: dict[str, Any] = {}
    if not cfg.data_dir.is_absolute():
        updates["data_dir"] = base / cfg.data_dir
    if cfg.models_dir is not None and not cfg.models_dir.is_absolute():
        updates["models_dir"] = base / cfg.models_dir
    cams = []
    for cam in cfg.cameras:
        if cam.is_file and not cam.url.startswith("file:") and not Path(cam.url).is_absolute():
            cams.append(cam.model_copy(update={"url": str(base / cam.url)}))
        else:
            cams.append(cam)
    updates["cameras"] = tuple(cams)
    return apply_env(cfg.model_copy(update=updates))


def apply_env(cfg: VigilConfig) -> VigilConfig:
    """Apply ``VIGIL_DATA_DIR`` / ``VIGIL_MODELS_DIR`` overrides (read here, never at import)."""
    updates: dict[str, Any] = {}
    if data_dir := os.environ.get("VIGIL_DATA_DIR"):
        updates["data_dir"] = Path(data_dir)
    if models_dir := os.environ.get("VIGIL_MODELS_DIR"):
        updates["models_dir"] = Path(models_dir)
    return cfg.model_copy(update=updates) if updates else cfg
