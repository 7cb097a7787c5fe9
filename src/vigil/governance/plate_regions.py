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

Two profiles, one rule. ``fast`` (the live view and clip frames: every frame, at a live rate)
is the above. ``thorough`` (stored snapshots, served stills and case exports: one image at a
time, kept for weeks, handed to third parties) adds every text line the plates pipeline's own
PP-OCR scene text detector (Apache-2.0, shipped in rapidocr's wheel, run at up to 960 px as the
reader runs it) finds: the row search misses a plate at a frame's edge or with characters that
do not segment, which the text detector still finds (``bench/plate_redaction.py``;
docs/redaction.md).

A plate hotlist candidate's own plate stays visible only in its plate crop, stored as it is and
served only unredacted (a supervisor, with a reason, audited), as a face candidate's face is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from vigil.config import VigilConfig
from vigil.core.onnx_session import make_session
from vigil.governance.redaction import RegionBox
from vigil.models.install import require
from vigil.plates.localise import find_plate_candidates
from vigil.plates.ocr import Quad, RapidTextEngine
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

TEXT_DET_MAX_SIDE = 960
"""The thorough profile runs the scene text detector at up to this many pixels on the long side,
as the plates pipeline reads scenes (640 px lost small plates: docs/plates.md)."""

TEXT_MIN_ASPECT = ROW_ASPECT[0]
TEXT_MAX_HEIGHT = 0.2
"""A text line is blurred when it has a plate line's shape: at least this wide for its height (no
upper bound: a plate's line can merge with a sticker or a dealer's frame beside it) and lower
than this share of the image (a 151x109 px "line" across people in a 768x432 street frame is not
a plate, and blurring it cost the scene half its sharpness in the export test)."""

TEXT_PAD = 0.5
"""A text line is grown by this share of its height on every side before the margin: the detector's
box hugs the characters, and a plate's frame and a character's edge lie beyond it (``car17``'s
labelled plate box ends 3 px below its text line grown by the margin alone, in a JPEG copy)."""

Profile = Literal["fast", "thorough"]
"""``fast``: live frames and clip frames; ``thorough``: stored and served stills, case exports."""

PlateFinder = Callable[[NDArray[np.uint8]], list[RegionBox]]
TextLines = Callable[[NDArray[np.uint8]], list[Quad]]


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
    the plate detector's boxes (where given), the scene text detector's text lines (where given:
    the thorough profile) and the plate-like character rows, each grown by ``margin`` of its size
    on every side (a frame, a bolt, the edge of a character)."""

    def __init__(
        self,
        detector: PlateDetector | None,
        margin: float,
        *,
        one_scale_up_to_px: int = 0,
        text_lines: TextLines | None = None,
    ) -> None:
        self._detector = detector
        self._margin = margin
        self._one_scale_up_to = one_scale_up_to_px
        self._text_lines = text_lines

    @property
    def uses_detector(self) -> bool:
        return self._detector is not None

    @property
    def thorough(self) -> bool:
        """Whether the scene text detector's lines are blurred too (the thorough profile)."""
        return self._text_lines is not None

    def __call__(self, image: NDArray[np.uint8]) -> list[RegionBox]:
        if image.ndim == 2:
            image = np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
        boxes: list[RegionBox] = []
        if self._detector is not None:
            boxes.extend(p.box for p in self._detector.detect(image))
        if self._text_lines is not None:
            for quad in self._text_lines(image):
                x1, y1 = (float(v) for v in quad.min(axis=0))
                x2, y2 = (float(v) for v in quad.max(axis=0))
                tall = y2 - y1
                pad = TEXT_PAD * tall
                if x2 - x1 >= TEXT_MIN_ASPECT * tall and ROW_MIN_PX <= tall < TEXT_MAX_HEIGHT * image.shape[0]:
                    boxes.append((x1 - pad, y1 - pad, x2 + pad, y2 + pad))
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


def build_plate_regions(cfg: VigilConfig, profile: Profile = "fast") -> PlateRegions:
    """The deployment's plate region finder: with the plate detector where ``plates.localiser``
    is ``platedet`` (the operator chose the optional AGPL-3.0 model), else the row search only;
    the ``thorough`` profile (stored and served stills, case exports) adds the scene text
    detector's lines.

    Raises:
        ModelMissingError: ``platedet`` was chosen and is not installed (it names the install
            command): nothing runs with less plate redaction than configured.
    """
    detector = None
    if cfg.plates.localiser == "platedet":
        path = require(cfg.resolved_models_dir, "platedet") / PLATEDET_FILE
        detector = PlateDetector(make_session(path, cfg.plates.threads), confidence=DETECTOR_CONFIDENCE)
    text_lines: TextLines | None = None
    if profile == "thorough":
        # The whole frame at full resolution, not the plates reader's coarse-first pass: what
        # redaction blurs was measured with it (docs/redaction.md), and a missed line is exposed.
        engine = RapidTextEngine(threads=cfg.plates.threads, scene_det_max_side=TEXT_DET_MAX_SIDE, coarse=0)
        text_lines = engine.detect_scene_lines
    return PlateRegions(detector, cfg.governance.redaction.plate_margin, text_lines=text_lines)
