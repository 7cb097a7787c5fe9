"""Detection where something moves: one crop around the motion and the live tracks.

Frigate's way to make a CPU go far: on a frame where the motion gate saw change in part of the
view, the detector looks at a crop around that change and around the objects already tracked
(so a person who stops walking is still seen), at the same scale as a whole-frame look, instead
of at the whole frame. A free-size graph's cost follows its input's area, so a crop a third of
the frame costs about a third. The crop is not used when it would be most of the frame anyway,
and the whole frame is looked at regularly (``full_every_s``) so that something that appeared
without moving much is found (measured in ``bench/motion_regions.py``; docs/detectors.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

PixelBox = tuple[int, int, int, int]
"""``x1, y1, x2, y2`` in whole pixels of the frame, x2 and y2 exclusive."""


@dataclass(frozen=True, slots=True)
class RegionPolicy:
    """When a crop replaces the whole frame.

    Attributes:
        margin: added on every side of the motion and track boxes, as a share of the frame's
            longer side (a walker moves between analysed frames; a crop edge through an object
            cuts its box).
        max_share: the crop is used only when its area is at most this share of the frame's.
        full_every_s: a whole-frame look at least this often, in seconds of video.
    """

    margin: float = 0.08
    max_share: float = 0.6
    full_every_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        if not 0 < self.max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], got {self.max_share}")
        if self.full_every_s <= 0:
            raise ValueError(f"full_every_s must be > 0 seconds, got {self.full_every_s}")


class RegionChooser:
    """Per camera: the crop to detect in for each analysed frame, or None for the whole frame."""

    def __init__(self, policy: RegionPolicy | None = None) -> None:
        self.policy = policy or RegionPolicy()
        self._last_full_pts_s: float | None = None
        self.crops = 0
        """Frames detected in a crop."""
        self.full = 0
        """Frames detected whole."""
        self.crop_area = 0.0
        """Sum over cropped frames of the crop's share of the frame's area."""

    def choose(
        self,
        width: int,
        height: int,
        pts_s: float,
        motion_box: tuple[float, float, float, float] | None,
        tracked_xyxy: NDArray[np.float32],
    ) -> PixelBox | None:
        """The crop for a ``width`` x ``height`` frame at ``pts_s``, or None: detect the whole frame.

        Args:
            motion_box: where the frame changed, shares of width and height; None (unknown, or a
                keepalive frame) means the whole frame.
            tracked_xyxy: ``(N, 4)`` pixel boxes of the tracks live after the previous frame.
        """
        crop = self._crop(width, height, pts_s, motion_box, tracked_xyxy)
        if crop is None:
            self._last_full_pts_s = pts_s
            self.full += 1
        else:
            self.crops += 1
            self.crop_area += (crop[2] - crop[0]) * (crop[3] - crop[1]) / (width * height)
        return crop

    def _crop(
        self,
        width: int,
        height: int,
        pts_s: float,
        motion_box: tuple[float, float, float, float] | None,
        tracked_xyxy: NDArray[np.float32],
    ) -> PixelBox | None:
        last = self._last_full_pts_s
        if motion_box is None or last is None or pts_s < last or pts_s - last >= self.policy.full_every_s:
            return None
        boxes = np.asarray([motion_box], dtype=np.float64) * [width, height, width, height]
        if len(tracked_xyxy):
            boxes = np.concatenate([boxes, np.asarray(tracked_xyxy, dtype=np.float64).reshape(-1, 4)])
        pad = self.policy.margin * max(width, height)
        x1 = max(0, int(np.floor(boxes[:, 0].min() - pad)))
        y1 = max(0, int(np.floor(boxes[:, 1].min() - pad)))
        x2 = min(width, int(np.ceil(boxes[:, 2].max() + pad)))
        y2 = min(height, int(np.ceil(boxes[:, 3].max() + pad)))
        if x2 <= x1 or y2 <= y1:
            return None
        if (x2 - x1) * (y2 - y1) > self.policy.max_share * width * height:
            return None
        return (x1, y1, x2, y2)
