"""Vigil's own Darknet → ONNX converter (no torch): ``.cfg`` + ``.weights`` → ``model.onnx``.

The graph takes ``images``: float32 ``(1, 3, H, W)``, RGB in ``[0, 1]`` (what OpenCV's
``blobFromImage(img, 1/255, (W, H), swapRB=True)`` makes); ``H`` and ``W`` are symbolic, any
multiple of the largest stride (32) works. It returns one raw map per ``[yolo]`` layer,
``yolo_<k>``: float32 ``(1, A * (5 + C), H / stride, W / stride)``, before any sigmoid.
Everything a decoder needs (anchors, masks, ``scale_x_y``, strides, class names) is stored as
JSON in the model's ``metadata_props`` under :data:`YOLO_METADATA_KEY`, so no cfg is needed
at run time.

Supported sections: ``[net]``, ``[convolutional]`` (batch-norm folded into the conv),
``[route]`` (with ``groups``/``group_id``), ``[shortcut]``, ``[maxpool]``, ``[upsample]``,
``[yolo]``. Anything else is refused with its file, line and section named.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from vigil.core.errors import ModelError
from vigil.models.darknet_cfg import CfgSection, WeightsReader, parse_cfg

YOLO_METADATA_KEY = "vigil.yolo"
"""``metadata_props`` key holding the decoder parameters as JSON."""

INPUT_NAME = "images"
OPSET = 13
# Darknet forks disagree (pjreddie: sqrt(var) + 1e-6, AlexeyAB: sqrt(var + 1e-5)); OpenCV's
# importer uses sqrt(var + 1e-6), and with it a tiny random-weight net matches OpenCV to 1e-4
# (test_tiny_network_matches_opencv_darknet), where 1e-5 does not.
BN_EPS = 1e-6
LEAKY_ALPHA = 0.1
SUPPORTED_SECTIONS = ("net", "convolutional", "route", "shortcut", "maxpool", "upsample", "yolo")


@dataclass(frozen=True, slots=True)
class _Layer:
    """Output of one Darknet layer: tensor name, channels, downsampling factor vs the input."""

    tensor: str
    channels: int
    stride: int
    is_yolo: bool = False


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, prefix: str, array: NDArray[Any]) -> str:
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(array, name=name))
        return name

    def node(self, op: str, inputs: Sequence[str], prefix: str, **attrs: Any) -> str:
        out = self.name(prefix)
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out


def _activation(builder: _GraphBuilder, section: CfgSection, x: str, prefix: str) -> str:
    act = section.get_str("activation", "linear").lower()
    if act == "linear":
        return x
    if act == "leaky":
        return builder.node("LeakyRelu", [x], f"{prefix}_leaky", alpha=LEAKY_ALPHA)
    if act == "relu":
        return builder.node("Relu", [x], f"{prefix}_relu")
    if act == "logistic":
        return builder.node("Sigmoid", [x], f"{prefix}_sigmoid")
    if act == "mish":
        soft = builder.node("Softplus", [x], f"{prefix}_softplus")
        tanh = builder.node("Tanh", [soft], f"{prefix}_tanh")
        return builder.node("Mul", [x, tanh], f"{prefix}_mish")
    if act == "swish":
        sig = builder.node("Sigmoid", [x], f"{prefix}_sigmoid")
        return builder.node("Mul", [x, sig], f"{prefix}_swish")
    raise ModelError(
        f"{section.where()}: unsupported activation {act!r}; supported: linear, leaky, relu, logistic, mish, swish"
    )


def _convolutional(
    builder: _GraphBuilder, section: CfgSection, index: int, prev: _Layer, weights: WeightsReader
) -> _Layer:
    filters = section.get_int("filters")
    size = section.get_int("size", 1)
    stride = section.get_int("stride", 1)
    groups = section.get_int("groups", 1)
    # Darknet: pad=1 means "same" padding of size // 2; an explicit padding= overrides it.
    padding = section.get_int("padding", size // 2 if section.get_int("pad", 0) else 0)
    if prev.channels % groups or filters % groups:
        raise ModelError(f"{section.where()}: groups={groups} does not divide the channels")
    what = f"layer {index} ({section.where()})"
    bias = weights.read(filters, f"biases of {what}")
    if section.get_int("batch_normalize", 0):
        scale = weights.read(filters, f"batch-norm scales of {what}")
        mean = weights.read(filters, f"batch-norm means of {what}")
        var = weights.read(filters, f"batch-norm variances of {what}")
    kernel = weights.read(filters * (prev.channels // groups) * size * size, f"weights of {what}")
    kernel = kernel.reshape(filters, prev.channels // groups, size, size)
    if section.get_int("batch_normalize", 0):
        # Fold y = scale * (conv(x) - mean) / sqrt(var + eps) + bias into the conv itself.
        factor = scale / np.sqrt(var + BN_EPS)
        kernel = kernel * factor[:, None, None, None]
        bias = bias - mean * factor
    w_name = builder.const(f"conv{index}_w", kernel.astype(np.float32))
    b_name = builder.const(f"conv{index}_b", bias.astype(np.float32))
    out = builder.node(
        "Conv",
        [prev.tensor, w_name, b_name],
        f"conv{index}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[padding, padding, padding, padding],
        group=groups,
    )
    out = _activation(builder, section, out, f"conv{index}")
    return _Layer(out, filters, prev.stride * stride)


def _resolve(section: CfgSection, index: int, ref: int, layers: list[_Layer]) -> _Layer:
    target = index + ref if ref < 0 else ref
    if not 0 <= target < index:
        raise ModelError(f"{section.where()}: layer reference {ref} points outside 0..{index - 1}")
    layer = layers[target]
    if layer.is_yolo:
        raise ModelError(f"{section.where()}: referencing a [yolo] layer ({target}) is not supported")
    return layer


def _route(builder: _GraphBuilder, section: CfgSection, index: int, layers: list[_Layer]) -> _Layer:
    sources = [_resolve(section, index, ref, layers) for ref in section.get_ints("layers")]
    groups = section.get_int("groups", 1)
    group_id = section.get_int("group_id", 0)
    if len({src.stride for src in sources}) != 1:
        raise ModelError(f"{section.where()}: routed layers have different spatial sizes")
    parts: list[str] = []
    channels = 0
    for src in sources:
        if groups == 1:
            parts.append(src.tensor)
            channels += src.channels
            continue
        if src.channels % groups:
            raise ModelError(f"{section.where()}: {src.channels} channels do not split into {groups} groups")
        width = src.channels // groups
        starts = builder.const("slice_start", np.array([group_id * width], dtype=np.int64))
        ends = builder.const("slice_end", np.array([(group_id + 1) * width], dtype=np.int64))
        axes = builder.const("slice_axes", np.array([1], dtype=np.int64))
        parts.append(builder.node("Slice", [src.tensor, starts, ends, axes], f"route{index}_slice"))
        channels += width
    tensor = parts[0] if len(parts) == 1 else builder.node("Concat", parts, f"route{index}", axis=1)
    return _Layer(tensor, channels, sources[0].stride)


def _maxpool(builder: _GraphBuilder, section: CfgSection, index: int, prev: _Layer) -> _Layer:
    size = section.get_int("size", 1)
    stride = section.get_int("stride", 1)
    # Darknet pads size-1 in total, padding//2 before and the rest after: out = (in + pad - size)
    # / stride + 1. So size=2 stride=1 (yolov3-tiny) needs one extra column/row at the end only.
    padding = section.get_int("padding", size - 1)
    begin, end = padding // 2, padding - padding // 2
    out = builder.node(
        "MaxPool",
        [prev.tensor],
        f"maxpool{index}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[begin, begin, end, end],
    )
    return _Layer(out, prev.channels, prev.stride * stride)


def _upsample(builder: _GraphBuilder, section: CfgSection, index: int, prev: _Layer) -> _Layer:
    factor = section.get_int("stride", 2)
    if factor < 1 or prev.stride % factor:
        raise ModelError(f"{section.where()}: upsample stride={factor} is not supported here")
    scales = builder.const("upsample_scales", np.array([1, 1, factor, factor], dtype=np.float32))
    # asymmetric + floor is exact nearest-neighbour repetition, as Darknet does.
    out = builder.node(
        "Resize",
        [prev.tensor, "", scales],
        f"upsample{index}",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    return _Layer(out, prev.channels, prev.stride // factor)


def _shortcut(builder: _GraphBuilder, section: CfgSection, index: int, layers: list[_Layer]) -> _Layer:
    refs = section.get_ints("from")
    if len(refs) != 1:
        raise ModelError(f"{section.where()}: shortcut from several layers is not supported")
    other = _resolve(section, index, refs[0], layers)
    prev = layers[index - 1]
    if other.channels != prev.channels or other.stride != prev.stride:
        raise ModelError(f"{section.where()}: shortcut joins layers of different shapes")
    out = builder.node("Add", [prev.tensor, other.tensor], f"shortcut{index}")
    return _Layer(_activation(builder, section, out, f"shortcut{index}"), prev.channels, prev.stride)


def _yolo_head(section: CfgSection, prev: _Layer, output: str) -> dict[str, Any]:
    if section.get_int("new_coords", 0):
        raise ModelError(f"{section.where()}: new_coords=1 (scaled-YOLOv4 decoding) is not supported")
    anchors_flat = section.get_ints("anchors")
    if len(anchors_flat) % 2:
        raise ModelError(f"{section.where()}: anchors must be pairs of width,height")
    anchors = [anchors_flat[i : i + 2] for i in range(0, len(anchors_flat), 2)]
    mask = section.get_ints("mask", tuple(range(len(anchors))))
    classes = section.get_int("classes", 80)
    if any(not 0 <= m < len(anchors) for m in mask):
        raise ModelError(f"{section.where()}: mask {mask} indexes past the {len(anchors)} anchors")
    if prev.channels != len(mask) * (5 + classes):
        raise ModelError(
            f"{section.where()}: input has {prev.channels} channels; "
            f"expected {len(mask)} anchors x (5 + {classes} classes) = {len(mask) * (5 + classes)}"
        )
    return {
        "output": output,
        "stride": prev.stride,
        "anchors": [list(anchors[m]) for m in mask],
        "scale_x_y": section.get_float("scale_x_y", 1.0),
        "classes": classes,
    }


def build_onnx(
    sections: Sequence[CfgSection], weights: WeightsReader, class_names: Sequence[str] | None = None
) -> onnx.ModelProto:
    """Build the ONNX model for parsed cfg ``sections`` and their ``weights``.

    Raises:
        ModelError: an unsupported section or option, or cfg and weights that do not match.
    """
    net = sections[0]
    channels = net.get_int("channels", 3)
    width, height = net.get_int("width", 416), net.get_int("height", 416)
    builder = _GraphBuilder()
    layers: list[_Layer] = []
    heads: list[dict[str, Any]] = []
    prev = _Layer(INPUT_NAME, channels, 1)
    for index, section in enumerate(sections[1:]):
        if section.kind == "convolutional":
            layer = _convolutional(builder, section, index, prev, weights)
        elif section.kind == "route":
            layer = _route(builder, section, index, layers)
        elif section.kind == "maxpool":
            layer = _maxpool(builder, section, index, prev)
        elif section.kind == "upsample":
            layer = _upsample(builder, section, index, prev)
        elif section.kind == "shortcut":
            layer = _shortcut(builder, section, index, layers)
        elif section.kind == "yolo":
            output = f"yolo_{len(heads)}"
            heads.append(_yolo_head(section, prev, output))
            builder.nodes.append(helper.make_node("Identity", [prev.tensor], [output], name=output))
            layer = _Layer(output, prev.channels, prev.stride, is_yolo=True)
        else:
            raise ModelError(
                f"{section.where()}: unsupported section [{section.kind}]; "
                f"Vigil's Darknet converter supports: {', '.join(f'[{s}]' for s in SUPPORTED_SECTIONS)}"
            )
        layers.append(layer)
        prev = layer
    if not heads:
        raise ModelError(f"{net.source}: no [yolo] layer; only YOLO detectors are supported")
    if weights.remaining:
        raise ModelError(
            f"{weights.path.name}: {weights.remaining} weight values left over after the last layer "
            "(cfg and weights do not match)"
        )
    classes = {head["classes"] for head in heads}
    if len(classes) != 1:
        raise ModelError(f"{net.source}: [yolo] layers disagree on the number of classes: {sorted(classes)}")
    num_classes = classes.pop()
    if class_names is not None and len(class_names) != num_classes:
        raise ModelError(f"{len(class_names)} class names given; the cfg has {num_classes} classes")

    graph = helper.make_graph(
        builder.nodes,
        "darknet_yolo",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, channels, "height", "width"])],
        [
            helper.make_tensor_value_info(
                head["output"],
                TensorProto.FLOAT,
                [1, len(head["anchors"]) * (5 + num_classes), f"height_{i}", f"width_{i}"],
            )
            for i, head in enumerate(heads)
        ],
        initializer=builder.initializers,
    )
    model = helper.make_model(
        graph, producer_name="vigil.models.darknet", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = 8  # readable by every ONNX Runtime since 1.10 and by OpenCV's importer
    meta = {
        "format": 1,
        "input": INPUT_NAME,
        "input_size": [width, height],
        "num_classes": num_classes,
        "class_names": list(class_names) if class_names is not None else None,
        "heads": heads,
    }
    helper.set_model_props(model, {YOLO_METADATA_KEY: json.dumps(meta)})
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"converted graph fails onnx.checker: {str(exc).splitlines()[0]}") from exc
    return model


def convert_darknet(cfg: Path, weights: Path, output: Path, class_names: Sequence[str] | None = None) -> None:
    """Convert a Darknet YOLO ``cfg`` + ``weights`` pair to an ONNX file at ``output``.

    Raises:
        ModelError: unreadable files, unsupported layers, mismatched weights, invalid graph.
    """
    model = build_onnx(parse_cfg(cfg), WeightsReader(weights), class_names)
    try:
        onnx.save_model(model, str(output))
    except OSError as exc:
        raise ModelError(f"cannot write {output}: {exc}") from exc
