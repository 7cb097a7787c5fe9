"""Write-time redaction of a clip's frames: every face blurred, by region, before encoding.

A clip is tens of frames, so each frame gets a cheaper search than a stored still (which is
searched at up to seven scales with a second detector, a second or more per image here):
YuNet on the frame as it is and enlarged x2 (faces down to ~5 px), plus the head of every
person the pipeline was tracking in that frame, found or not (the live view's rule), so a face
too small or too turned for YuNet is still covered. One search gives both copies a clip may
have: every face blurred (what footage roles see), and, for a face candidate, the faces
centred inside the candidate's own person box left clear (a supervisor's unredacted view).
Where the first search blurred anything, the blurred frame is searched again (as the write-time
redactor's second pass), since what is left beside a blurred box can still read as a face.
Without YuNet every frame is blurred whole (fail closed). Plates are blurred by region where
policy says for the clip's camera (:mod:`vigil.governance.plate_regions`), in both copies: a
plate candidate's own plate stays clear only in its plate crop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from vigil.config import VigilConfig
from vigil.core.errors import ModelError
from vigil.governance.plate_regions import build_plate_regions, plates_blurred, plates_wanted
from vigil.governance.redaction import RegionBox, blur_all, blur_boxes
from vigil.governance.redactor import FACE_CELLS, FaceRegions, RegionFinder
from vigil.models.install import require

log = logging.getLogger(__name__)

CLIP_SCALES = (1.0, 2.0)
"""YuNet's scales on a clip frame (x2 is skipped where it would pass ``max_search_side_px``)."""


def _centre_inside(box: RegionBox, keep: Sequence[RegionBox]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(k[0] <= cx <= k[2] and k[1] <= cy <= k[3] for k in keep)


class ClipRedactor:
    """``(frame, heads, keep) -> (every face blurred, keep's faces clear or None)``: the
    :class:`~vigil.store.media.FrameRedactor` the media store calls on each clip frame."""

    def __init__(
        self,
        faces: RegionFinder | None,
        plates: RegionFinder | None = None,
        plate_policy: Callable[[str | None], bool] | None = None,
    ) -> None:
        self._faces = faces
        self._plates = plates
        self._plate_policy = plate_policy

    @property
    def finds_faces(self) -> bool:
        return self._faces is not None

    def __call__(
        self,
        image: NDArray[np.uint8],
        heads: Sequence[RegionBox],
        keep: Sequence[RegionBox],
        camera_id: str | None = None,
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None]:
        if self._faces is None:
            whole = blur_all(image)
            return whole, (whole if keep else None)
        plates: list[RegionBox] = []
        if self._plates is not None and (self._plate_policy is None or self._plate_policy(camera_id)):
            plates = self._plates(image)
        # Faces are searched in the frame as given (a plate box over part of a face would hide
        # it from the search) and blurred last, over the plates.
        found = [*self._faces(image), *heads]
        outside = [b for b in found if not (keep and _centre_inside(b, keep))]
        base = blur_boxes(image, plates, max_cells=FACE_CELLS) if plates else image
        kept = blur_boxes(base, outside, max_cells=FACE_CELLS)
        blurred = blur_boxes(kept, [b for b in found if b not in outside], max_cells=FACE_CELLS)
        if found:
            # A second search of the blurred frame: what is left of a face beside a blurred
            # box (hair, a chin) can still read as one (the write-time redactor's two passes).
            again = self._faces(blurred)
            blurred = blur_boxes(blurred, again, max_cells=FACE_CELLS)
            if keep:
                kept = blur_boxes(kept, [b for b in again if not _centre_inside(b, keep)], max_cells=FACE_CELLS)
        return blurred, (kept if keep else None)


def build_clip_redactor(cfg: VigilConfig) -> ClipRedactor:
    """The deployment's clip redactor (every frame blurred whole where YuNet is missing)."""
    try:
        faces = FaceRegions(require(cfg.resolved_models_dir, "yunet"), cfg.governance.redaction, scales=CLIP_SCALES)
    except ModelError as exc:
        log.warning("clips: faces cannot be found, so clip frames are blurred whole: %s", exc)
        return ClipRedactor(None)
    plates = build_plate_regions(cfg) if plates_wanted(cfg) else None
    return ClipRedactor(faces, plates, lambda camera_id: plates_blurred(cfg, camera_id))
