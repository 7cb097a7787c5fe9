"""The contract of a fast-plate-ocr recogniser: its plate config checked against its ONNX graph.

A recogniser comes as a graph and a YAML config (alphabet, pad character, number of character
slots, input size and colour mode, and for v2 the list of plate regions its region head scores).
Decoding with a config that disagrees with the graph reads every plate wrong without any error,
so the two are checked against each other, and against a real forward pass, both when a model is
installed (a bad pair never becomes the installed model) and when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml

from vigil.core.errors import ModelError

INTERPOLATIONS = ("nearest", "linear", "cubic", "area", "lanczos4")
COLOUR_MODES = ("rgb", "grayscale")


@dataclass(frozen=True, slots=True)
class PlateOcrContract:
    """What a recogniser's graph takes and gives, as its config says and its graph confirms.

    Attributes:
        onnx_path: the graph.
        config_path: its plate config.
        alphabet: characters of the per-slot classes, in output order (the pad character included).
        pad_char: the class that means "no character in this slot".
        slots: character slots (the most characters it can read).
        height: input height in pixels.
        width: input width in pixels.
        rgb: three channels in RGB order (else one grey channel).
        keep_aspect_ratio: the crop is letterboxed rather than stretched to ``width × height``.
        interpolation: resize method named by the config.
        input_name: the graph's input.
        plate_output: the output with the per-slot class probabilities ``[N, slots, len(alphabet)]``.
        region_output: the region head's output ``[N, len(regions)]``, or None (v1).
        regions: the region names in the region head's order; empty without a region head.
        fixed_batch: the graph takes one image at a time.
    """

    onnx_path: Path
    config_path: Path
    alphabet: str
    pad_char: str
    slots: int
    height: int
    width: int
    rgb: bool
    keep_aspect_ratio: bool
    interpolation: str
    input_name: str
    plate_output: str
    region_output: str | None
    regions: tuple[str, ...]
    fixed_batch: bool


def _config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path.name}: not a readable YAML plate config ({first})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path.name}: a plate config must be a mapping of keys, got {type(data).__name__}")
    return data


def _positive_int(cfg: dict[str, Any], key: str, name: str) -> int:
    value = cfg.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelError(f"{name}: {key} must be a positive whole number, got {value!r}")
    return value


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own untyped Fail/InvalidGraph/... exceptions
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path.name}: ONNX Runtime cannot load it ({first})") from exc


def _dim(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def check_plate_ocr(onnx_path: Path, config_path: Path) -> PlateOcrContract:
    """Check a recogniser's config against its graph (declared shapes and one real forward pass).

    Raises:
        ModelError: one line naming the file and the disagreement (alphabet size, slot count,
            input size or type, colour channels, region count, an unreadable file).
    """
    name = config_path.name
    cfg = _config(config_path)
    slots = _positive_int(cfg, "max_plate_slots", name)
    height = _positive_int(cfg, "img_height", name)
    width = _positive_int(cfg, "img_width", name)
    alphabet = cfg.get("alphabet")
    if not isinstance(alphabet, str) or not alphabet:
        raise ModelError(f"{name}: alphabet must be a non-empty string, got {alphabet!r}")
    if len(set(alphabet)) != len(alphabet):
        raise ModelError(f"{name}: alphabet lists a character twice ({alphabet!r})")
    pad = cfg.get("pad_char")
    if not isinstance(pad, str) or len(pad) != 1 or pad not in alphabet:
        raise ModelError(f"{name}: pad_char must be one character of the alphabet, got {pad!r}")
    mode = cfg.get("image_color_mode", "rgb")
    if mode not in COLOUR_MODES:
        raise ModelError(f"{name}: image_color_mode must be one of {', '.join(COLOUR_MODES)}, got {mode!r}")
    interpolation = cfg.get("interpolation", "linear")
    if interpolation not in INTERPOLATIONS:
        raise ModelError(f"{name}: interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
    keep_ratio = cfg.get("keep_aspect_ratio", False)
    if not isinstance(keep_ratio, bool):
        raise ModelError(f"{name}: keep_aspect_ratio must be true or false, got {keep_ratio!r}")
    raw_regions = cfg.get("plate_regions", [])
    if not isinstance(raw_regions, list) or not all(isinstance(r, str) and r for r in raw_regions):
        raise ModelError(f"{name}: plate_regions must be a list of region names")
    if len(set(raw_regions)) != len(raw_regions):
        raise ModelError(f"{name}: plate_regions lists a region twice")
    regions = tuple(raw_regions)
    channels = 3 if mode == "rgb" else 1

    graph = onnx_path.name
    session = _session(onnx_path)
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{graph}: a plate recogniser takes one input, this graph takes {len(inputs)}")
    inp = inputs[0]
    if inp.type != "tensor(uint8)" or len(inp.shape) != 4:
        raise ModelError(f"{graph}: input must be uint8 [N, height, width, channels], got {inp.type} {inp.shape}")
    declared = [_dim(d) for d in inp.shape[1:]]
    if any(d is not None and d != want for d, want in zip(declared, (height, width, channels), strict=True)):
        raise ModelError(
            f"{graph}: input is {inp.shape[1:]} (height, width, channels) but {name} says "
            f"[{height}, {width}, {channels}] ({mode})"
        )
    fixed_batch = _dim(inp.shape[0]) == 1
    outputs = {o.name: o for o in session.get_outputs()}
    plate_outs = [o for o in outputs.values() if len(o.shape) == 3]
    region_outs = [o for o in outputs.values() if len(o.shape) == 2]
    if len(plate_outs) != 1 or len(region_outs) > 1 or len(outputs) != len(plate_outs) + len(region_outs):
        shapes = {k: v.shape for k, v in outputs.items()}
        raise ModelError(
            f"{graph}: expected one [N, slots, classes] output and at most one [N, regions] output, got {shapes}"
        )
    try:
        got = session.run(None, {inp.name: np.zeros((1, height, width, channels), np.uint8)})
    except Exception as exc:  # ORT's own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{graph}: a forward pass on a {width}x{height} image failed ({first})") from exc
    shapes = {o.name: tuple(np.asarray(v).shape) for o, v in zip(session.get_outputs(), got, strict=True)}
    plate = plate_outs[0].name
    _, got_slots, got_classes = shapes[plate]
    if got_classes != len(alphabet):
        raise ModelError(
            f"{name}: alphabet has {len(alphabet)} characters, {graph} outputs {got_classes} classes per slot"
        )
    if got_slots != slots:
        raise ModelError(f"{name}: max_plate_slots is {slots}, {graph} has {got_slots} slots")
    region = region_outs[0].name if region_outs else None
    if region is None and regions:
        raise ModelError(f"{name}: lists {len(regions)} plate_regions, {graph} has no region output")
    if region is not None:
        got_regions = shapes[region][1]
        if got_regions != len(regions):
            raise ModelError(f"{name}: lists {len(regions)} plate_regions, {graph}'s region head has {got_regions}")
    return PlateOcrContract(
        onnx_path=onnx_path,
        config_path=config_path,
        alphabet=alphabet,
        pad_char=pad,
        slots=slots,
        height=height,
        width=width,
        rgb=channels == 3,
        keep_aspect_ratio=keep_ratio,
        interpolation=interpolation,
        input_name=inp.name,
        plate_output=plate,
        region_output=region,
        regions=regions,
        fixed_batch=fixed_batch,
    )


def plate_ocr_files(model_dir: Path) -> tuple[Path, Path]:
    """The graph and the plate config in an installed recogniser's directory.

    Raises:
        ModelError: not exactly one ``.onnx`` and one ``*plate_config.yaml`` there.
    """
    graphs = sorted(model_dir.glob("*.onnx"))
    configs = sorted(model_dir.glob("*plate_config.yaml"))
    if len(graphs) != 1 or len(configs) != 1:
        raise ModelError(
            f"{model_dir}: expected one .onnx and one *plate_config.yaml, found {len(graphs)} and {len(configs)}"
        )
    return graphs[0], configs[0]
