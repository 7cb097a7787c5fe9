"""Int8 static quantisation of converted graphs, done once at install time.

The fp32 graph stays beside each int8 copy (``model.onnx``); the int8 copy is
``model-int8.onnx``. Ranges are chosen on the frames shipped in ``calibration/`` (real
CCTV-style scenes, see its README), fed exactly as the runtime feeds the model.

* YOLOv4-tiny: what the detector runs by default (``detector.precision``). Measured on this
  project's 2-core machines: about 3x faster than fp32, with 98.6% of the fp32 boxes found again
  at IoU > 0.7 (tests/detect/test_int8_agreement.py).
* CSRNet: what the density estimator runs by default (``crowd.density_precision``), fed as
  :func:`vigil.models.csrnet.input_blob` prepares frames. 0.34x the fp32 time on a CPU with
  VNNI, 0.95-0.97x without, same combined count (docs/crowd.md, "int8 CSRNet").
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx
from numpy.typing import NDArray
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from vigil.config.crowd import DEFAULT_DENSITY_INPUT_WIDTH
from vigil.core.errors import ModelError
from vigil.models.csrnet import input_blob

CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"
CSRNET_FP32_NODES = ("backend_8_conv", "backend_10_conv", "output_layer_conv")
"""CSRNet convolutions left in fp32 by :func:`quantize_csrnet_int8` (dense crowds saturated them)."""


def calibration_images() -> list[Path]:
    """The shipped calibration frames, in a stable order."""
    return sorted(CALIBRATION_DIR.glob("*.jpg"))


class _Frames(CalibrationDataReader):  # type: ignore[misc]
    """Feeds prepared input blobs, one calibration image each."""

    def __init__(self, input_name: str, blobs: Sequence[NDArray[np.float32]]) -> None:
        self._input_name = input_name
        self._blobs: Iterator[NDArray[np.float32]] = iter(blobs)

    def get_next(self) -> dict[str, NDArray[np.float32]] | None:
        blob = next(self._blobs, None)
        return None if blob is None else {self._input_name: blob}


def read_image(path: Path) -> NDArray[np.uint8]:
    """A calibration frame as BGR uint8; ModelError if it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ModelError(f"calibration image {path} cannot be read")
    return np.asarray(image, np.uint8)


def _blob(path: Path, size: int) -> NDArray[np.float32]:
    """Darknet-style blob: plain resize to ``size``², RGB, 0..1."""
    blob = cv2.dnn.blobFromImage(read_image(path), 1.0 / 255.0, (size, size), swapRB=True, crop=False)
    return np.asarray(blob, np.float32)


def quantize_int8(
    fp32: Path,
    out: Path,
    blobs: Sequence[NDArray[np.float32]],
    *,
    per_channel: bool = True,
    keep_fp32: Sequence[str] = (),
) -> None:
    """Write an int8 (QDQ: uint8 activations, int8 weights) copy of ``fp32`` to ``out``
    (the nodes named in ``keep_fp32`` stay float).

    ``blobs`` are the calibration inputs of the graph's first input, prepared as the runtime
    prepares them. The source graph's ``metadata_props`` are copied over.

    Raises:
        ModelError: no calibration blobs, or ONNX Runtime's quantiser failed.
    """
    if not blobs:
        raise ModelError(f"no calibration images for int8 quantisation in {CALIBRATION_DIR}")
    source = onnx.load(str(fp32))
    input_name = source.graph.input[0].name
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-quant-") as tmp:
            prepared = Path(tmp) / "prepared.onnx"
            quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared),
                str(out),
                _Frames(input_name, blobs),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                # 7-bit weights: x86 CPUs without VNNI multiply u8 x s8 pairs with a saturating
                # 16-bit add (vpmaddubsw); full-range weights overflowed it on a 2-core AVX2 EPYC
                # (86.7 % of the fp32 boxes found again instead of 98.6 %, same graph).
                reduce_range=True,
                nodes_to_exclude=list(keep_fp32),
            )
    except Exception as exc:  # the quantiser raises untyped errors from many places
        raise ModelError(f"int8 quantisation of {fp32.name} failed: {exc}") from exc
    # Model settings (YOLO anchors and class names, CSRNet normalisation) live in the metadata.
    quantised = onnx.load(str(out))
    del quantised.metadata_props[:]
    quantised.metadata_props.extend(source.metadata_props)
    onnx.save(quantised, str(out))


def quantize_csrnet_int8(
    fp32: Path, out: Path, images: Sequence[Path], input_width: int = DEFAULT_DENSITY_INPUT_WIDTH
) -> None:
    """Int8 copy of the rebuilt CSRNet, calibrated on frames prepared at ``input_width``.

    Measured (docs/crowd.md): combined count MAE unchanged (3.61 vs 3.63), 0.34x the fp32 time
    on a CPU with VNNI and 0.95-0.97x on one without. The last two back-end convolutions and the
    output layer stay fp32 (:data:`CSRNET_FP32_NODES`): calibrated on frames of a few people, their
    int8 ranges saturated on dense crowds at full resolution (ShanghaiTech B IMG_1 / 33 / 51:
    int8 153.9 / 170.4 / 188.6, fp32 190.6 / 262.5 / 358.6, with these layers fp32 188.6 / 260.7 /
    356.6; truth 233 / 276 / 521). They hold about 1.5 % of its multiply-adds.

    Raises:
        ModelError: no calibration images, or ONNX Runtime's quantiser failed.
    """
    quantize_int8(fp32, out, [input_blob(read_image(p), input_width) for p in images], keep_fp32=CSRNET_FP32_NODES)


def quantize_yolo_int8(fp32: Path, out: Path, images: Sequence[Path], input_size: int = 416) -> None:
    """Int8 copy of a converted YOLO graph, calibrated on ``input_size``² Darknet blobs.

    Raises:
        ModelError: no calibration images, or ONNX Runtime's quantiser failed.
    """
    quantize_int8(fp32, out, [_blob(p, input_size) for p in images])
