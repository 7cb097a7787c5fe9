"""Install-time surgery on the platedet wheel's YOLOv8s-seg graph: keep what Vigil uses.

The wheel's graph has a fixed 640×640 input and two outputs: ``(1, 4 + classes + 32, 8400)``
(boxes, class scores, mask coefficients) and ``(1, 32, 160, 160)`` mask prototypes. Vigil uses
the boxes only (the reader deskews the character line itself). So the installed graph is cut at
the detection head's raw output, ``(1, 64 + classes, anchors)`` (16-bin box-side distributions
per side, then class logits, before anchors and strides are applied). What it drops is the
prototype branch (a 3×3 convolution at 160×160), the mask-coefficient convolutions and the box
decoding, which :mod:`vigil.plates.platedet` does in NumPy. Its input height and width are left
free (multiples of 32), so that other input sizes can be measured; Vigil feeds 640×640 (see
``vigil.plates.platedet.letterbox`` for why).

Measured on the 222 US scenes (docs/plates.md, "The platedet graph: boxes only"): 0.83× the
wheel's time per frame, the same number of boxes in every scene, the best box within 0.58 px
(the wheel decodes in float16, Vigil in float32), and the same exact reads.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no stubs installed

from vigil.core.errors import ModelError

HEAD_SPLIT_SUFFIX = "/model.22/Split"
"""The node that splits the head's raw output into box distributions and class logits."""


def cut_detection_head(src: Path, out: Path) -> None:
    """Write ``src`` cut at its head's raw output, with a free input height and width, to ``out``.

    Raises:
        ModelError: ``src`` cannot be read, is not a YOLOv8 head (no ``/model.22/Split``), or the
            cut graph fails ONNX's checker.
    """
    try:
        model = onnx.load(str(src))
    except (OSError, DecodeError, ValueError) as exc:
        raise ModelError(f"{src.name}: not a readable ONNX graph: {exc}") from exc
    graph = model.graph
    splits = [n for n in graph.node if n.op_type == "Split" and n.name.endswith(HEAD_SPLIT_SUFFIX)]
    if len(splits) != 1 or len(graph.input) != 1:
        raise ModelError(f"{src.name}: not the platedet YOLOv8 graph (no single {HEAD_SPLIT_SUFFIX!r} node)")
    raw = splits[0].input[0]
    # Keep the nodes the raw head output depends on, walking back from it in graph order.
    needed = {raw}
    kept: list[onnx.NodeProto] = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    live = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(live)
    del graph.value_info[:]  # shapes inferred for 640×640 no longer hold
    elem_type = graph.output[0].type.tensor_type.elem_type
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info(raw, elem_type, [1, None, "anchors"]))
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ModelError(f"{src.name}: expected a (1, 3, H, W) input, got {len(dims)} dimensions")
    dims[2].dim_param = "height"
    dims[3].dim_param = "width"
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"{src.name}: the cut graph is invalid: {exc}") from exc
    onnx.save(model, str(out))
