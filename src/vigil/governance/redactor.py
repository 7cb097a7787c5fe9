"""Write-time redaction: every face in an image is blurred, by region, before the image is kept.

ACCOUNTABILITY.md: "person snapshots, scene frames and clips are stored with every face blurred
at write time unless that track raised a candidate". This module is that one step. It is
given to the media store (:class:`vigil.store.media.MediaStore`), which calls it on every
image it writes unless the caller names why the image may stay clear (a face candidate's
probe, an enrolled reference); the annotated video of ``vigil analyze --out`` calls it on
every frame. Serving and clip export reuse the same :class:`Redactor`.

The detector errs on the side of blurring: YuNet with a low score threshold, on the image as
it is, shrunk (faces that fill the picture, which YuNet splits at native size) and enlarged
up to ``max_upscale`` (far-field CCTV faces of a few pixels, below YuNet's 10 px anchor), with
every box grown by a margin. A false positive costs a blurred patch of jacket; a miss costs a
bystander's face. Other region finders (plates, by policy) plug in beside the face finder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config import VigilConfig
from vigil.config.redaction import RedactionConfig
from vigil.core.errors import ModelError
from vigil.faces import YuNetDetector
from vigil.governance.plate_regions import build_plate_regions, plates_blurred, plates_wanted
from vigil.governance.redaction import RegionBox, blur_boxes
from vigil.models.install import require

FACE_CELLS = 5
"""A blurred face keeps at most this many pixelation cells across: no layout a detector (or a
person) could read as a face."""

HAAR_MAX_SIDE_PX = 1400
"""The cascade's cost grows with the pixels searched: enlarging stops at this long side."""

PASSES = 2
"""A second search runs on the blurred image when the first blurred anything: a face partly
covered by a neighbour's box, or found only once its neighbour no longer dominates, is caught
then. A pass that finds nothing new ends the search, so a face-free image costs one pass."""

MIN_SEARCH_SIDE_PX = 32
"""YuNet's coarsest feature map has a stride of 32: a smaller input returns garbage."""

UPSCALE_STEPS = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0)

RegionFinder = Callable[[NDArray[np.uint8]], list[RegionBox]]
"""Given a (H, W, 3) uint8 BGR image, the boxes (pixels) that must be blurred."""


def search_scales(height: int, width: int, cfg: RedactionConfig) -> list[float]:
    """The scales an image of ``height`` x ``width`` is searched at, smallest first.

    Shrunk to ``coarse_side_px`` when larger (big faces) and to half size (a face that fills a
    snapshot), as it is (bounded by ``max_search_side_px``), and enlarged x1.5 … x4 up to
    ``max_upscale`` while the long side stays within ``max_search_side_px`` (small faces).
    """
    long_side = max(height, width)
    if long_side <= 0:
        return []
    cap = cfg.max_search_side_px / long_side
    scales = {round(min(1.0, cfg.coarse_side_px / long_side), 4), round(min(1.0, cap), 4), 0.5}
    # Half-octave steps: YuNet's response to a face depends on where it falls on the anchor
    # grid, so a face missed at x2 and x4 can be found at x3.
    for factor in UPSCALE_STEPS:
        if factor <= cfg.max_upscale + 1e-9 and factor <= cap + 1e-9:
            scales.add(factor)
    if cap > 1.25 and max(scales) < min(cap, cfg.max_upscale) * 0.8:
        scales.add(round(min(cap, cfg.max_upscale), 4))  # the largest enlargement the cost bound allows
    return sorted(s for s in scales if min(height, width) * s >= MIN_SEARCH_SIDE_PX)


