"""Release-asset models: downloads from a real HTTP server on loopback, ``--from`` folders and
mirrors, and the checks that keep a bad file from ever becoming the installed model.

The files are the real CCT-XS recognisers from ``../shared/models/plates``; the server serves
them as they are, altered, cut off, too long or not at all.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from vigil.core.errors import ModelError, ModelMissingError
from vigil.models import MODELS, Asset, ModelSpec, ReleaseAssets, fetch, install, list_models, require, verify
from vigil.models.fetch import sha256_file
from vigil.models.install import RECORD
from vigil.models.plate_ocr import check_plate_ocr

SHARED_PLATES = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "plates"
SPEC = MODELS["plates-cct"]
assert isinstance(SPEC.source, ReleaseAssets)
V2 = SHARED_PLATES / "cct_xs_v2_global"
V1 = SHARED_PLATES / "cct_xs_v1_global"

pytestmark = pytest.mark.skipif(not V2.is_dir(), reason=f"recogniser copies not found at {SHARED_PLATES}")


class AssetServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` by name under a mode: ``/ok/NAME``, ``/corrupt/NAME``, ``/truncated/NAME``,
    ``/long/NAME``, ``/redirect/NAME``, ``/stall/NAME``; anything else is 404."""

    daemon_threads = True

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), AssetHandler)
        self.files = files
        self.requests: list[str] = []
        self.release = threading.Event()  # set at teardown: a stalled transfer ends

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class AssetHandler(http.server.BaseHTTPRequestHandler):
    server: AssetServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        body = self.server.files.get(name)
        if body is None or mode not in {"ok", "corrupt", "truncated", "long", "redirect", "stall"}:
            self.send_error(404, "Not Found")
            return
        if mode == "redirect":  # as GitHub sends release downloads to its object store
            self.send_response(302)
            self.send_header("Location", f"/ok/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "corrupt":  # same size, one byte changed in the middle
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        self.send_response(200)
        if mode == "long":  # no length announced: the body runs on past the pinned size
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body + b"\0" * 4096)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "stall":  # a third of the file, then nothing more until the test ends
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.server.release.wait(30)
            self.close_connection = True
            return
        if mode == "truncated":  # the connection drops after a third of the file
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[AssetServer]:
    files = {p.name: p.read_bytes() for p in V2.iterdir() if p.name != "PROVENANCE.md"}
    srv = AssetServer(files)
    thread = threading.Thread(target=srv.serve_forever, name="asset-server", daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def served(spec: ModelSpec, base: str) -> ModelSpec:
    """``spec`` with every asset's address moved to ``base`` (same pins)."""
    assert isinstance(spec.source, ReleaseAssets)
    assets = tuple(dataclasses.replace(a, url=f"{base}/{a.filename}") for a in spec.source.assets)
    return dataclasses.replace(spec, source=dataclasses.replace(spec.source, assets=assets))


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def leftovers(models_dir: Path) -> list[str]:
    """Anything in the models dir but the models themselves: temp and half-built folders."""
    return sorted(p.name for p in models_dir.iterdir() if p.name not in MODELS)


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A models dir with plates-cct installed from the shared folder; returns the models dir."""
    models_dir = tmp_path / "models"
    install(models_dir, ["plates-cct"], source_from=SHARED_PLATES)
    return models_dir


def snapshot(model_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(model_dir.iterdir())}


def test_download_from_the_pinned_address_installs_checks_and_records_it(server: AssetServer, tmp_path: Path) -> None:
    spec = served(SPEC, f"{server.base}/redirect")
    messages: list[str] = []
    (state,) = install(tmp_path, ["plates-cct"], catalogue={spec.name: spec}, on_progress=messages.append)
    assert (state.status, state.detail) == ("ok", "")
    model = tmp_path / "plates-cct"
    assert sorted(p.name for p in model.iterdir()) == sorted((*SPEC.outputs, RECORD))
    for name in SPEC.outputs:  # byte for byte the pinned files
        assert sha256_file(model / name) == sha256_file(V2 / name)
    record = json.loads((model / RECORD).read_text())
    assert record["source"] == SPEC.source.pin()  # the same pins as upstream: a real install
    assert record["installed_from"] == ", ".join(f"{server.base}/redirect/{n}" for n in SPEC.outputs)
    assert record["licence"].startswith("MIT")
    assert sorted(server.requests) == sorted(f"/{m}/{n}" for n in SPEC.outputs for m in ("redirect", "ok"))
    assert any("converting and checking" in m for m in messages)
    assert leftovers(tmp_path) == []
    contract = check_plate_ocr(*(model / n for n in SPEC.outputs[:2]))
    assert (contract.slots, len(contract.alphabet), len(contract.regions)) == (10, 37, 66)


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        pytest.param(
            "corrupt", r"/corrupt/cct_xs_v2_global\.onnx: sha256 mismatch: expected 8031afb5.*, got ", id="sha"
        ),
        pytest.param(
            "truncated", r"/truncated/cct_xs_v2_global\.onnx: transfer cut off after \d+ of 3344292 bytes", id="cut"
        ),
        pytest.param("long", r"/long/cct_xs_v2_global\.onnx: longer than the pinned 3344292 bytes", id="long"),
        pytest.param(
            "gone", r"cannot download http://127\.0\.0\.1:\d+/gone/cct_xs_v2_global\.onnx: HTTP 404", id="404"
        ),
    ],
)
def test_a_bad_transfer_is_one_line_and_the_installed_model_keeps_working(
    server: AssetServer, installed: Path, mode: str, match: str
) -> None:
    before = snapshot(installed / "plates-cct")
    spec = served(SPEC, f"{server.base}/{mode}")
    with pytest.raises(ModelError, match=match) as caught:
        install(installed, ["plates-cct"], catalogue={spec.name: spec}, force=True)
    assert "\n" not in str(caught.value)
    assert snapshot(installed / "plates-cct") == before
    assert require(installed, "plates-cct") == installed / "plates-cct"
    assert leftovers(installed) == []


def test_a_stalled_transfer_times_out_in_one_line(
    server: AssetServer, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "READ_TIMEOUT_S", 0.5)
    before = snapshot(installed / "plates-cct")
    spec = served(SPEC, f"{server.base}/stall")
    with pytest.raises(ModelError, match=r"/stall/cct_xs_v2_global\.onnx: timed out .*--from DIR\)$"):
        install(installed, ["plates-cct"], catalogue={spec.name: spec}, force=True)
    assert snapshot(installed / "plates-cct") == before
    assert leftovers(installed) == []


def test_a_refused_connection_is_one_line_naming_the_address(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{refused_port()}"
    spec = served(SPEC, base)
    with pytest.raises(ModelError) as caught:
        install(tmp_path, ["plates-cct"], catalogue={spec.name: spec})
    message = str(caught.value)
    assert message.startswith(f"cannot download {base}/cct_xs_v2_global.onnx: connection refused")
    assert "--from DIR" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # not even an empty model dir


def test_a_half_downloaded_file_is_never_a_model(server: AssetServer, tmp_path: Path) -> None:
    # Only the graph is cut off: the config and licence arrive whole, yet nothing is installed.
    spec = served(SPEC, f"{server.base}/ok")
    assert isinstance(spec.source, ReleaseAssets)
    graph, *rest = spec.source.assets
    cut = dataclasses.replace(graph, url=f"{server.base}/truncated/{graph.filename}")
    spec = dataclasses.replace(spec, source=dataclasses.replace(spec.source, assets=(*rest, cut)))
    with pytest.raises(ModelError, match="transfer cut off"):
        install(tmp_path, ["plates-cct"], catalogue={spec.name: spec})
    assert list(tmp_path.iterdir()) == []
    (state,) = verify(tmp_path, ["plates-cct"])
    assert state.status == "missing"


def test_from_folder_finds_the_files_in_subfolders_and_records_the_folder(tmp_path: Path) -> None:
    (state,) = install(tmp_path, ["plates-cct-v1"], source_from=SHARED_PLATES)
    assert state.status == "ok"
    assert state.installed_from == str(SHARED_PLATES.resolve())
    (listed,) = [s for s in list_models(tmp_path) if s.name == "plates-cct-v1"]
    assert listed.licence.startswith("MIT") and "cnn-ocr-lp/releases/download" in listed.source


@pytest.mark.parametrize(
    ("folder_name", "match"),
    [
        pytest.param("nowhere", r"--from .*/nowhere: no such folder$", id="no-folder"),
        pytest.param(
            "empty",
            r"--from .*/empty: no file cct_xs_v2_global\.onnx in it or in 2 levels of subfolders$",
            id="no-files",
        ),
    ],
)
def test_from_a_folder_without_the_files_is_one_line(
    installed: Path, tmp_path: Path, folder_name: str, match: str
) -> None:
    folder = tmp_path / folder_name
    if folder_name == "empty":
        (folder / "sub" / "subsub").mkdir(parents=True)
    before = snapshot(installed / "plates-cct")
    with pytest.raises(ModelError, match=match):
        install(installed, ["plates-cct"], source_from=folder, force=True)
    assert snapshot(installed / "plates-cct") == before
    assert leftovers(installed) == []


def test_from_a_folder_with_an_altered_file_names_it(installed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(V2, folder)
    config = folder / "cct_xs_v2_global_plate_config.yaml"
    config.chmod(0o644)
    config.write_text(config.read_text().replace("max_plate_slots: 10", "max_plate_slots: 09"))  # same size
    before = snapshot(installed / "plates-cct")
    with pytest.raises(
        ModelError, match=rf"^{folder}/cct_xs_v2_global_plate_config\.yaml: sha256 mismatch: expected 0335c74a"
    ):
        install(installed, ["plates-cct"], source_from=folder, force=True)
    assert snapshot(installed / "plates-cct") == before


def _pinned_to(folder: Path, files: dict[str, Path]) -> ModelSpec:
    """A plates-cct spec that pins exactly ``files`` (copied into ``folder`` under their new names)."""
    folder.mkdir(parents=True, exist_ok=True)
    assets = []
    for name, path in files.items():
        shutil.copyfile(path, folder / name)
        assets.append(
            Asset(f"https://example.invalid/{name}", sha256_file(folder / name), (folder / name).stat().st_size)
        )
    assert isinstance(SPEC.source, ReleaseAssets)
    return dataclasses.replace(SPEC, source=dataclasses.replace(SPEC.source, assets=tuple(assets)))


def _config_with(tmp_path: Path, **changes: object) -> Path:
    cfg = yaml.safe_load((V2 / "cct_xs_v2_global_plate_config.yaml").read_text())
    cfg.update(changes)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    ("files", "match"),
    [
        pytest.param(
            lambda tmp: {
                "cct_xs_v2_global_plate_config.yaml": _config_with(tmp, alphabet="0123456789ABCDEFGHIJKLMNPQRSTUVWXYZ_")
            },
            r"cct_xs_v2_global_plate_config\.yaml: alphabet has 36 characters, cct_xs_v2_global\.onnx outputs 37 "
            r"classes per slot$",
            id="alphabet",
        ),
        pytest.param(
            lambda tmp: {"cct_xs_v2_global_plate_config.yaml": _config_with(tmp, max_plate_slots=9)},
            r"max_plate_slots is 9, cct_xs_v2_global\.onnx has 10 slots$",
            id="slots",
        ),
        pytest.param(
            lambda tmp: {"cct_xs_v2_global_plate_config.yaml": _config_with(tmp, plate_regions=["Brazil", "Unknown"])},
            r"lists 2 plate_regions, cct_xs_v2_global\.onnx's region head has 66$",
            id="regions",
        ),
        pytest.param(
            lambda tmp: {"cct_xs_v2_global_plate_config.yaml": _config_with(tmp, img_width=160)},
            r"cct_xs_v2_global\.onnx: input is \[.*\] \(height, width, channels\) but .* says \[64, 160, 3\]",
            id="input-size",
        ),
        pytest.param(  # the v1 graph (9 slots, no region head) under the v2 name
            lambda tmp: {"cct_xs_v2_global.onnx": V1 / "cct_xs_v1_global.onnx"},
            r"max_plate_slots is 10, cct_xs_v2_global\.onnx has 9 slots$",
            id="wrong-graph",
        ),
        pytest.param(
            lambda tmp: {"cct_xs_v2_global.onnx": V2 / "LICENSE"},
            r"cct_xs_v2_global\.onnx: ONNX Runtime cannot load it",
            id="not-onnx",
        ),
    ],
)
def test_a_config_that_disagrees_with_the_graph_is_refused_and_the_old_model_kept(
    installed: Path, tmp_path: Path, files: object, match: str
) -> None:
    """Pinned (so the hash passes) but inconsistent: the converter's check is what refuses it."""
    chosen = {p.name: p for p in V2.iterdir() if p.name in SPEC.outputs}
    chosen |= files(tmp_path)  # type: ignore[operator]
    folder = tmp_path / "pinned"
    spec = _pinned_to(folder, chosen)
    before = snapshot(installed / "plates-cct")
    with pytest.raises(ModelError, match=match) as caught:
        install(installed, ["plates-cct"], catalogue={spec.name: spec}, source_from=folder, force=True)
    assert "\n" not in str(caught.value)
    assert snapshot(installed / "plates-cct") == before
    assert require(installed, "plates-cct") == installed / "plates-cct"
    assert leftovers(installed) == []


def test_require_names_the_offline_install_too(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as caught:
        require(tmp_path, "plates-cct")
    assert str(caught.value) == (
        f"model 'plates-cct' is not installed in {tmp_path}; run: vigil models install "
        "(offline: vigil models install plates-cct --from DIR)"
    )


def test_an_install_pinned_to_other_files_is_corrupt(installed: Path) -> None:
    record_path = installed / "plates-cct" / RECORD
    record = json.loads(record_path.read_text())
    record["source"]["assets"]["cct_xs_v2_global.onnx"]["sha256"] = "0" * 64
    record_path.write_text(json.dumps(record))
    (state,) = verify(installed, ["plates-cct"])
    assert state.status == "corrupt"
    assert state.detail.startswith("installed from release assets ")


# -- through the command line, as an operator would --------------------------------------------------


def vigil(*args: str, models_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_MODELS_DIR=str(models_dir), VIGIL_DATA_DIR=str(models_dir.parent / "data"))
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_installs_from_a_mirror_and_refuses_bad_sources_in_one_line(server: AssetServer, tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    ok = vigil("models", "install", "plates-cct", "--from", f"{server.base}/ok", models_dir=models_dir)
    assert ok.returncode == 0, ok.stderr
    before = snapshot(models_dir / "plates-cct")

    cut = vigil(
        "models", "install", "plates-cct", "--force", "--from", f"{server.base}/truncated", models_dir=models_dir
    )
    assert "transfer cut off after" in error_line(cut)
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = vigil("models", "install", "plates-cct", "--force", "--from", str(empty), models_dir=models_dir)
    assert error_line(missing) == (
        f"error: --from {empty}: no file cct_xs_v2_global.onnx in it or in 2 levels of subfolders"
    )
    assert snapshot(models_dir / "plates-cct") == before

    listed = vigil("models", "list", "--json", models_dir=models_dir)
    assert listed.returncode == 0, listed.stderr
    (row,) = [r for r in json.loads(listed.stdout) if r["name"] == "plates-cct"]
    assert row["status"] == "ok"
    assert row["licence"].startswith("MIT")
    assert row["source"].startswith("https://github.com/ankandrew/cnn-ocr-lp/releases/download/arg-plates/")
    assert row["installed_from"].startswith(f"{server.base}/ok/")
    text = vigil("models", "list", models_dir=models_dir).stdout
    assert "licence: MIT (fast-plate-ocr" in text and "source: https://github.com/ankandrew/cnn-ocr-lp" in text


SHARED_MODELS = SHARED_PLATES.parent


@pytest.mark.skipif(
    not (SHARED_MODELS / "detectors" / "yolox-nano").is_dir(), reason="YOLOX-Nano copy not in ../shared/models"
)
def test_cli_installs_yolox_nano_from_the_shared_folder_as_ci_does(tmp_path: Path) -> None:
    """The detector goes the plate recognisers' way: pinned address, ``--from`` the shared folder
    (a licence file of the same name lies beside each plate model: only the pinned one is taken)."""
    models_dir = tmp_path / "models"
    done = vigil("models", "install", "yolox-nano", "--from", str(SHARED_MODELS), models_dir=models_dir)
    assert done.returncode == 0, done.stderr
    record = json.loads((models_dir / "yolox-nano" / RECORD).read_text())
    assert record["files"]["yolox_nano.onnx"]["sha256"] == (
        "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
    )
    assert "Apache License" in (models_dir / "yolox-nano" / "LICENSE").read_text()
    listed = vigil("models", "list", "--json", models_dir=models_dir)
    (row,) = [r for r in json.loads(listed.stdout) if r["name"] == "yolox-nano"]
    assert row["status"] == "ok" and row["licence"].startswith("Apache-2.0")
    assert "raw.githubusercontent.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/3d4f1119" in row["source"]

    (models_dir / "yolox-nano" / "yolox_nano.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelMissingError, match=r"model 'yolox-nano' .* is corrupt .*vigil models install --force"):
        require(models_dir, "yolox-nano")
