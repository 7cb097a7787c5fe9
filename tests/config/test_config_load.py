"""load_config: reading the file, YAML errors, paths relative to the file, environment overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vigil.config import VigilConfig, load_config
from vigil.core.errors import ConfigError


@pytest.fixture(autouse=True)
def no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own VIGIL_* settings must not leak into these tests."""
    monkeypatch.delenv("VIGIL_DATA_DIR", raising=False)
    monkeypatch.delenv("VIGIL_MODELS_DIR", raising=False)


def write_config(folder: Path, text: str | bytes, name: str = "vigil.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


# -- files that cannot become a config -------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cameras:\n  - id: a\n    url: [unclosed\n", r"YAML syntax error at line 4, column 1: expected ','"),
        ("detector:\n  confidence: 0.3\n\tthreads: 2\n", r"YAML syntax error at line 3, column 1: .*'\\t'"),
        ('cameras: "unterminated\n', r"YAML syntax error at line 2, column 1"),
        ("a: b: c\n", r"YAML syntax error at line 1, column 5: mapping values are not allowed"),
        ("- id: a\n- id: b\n", r"the top level must be a mapping of keys, got list"),
        ("just a sentence\n", r"the top level must be a mapping of keys, got str"),
        ("cameras:\n  - id: a\n    url: a.mp4\n    fps: 3\n", r"unknown key 'cameras\[0\]\.fps'"),
        (b"cameras:\n  - id: caf\xe9\n", r"cannot be read: 'utf-8' codec can't decode byte 0xe9"),
    ],
    ids=[
        "unclosed-flow",
        "tab",
        "unterminated-quote",
        "nested-colon",
        "list",
        "scalar",
        "unknown",
        "latin-1",
    ],
)
def test_unusable_file_gives_one_line_naming_the_file(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = write_config(tmp_path, text)
    message = load_error(path)
    assert str(path) in message
    assert re.search(expected, message), message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert load_error(path) == f"config file {path} does not exist"


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    assert "cannot be read" in load_error(tmp_path)


def test_yaml_error_keeps_the_parser_error_as_cause(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, "a: [\n"))
    assert isinstance(info.value.__cause__, yaml.YAMLError)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    cfg = load_config(write_config(tmp_path, text))
    tmp_path = tmp_path.resolve()
    assert cfg.cameras == ()
    assert cfg.detector == VigilConfig().detector
    assert cfg.tracker == VigilConfig().tracker
    # even the default data dir is anchored at the config's folder, not the working dir
    assert cfg.data_dir == tmp_path / "vigil-data"
    assert cfg.models_dir is None
    assert cfg.resolved_models_dir == tmp_path / "vigil-data" / "models"


# -- paths relative to the config file -------------------------------------------------
CONFIG_WITH_PATHS = """\
data_dir: data
models_dir: ../shared-models
cameras:
  - {id: rel, url: clips/front.mp4}
  - {id: dotted, url: ./back.mp4}
  - {id: abs, url: /srv/clips/yard.mp4}
  - {id: file-url, url: "file:///srv/clips/gate.mp4"}
  - {id: rtsp, url: "rtsp://user:pw@10.0.0.5:554/stream1?channel=1"}
  - {id: rtsps, url: "rtsps://cam.example/live"}
  - {id: hls, url: "https://cam.example/live.m3u8"}
"""


@pytest.mark.parametrize(
    ("camera_id", "expected_url"),
    [
        ("rel", "{base}/clips/front.mp4"),
        ("dotted", "{base}/back.mp4"),
        ("abs", "/srv/clips/yard.mp4"),
        ("file-url", "file:///srv/clips/gate.mp4"),
        ("rtsp", "rtsp://user:pw@10.0.0.5:554/stream1?channel=1"),
        ("rtsps", "rtsps://cam.example/live"),
        ("hls", "https://cam.example/live.m3u8"),
    ],
)
def test_camera_urls_are_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, camera_id: str, expected_url: str
) -> None:
    write_config(tmp_path / "site", CONFIG_WITH_PATHS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # a relative config path: the folder must come from the file, not the working dir
    cfg = load_config(Path("..") / "site" / "vigil.yaml")
    cam = next(c for c in cfg.cameras if c.id == camera_id)
    base = (tmp_path / "site").resolve()
    assert cam.url == expected_url.format(base=base)


def test_data_and_models_dirs_are_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "site", CONFIG_WITH_PATHS)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path.relative_to(tmp_path))
    assert cfg.data_dir.is_absolute()
    assert cfg.data_dir == (tmp_path / "site" / "data").resolve()
    assert cfg.models_dir is not None
    assert cfg.models_dir.resolve() == (tmp_path / "shared-models").resolve()
    assert [c.id for c in cfg.cameras] == ["rel", "dotted", "abs", "file-url", "rtsp", "rtsps", "hls"]


def test_absolute_dirs_are_kept(tmp_path: Path) -> None:
    data, models = tmp_path / "abs-data", tmp_path / "abs-models"
    cfg = load_config(write_config(tmp_path / "site", f"data_dir: {data}\nmodels_dir: {models}\n"))
    assert (cfg.data_dir, cfg.models_dir) == (data, models)


# -- environment overrides -------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "expected_data", "expected_models"),
    [
        ({}, "{base}/data", "{base}/../shared-models"),
        ({"VIGIL_DATA_DIR": "/var/lib/vigil"}, "/var/lib/vigil", "{base}/../shared-models"),
        ({"VIGIL_MODELS_DIR": "/opt/models"}, "{base}/data", "/opt/models"),
        ({"VIGIL_DATA_DIR": "/d", "VIGIL_MODELS_DIR": "/m"}, "/d", "/m"),
        ({"VIGIL_DATA_DIR": ""}, "{base}/data", "{base}/../shared-models"),
    ],
    ids=["none", "data", "models", "both", "empty-is-unset"],
)
def test_environment_overrides_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    expected_data: str,
    expected_models: str,
) -> None:
    path = write_config(tmp_path / "site", CONFIG_WITH_PATHS)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = load_config(path)
    base = str((tmp_path / "site").resolve())
    assert cfg.data_dir == Path(expected_data.format(base=base))
    assert cfg.models_dir == Path(expected_models.format(base=base))


def test_environment_is_read_at_load_time_not_import_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "")
    assert load_config(path).data_dir == tmp_path.resolve() / "vigil-data"
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path / "later"))
    assert load_config(path).data_dir == tmp_path / "later"