class FaceRegions:
    """Every face in an image, small or large (a :data:`RegionFinder`).

    Thread-safe: OpenCV's YuNet keeps per-input state, so each thread gets its own detector.
    """

    def __init__(self, yunet_dir: Path, cfg: RedactionConfig, scales: tuple[float, ...] | None = None) -> None:
        self._dir = yunet_dir
        self.cfg = cfg
        self._scales = scales
        self._local = threading.local()
        self._detector()  # load once here, so a broken model fails at start-up, not at the first write

    def _detector(self) -> YuNetDetector:
        det: YuNetDetector | None = getattr(self._local, "detector", None)
        if det is None:
            det = YuNetDetector(self._dir, score_threshold=self.cfg.face_score, nms_iou=0.3)
            self._local.detector = det
        return det

    def _fixed_scales(self, height: int, width: int) -> list[float]:
        assert self._scales is not None
        long_side, short_side = max(height, width), min(height, width)
        return [
            s
            for s in self._scales
            if short_side * s >= MIN_SEARCH_SIDE_PX and (s <= 1 or long_side * s <= self.cfg.max_search_side_px)
        ]

    def __call__(self, image: NDArray[np.uint8]) -> list[RegionBox]:
        if image.ndim == 2:
            image = np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
        h, w = image.shape[:2]
        det = self._detector()
        m = self.cfg.margin
        boxes: list[RegionBox] = []
        scales = search_scales(h, w, self.cfg) if self._scales is None else self._fixed_scales(h, w)
        for scale in scales:
            found = det.detect_scaled(image, scale)
            for x1, y1, x2, y2 in found.boxes.tolist():
                bw, bh = x2 - x1, y2 - y1
                boxes.append((x1 - m * bw, y1 - m * bh, x2 + m * bw, y2 + m * bh))
        return boxes


class HaarFaceRegions:
    """Frontal faces by OpenCV's Haar cascade (a :data:`RegionFinder`): a second detector family
    beside YuNet, with other failure modes (grey-level patterns rather than a CNN), so that a
    face one of them misses the other may find. Searched as it is and enlarged x2 and x4 while
    the long side stays within ``max_search_side_px``, with a sensitive setting (3 neighbours).
    """

    def __init__(self, cfg: RedactionConfig, scales: tuple[float, ...] = (1.0, 2.0, 4.0)) -> None:
        self.cfg = cfg
        self._scales = scales
        self._local = threading.local()
        self._cascade()

    def _cascade(self) -> cv2.CascadeClassifier:
        cascade: cv2.CascadeClassifier | None = getattr(self._local, "cascade", None)
        if cascade is None:
            path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
            cascade = cv2.CascadeClassifier(str(path))
            if cascade.empty():
                raise ModelError(f"cannot load OpenCV's Haar cascade from {path}")
            self._local.cascade = cascade
        return cascade

    def __call__(self, image: NDArray[np.uint8]) -> list[RegionBox]:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        grey = cv2.equalizeHist(grey)
        long_side = max(grey.shape[:2])
        m = self.cfg.margin
        boxes: list[RegionBox] = []
        for scale in self._scales:
            if scale > 1 and long_side * scale > min(self.cfg.max_search_side_px, HAAR_MAX_SIDE_PX):
                break
            g = grey if scale == 1 else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
            for x, y, w, h in self._cascade().detectMultiScale(g, 1.1, 3, minSize=(20, 20)):
                x1, y1, x2, y2 = x / scale, y / scale, (x + w) / scale, (y + h) / scale
                bw, bh = x2 - x1, y2 - y1
                boxes.append((x1 - m * bw, y1 - m * bh, x2 + m * bw, y2 + m * bh))
        return boxes


@dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted copy of an image and what was done to it.

    Attributes:
        image: the copy, every region blurred.
        boxes: the regions blurred, in pixels.
        kept: regions found but left clear because they lay inside a ``keep`` box.
        elapsed_s: time spent finding and blurring.
    """

    image: NDArray[np.uint8]
    boxes: tuple[RegionBox, ...]
    kept: tuple[RegionBox, ...]
    elapsed_s: float


def _centre_inside(box: RegionBox, keep: Sequence[RegionBox]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(k[0] <= cx <= k[2] and k[1] <= cy <= k[3] for k in keep)


class Redactor:
    """Finds regions with each finder and blurs them all: faces always, and plates where policy
    says (``plates``, asked per camera through ``plate_policy``; see
    :mod:`vigil.governance.plate_regions`)."""

    def __init__(
        self,
        finders: Sequence[RegionFinder],
        passes: int = PASSES,
        *,
        plates: RegionFinder | None = None,
        plate_policy: Callable[[str | None], bool] | None = None,
    ) -> None:
        if not finders:
            raise ValueError("a redactor needs at least one region finder")
        self._finders = tuple(finders)
        self._passes = passes
        self._plates = plates
        self._plate_policy = plate_policy

    def blurs_plates(self, camera_id: str | None = None) -> bool:
        """Whether plates are blurred in ``camera_id``'s images (None: an image of no known camera)."""
        if self._plates is None:
            return False
        return True if self._plate_policy is None else self._plate_policy(camera_id)

    def redact(
        self, image: NDArray[np.uint8], *, keep: Sequence[RegionBox] = (), camera_id: str | None = None
    ) -> Redacted:
        """A copy of ``image`` ((H, W, 3) or (H, W) uint8) with every region found blurred,
        except those whose centre lies inside one of ``keep`` (a face candidate's person box
        in a scene frame). Plates, where policy says for ``camera_id``, are searched once in
        the image as given. The first face search is of the image as given too (a plate box
        pixelated over part of a face hides it from the search, not from a person), and the
        faces are blurred last, over the plates, so no plate's blocks are left on a face."""
        started = time.perf_counter()
        out = image
        blurred: list[RegionBox] = []
        kept: list[RegionBox] = []
        plates: list[RegionBox] = []
        if self._plates is not None and self.blurs_plates(camera_id):
            found_plates = self._plates(image)
            kept.extend(b for b in found_plates if keep and _centre_inside(b, keep))
            plates = [b for b in found_plates if b not in kept]
        for i in range(self._passes):
            found = [box for finder in self._finders for box in finder(out)]
            new_kept = [b for b in found if keep and _centre_inside(b, keep)]
            new = [b for b in found if b not in new_kept]
            kept.extend(k for k in new_kept if k not in kept)
            if i == 0 and plates:
                out = blur_boxes(out, plates, max_cells=FACE_CELLS)
                blurred.extend(plates)
            if not new:
                break
            out = blur_boxes(out, new, max_cells=FACE_CELLS)
            blurred.extend(new)
        return Redacted(
            out if out is not image else image.copy(), tuple(blurred), tuple(kept), time.perf_counter() - started
        )

    def __call__(
        self, image: NDArray[np.uint8], keep: Sequence[RegionBox] = (), camera_id: str | None = None
    ) -> NDArray[np.uint8]:
        """The redacted image (what :class:`~vigil.store.media.MediaStore` calls before writing)."""
        return self.redact(image, keep=keep, camera_id=camera_id).image


def build_redactor(cfg: VigilConfig) -> Redactor:
    """The deployment's write-time redactor: faces (YuNet from the models directory, and
    OpenCV's Haar frontal cascade), and plates where ``governance.redaction.plates`` or a
    camera's ``blur_plates`` says (:mod:`vigil.governance.plate_regions`).

    Raises:
        ModelMissingError: YuNet is not installed (it names the install command), or the plate
            detector was chosen (``plates.localiser: platedet``) and is not. Nothing is stored
            unredacted instead: the run refuses to start.
    """
    red = cfg.governance.redaction
    # Stills are kept and exported: the thorough plate finder (the live view and clips: fast).
    plates = build_plate_regions(cfg, "thorough") if plates_wanted(cfg) else None
    return Redactor(
        [FaceRegions(require(cfg.resolved_models_dir, "yunet"), red), HaarFaceRegions(red)],
        plates=plates,
        plate_policy=lambda camera_id: plates_blurred(cfg, camera_id),
    )
