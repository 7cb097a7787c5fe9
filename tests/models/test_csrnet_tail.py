"""The two-tail CSRNet (model ``csrnet-tail``): built at install from the installed int8 CSRNet and
Vigil's bundled fine-tuned layers, pinned by SHA-256; bad weights are one line and leave the stock
model working."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from vigil.core.errors import ModelError
from vigil.core.onnx_session import make_session
from vigil.crowd.density import prepare
from vigil.models import MODELS, install, list_models, require
from vigil.models.csrnet import TINY_WEIGHT, TUNED_OUTPUT, TUNED_TAIL, add_tuned_tail
from vigil.models.fetch import sha256_file
from vigil.models.install import RECORD
from vigil.models.manifest import ModelSpec
from vigil.models.quantize import calibration_images, read_image

SPEC = MODELS["csrnet-tail"]
install_module = importlib.import_module("vigil.models.install")  # the package re-exports install()


@pytest.fixture(scope="module")
def csrnet_dir(installed_models_dir: Path) -> Path:
    return require(installed_models_dir, "csrnet")


@pytest.fixture(scope="module")
def stock_tail(csrnet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tail file holding the stock layers: the tuned output must then equal the stock one."""
    graph = onnx.load(str(csrnet_dir / "model-int8.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}
    path = tmp_path_factory.mktemp("tail") / "stock_tail.npz"
    np.savez_compressed(path, **{key: inits[name] for key, (name, _) in TUNED_TAIL.items()})
    return path


def models_with_csrnet(csrnet_dir: Path, root: Path) -> Path:
    """A models dir holding a copy of the installed csrnet: its record copied (tests edit it), the
    graphs hard-linked where the disk allows (never written)."""
    target = root / "models" / "csrnet"
    target.mkdir(parents=True)
    for file in csrnet_dir.iterdir():
        if file.name == RECORD:
            shutil.copyfile(file, target / file.name)
            continue
        try:
            os.link(file, target / file.name)
        except OSError:
            shutil.copy2(file, target / file.name)
    return root / "models"


def test_the_stock_output_is_the_installed_graphs_and_the_tuned_output_reads_the_stock_tensor(
    csrnet_dir: Path, stock_tail: Path, tmp_path: Path
) -> None:
    out = tmp_path / "two.onnx"
    add_tuned_tail(csrnet_dir / "model-int8.onnx", stock_tail, out)
    blob = prepare(read_image(calibration_images()[0]), 128)
    (stock,) = make_session(csrnet_dir / "model-int8.onnx", 1).run(None, {"image": blob})
    both, tuned = make_session(out, 1).run(None, {"image": blob})
    assert np.array_equal(both, stock)  # the gate and the near path see exactly today's map
    np.testing.assert_allclose(tuned, stock, rtol=1e-5, atol=1e-6)  # the stock layers on the stock tensor
    assert [o.name for o in onnx.load(str(out)).graph.output] == ["density", TUNED_OUTPUT]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param("shape", r"output_layer\.weight has shape \(1, 64, 3, 3\), expected \(1, 64, 1, 1\)", id="shape"),
        pytest.param("extra", r"has layers \[.*'backend\.8\.weight'.*\], expected", id="extra-layer"),
        pytest.param("nan", r"backend\.10\.bias holds values that are not finite", id="nan"),
        pytest.param("garbage", r"cannot read CSRNet weights", id="not-npz"),
    ],
)
def test_a_bad_tail_file_is_one_line(
    csrnet_dir: Path, stock_tail: Path, tmp_path: Path, change: str, match: str
) -> None:
    with np.load(stock_tail) as z:
        arrays = {k: z[k] for k in z.files}
    bad = tmp_path / "bad_tail.npz"
    if change == "shape":
        arrays["output_layer.weight"] = np.zeros((1, 64, 3, 3), np.float32)
    elif change == "extra":
        arrays["backend.8.weight"] = np.zeros((128, 256, 3, 3), np.float32)
    elif change == "nan":
        arrays["backend.10.bias"] = np.full(64, np.nan, np.float32)
    if change == "garbage":
        bad.write_bytes(b"not a zip")
    else:
        np.savez(bad, **arrays)
    with pytest.raises(ModelError, match=match) as caught:
        add_tuned_tail(csrnet_dir / "model-int8.onnx", bad, tmp_path / "out.onnx")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out.onnx").exists()


@dataclasses.dataclass(frozen=True)
class Staged:
    """A models dir holding a copy of csrnet, and a package dir whose bundled tail is the stock one."""

    models: Path
    tail_sha256: str

    def spec(self, sha256: str) -> ModelSpec:
        """csrnet-tail with its bundled file pinned to ``sha256``."""
        return dataclasses.replace(SPEC, bundled=(dataclasses.replace(SPEC.bundled[0], sha256=sha256),))


