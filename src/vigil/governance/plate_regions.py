"""Plate regions to blur, by policy: the plates pipeline's own plate finders as a redaction
:data:`~vigil.governance.redactor.RegionFinder`.

Where ``governance.redaction.plates`` is on (the default; per camera ``cameras[].blur_plates``),
every plate-like region of a stored snapshot, a served image, a live frame and a clip frame is
blurred by region, beside the faces. The regions come from the same finders the plates
pipeline reads plates with (``plates.localiser``): the optional AGPL-3.0 plate detector
(``platedet``) where the operator chose it, and always the Apache-2.0 character-row search
(:func:`vigil.plates.localise.find_plate_candidates`), since a region one of them misses the
other may find. Like the face search it errs on the side of blurring: a sign or a shop front
with a row of letters is blurred too; a missed plate would be a bystander's registration.

A plate hotlist candidate's own plate stays visible only in its plate crop, stored as it is and
served only unredacted (a supervisor, with a reason, audited), as a face candidate's face is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from vigil.config import VigilConfig
from vigil.detect.onnx_session import make_session
from vigil.governance.redaction import RegionBox
from vigil.models.install import require
from vigil.plates.localise import find_plate_candidates
from vigil.plates.platedet import PlateDetector
from vigil.plates.reader import plate_box_from_row

log = logging.getLogger(__name__)

DETECTOR_CONFIDENCE = 0.1
"""Least plate detector score blurred (the plates pipeline reads from 0.25): errs on blurring."""

PLATEDET_FILE = "platedet.onnx"

ROW_CANDIDATES = 48
"""Character rows kept by the row search (the reader keeps 8 to read; redaction blurs more)."""

ROW_MIN_PX = 5
"""Rows lower than this are not blurred: characters that small cannot be read (the reader
itself skips rows under 8 px)."""

ROW_MIN_SCORE = 0.15
"""A row with two or more character blobs in it (plate-likeness 0.15 or more) is blurred
whatever its shape."""

ROW_ASPECT = (1.5, 6.5)
ROW_MAX_HEIGHT = 0.12
"""… and so is a row whose characters did not segment (a small, blurred or dirty plate) when it
has a plate's shape: width 1.5-6.5 times its height, and lower than this share of the image.
On the first 40 US scenes this covers 38 labelled plates of 40 (31 with the blob rule alone),
at a median 11 % of the frame blurred (3.7 % alone): docs/redaction.md."""

PlateFinder = Callable[[NDArray[np.uint8]], list[RegionBox]]


def plates_blurred(cfg: VigilConfig, camera_id: str | None) -> bool:
    """Whether ``camera_id``'s plates are blurred: its ``blur_plates`` where set, else the
    deployment's ``governance.redaction.plates`` (also for images of no known camera)."""
    if camera_id is not None:
        for cam in cfg.cameras:
            if cam.id == camera_id and cam.blur_plates is not None:
                return cam.blur_plates
    return cfg.governance.redaction.plates


def what_is_blurred(cfg: VigilConfig, camera_id: str | None) -> str:
    """What a viewer without the unredact right has blurred in ``camera_id``'s images, in the
    words the pages use: ``"faces and plates"`` or ``"faces"``."""
    return "faces and plates" if plates_blurred(cfg, camera_id) else "faces"


def plates_wanted(cfg: VigilConfig) -> bool:
    """Whether any image of this deployment has its plates blurred (the finder is built only then)."""
    return cfg.governance.redaction.plates or any(cam.blur_plates for cam in cfg.cameras)


class PlateRegions:
    """Every plate-like region of an image (a :data:`~vigil.governance.redactor.RegionFinder`):
    the plate detector's boxes (where given) and the plate-like character rows, each grown by
    ``margin`` of its size on every side (a frame, a bolt, the edge of a character)."""

    def __init__(self, detector: PlateDetector | None, margin: float, *, one_scale_up_to_px: int = 0) -> None:
        self._detector = detector
        self._margin = margin
        self._one_scale_up_to = one_scale_up_to_px

    @property
    def uses_detector(self) -> bool:
        return self._detector is not None

    def __call__(self, image: NDArray[np.uint8]) -> list[RegionBox]:
        if image.ndim == 2:
            image = np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
        boxes: list[RegionBox] = []
        if self._detector is not None:
            boxes.extend(p.box for p in self._detector.detect(image))
        tallest = ROW_MAX_HEIGHT * image.shape[0]
        # The half-size search finds plates too large for the row filters; in an image this
        # narrow (a live grid tile) no plate is that large, and it would double the cost.
        scales = (1.0,) if image.shape[1] <= self._one_scale_up_to else (1.0, 0.5)
        for cand in find_plate_candidates(image, ROW_CANDIDATES, ROW_MIN_PX, scales=scales):
            shaped = ROW_ASPECT[0] <= cand.width / max(cand.height, 1.0) <= ROW_ASPECT[1] and cand.height < tallest
            if cand.score >= ROW_MIN_SCORE or shaped:
                boxes.append(plate_box_from_row(cand.box))
        m = self._margin
        out: list[RegionBox] = []
        for x1, y1, x2, y2 in boxes:
            bw, bh = x2 - x1, y2 - y1
            out.append((x1 - m * bw, y1 - m * bh, x2 + m * bw, y2 + m * bh))
        return out


def build_plate_regions(cfg: VigilConfig) -> PlateRegions:
    """The deployment's plate region finder: with the plate detector where ``plates.localiser``
    is ``platedet`` (the operator chose the optional AGPL-3.0 model), else the row search only.

    Raises:
        ModelMissingError: ``platedet`` was chosen and is not installed (it names the install
            command): nothing runs with less plate redaction than configured.
    """
    detector = None
    if cfg.plates.localiser == "platedet":
        path = require(cfg.resolved_models_dir, "platedet") / PLATEDET_FILE
        detector = PlateDetector(make_session(path, cfg.plates.threads), confidence=DETECTOR_CONFIDENCE)
    return PlateRegions(detector, cfg.governance.redaction.plate_margin)