@pytest.fixture
def staged(csrnet_dir: Path, stock_tail: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Staged:
    package = tmp_path / "package"
    (package / "weights").mkdir(parents=True)
    shutil.copy2(stock_tail, package / "weights" / "csrnet_tail.npz")
    monkeypatch.setattr(install_module, "PACKAGE_DIR", package)
    return Staged(models_with_csrnet(csrnet_dir, tmp_path), sha256_file(stock_tail))


def test_install_builds_it_from_the_installed_csrnet_and_pins_what_it_was_built_from(
    staged: Staged, csrnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models, spec = staged.models, staged.spec(staged.tail_sha256)
    catalogue = {"csrnet": MODELS["csrnet"], spec.name: spec}
    (state,) = install(models, [spec.name], catalogue=catalogue)
    assert (state.status, state.installed_from) == ("ok", "installed csrnet")
    record = json.loads((models / spec.name / RECORD).read_text(encoding="utf-8"))
    assert record["base"] == {"model-int8.onnx": sha256_file(csrnet_dir / "model-int8.onnx")}
    assert record["bundled"] == {"weights/csrnet_tail.npz": staged.tail_sha256}
    # Byte-reproducible: another install from the same csrnet and tail writes the same bytes.
    again = models_with_csrnet(csrnet_dir, tmp_path / "again")
    install(again, [spec.name], catalogue=catalogue)
    assert sha256_file(again / spec.name / "model-int8.onnx") == record["files"]["model-int8.onnx"]["sha256"]
    # Another csrnet install (other bytes) makes the two-tail graph stale: corrupt, rebuilt by install.
    csr = json.loads((models / "csrnet" / RECORD).read_text(encoding="utf-8"))
    csr["files"]["model-int8.onnx"]["sha256"] = "0" * 64
    (models / "csrnet" / RECORD).write_text(json.dumps(csr), encoding="utf-8")
    monkeypatch.setattr(install_module, "MODELS", catalogue)
    (listed,) = [s for s in list_models(models) if s.name == spec.name]
    assert listed.status == "corrupt" and "built from another install of csrnet" in listed.detail


def test_a_tail_file_that_differs_from_its_pin_is_one_line_and_the_stock_model_keeps_working(
    staged: Staged,
) -> None:
    models, spec = staged.models, staged.spec("f" * 64)
    pinned = r"csrnet_tail\.npz has sha256 [0-9a-f]{64}, the manifest pins f{64}"
    with pytest.raises(ModelError, match=pinned) as caught:
        install(models, [spec.name], catalogue={"csrnet": MODELS["csrnet"], spec.name: spec})
    assert "\n" not in str(caught.value)
    assert not (models / spec.name).exists() and not list(models.glob(".csrnet-tail*"))
    assert require(models, "csrnet") == models / "csrnet"


def tiny_floats(graph: Path) -> dict[str, int]:
    """The float initializers of ``graph`` holding values ``0 < |x| <`` :data:`TINY_WEIGHT`, with how many."""
    found = {}
    for init in onnx.load(str(graph)).graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype == np.float32 and (n := int(((array != 0) & (np.abs(array) < TINY_WEIGHT)).sum())):
            found[init.name] = n
    return found


def test_tiny_tail_weights_are_built_as_zero_byte_for_byte(csrnet_dir: Path, stock_tail: Path, tmp_path: Path) -> None:
    # Subnormal weights, and tiny ones whose products are subnormal, cost Intel CPUs a microcode assist
    # per multiply (the shipped tail's made the tuned backend_10 10x slower than its stock twin).
    with np.load(stock_tail) as z:
        arrays = {k: z[k].copy() for k in z.files}
    flat = arrays["backend.10.weight"].reshape(-1)
    flat[::97] = 0.0
    np.savez(tmp_path / "zero.npz", **arrays)
    tiny = np.array([3e-41, -1e-30, 2e-21, -9e-21], np.float32)  # subnormal and normal, both signs
    flat[::97] = np.resize(tiny, flat[::97].size)
    np.savez(tmp_path / "tiny.npz", **arrays)
    add_tuned_tail(csrnet_dir / "model-int8.onnx", tmp_path / "tiny.npz", tmp_path / "a.onnx")
    add_tuned_tail(csrnet_dir / "model-int8.onnx", tmp_path / "zero.npz", tmp_path / "b.onnx")
    assert tiny_floats(tmp_path / "a.onnx") == {}
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_the_installed_two_tail_graph_holds_no_tiny_float(installed_models_dir: Path) -> None:
    assert tiny_floats(require(installed_models_dir, "csrnet-tail") / "model-int8.onnx") == {}


def test_without_csrnet_installed_it_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"^model 'csrnet' is not installed in .*; run: vigil models install$"):
        install(tmp_path / "models", ["csrnet-tail"])


def test_the_shipped_tail_matches_its_pin_and_is_listed_with_its_licence_caveat() -> None:
    (bundled,) = SPEC.bundled
    assert sha256_file(install_module.PACKAGE_DIR / bundled.path) == bundled.sha256
    assert not SPEC.optional  # a fresh machine gets it from `vigil models install` alone
    assert "research data sets without a stated licence" in SPEC.licence
