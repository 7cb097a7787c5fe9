"""Detection where something moves: crops around the motion and the live tracks.

Frigate's way to make a CPU go far: on a frame where the motion gate saw change in part of the
view, the detector looks at a crop around that change and around the objects already tracked
(so a person who stops walking is still seen), at the same scale as a whole-frame look, instead
of at the whole frame. A free-size graph's cost follows its input's area, so a crop a third of
the frame costs about a third. Places far apart (two people at opposite corners) are separate
crops, up to ``max_crops``, rather than one crop spanning the frame between them. Crops are
not used when together they would be most of the frame anyway, and the whole frame is looked
at regularly (``full_every_s``) so that something that appeared without moving much is found
(measured in ``bench/motion_regions.py``; docs/detectors.md).
"""

from __future__ import annotations

from collections.abc import Sequence
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
        max_crops: at most this many crops per frame; places whose grown boxes overlap are one
            crop, and past ``max_crops`` the two crops whose union adds least area are joined.
            The crops together must be at most ``max_share`` of the frame.
        detect_every: with tracks live and every changed place inside a live track's box (grown
            by ``margin``: nothing new moved), detect on only every this-many-th analysed frame;
            the tracks carry over the frames between (1: detect every analysed frame).
    """

    margin: float = 0.08
    max_share: float = 0.6
    full_every_s: float = 2.0
    max_crops: int = 1
    detect_every: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        if not 0 < self.max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], got {self.max_share}")
        if self.full_every_s <= 0:
            raise ValueError(f"full_every_s must be > 0 seconds, got {self.full_every_s}")
        if self.max_crops < 1:
            raise ValueError(f"max_crops must be >= 1, got {self.max_crops}")
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")


class RegionChooser:
    """Per camera: the crops to detect in for each analysed frame, or None for the whole frame."""

    def __init__(self, policy: RegionPolicy | None = None) -> None:
        self.policy = policy or RegionPolicy()
        self._last_full_pts_s: float | None = None
        self.crops = 0
        """Frames detected in a crop."""
        self.full = 0
        """Frames detected whole."""
        self.crop_area = 0.0
        """Sum over cropped frames of the crops' share of the frame's area."""
        self.crop_calls = 0
        """Crops detected in (several per frame with ``max_crops`` > 1)."""
        self.skipped = 0
        """Frames not detected: the tracks carried over them (``detect_every`` > 1)."""
        self._skipped_in_row = 0

    def skip(
        self,
        width: int,
        height: int,
        pts_s: float,
        motion_box: tuple[float, float, float, float] | None,
        tracked_xyxy: NDArray[np.float32],
        motion_parts: Sequence[tuple[float, float, float, float]] = (),
    ) -> bool:
        """Whether this frame needs no detection: tracks are live, everything that changed is
        inside them, fewer than ``detect_every - 1`` frames in a row were skipped, and no
        whole-frame look is due. Arguments as in :meth:`choose`."""
        last = self._last_full_pts_s
        if (
            self.policy.detect_every <= 1
            or motion_box is None
            or not len(tracked_xyxy)
            or self._skipped_in_row >= self.policy.detect_every - 1
            or last is None
            or pts_s < last
            or pts_s - last >= self.policy.full_every_s
        ):
            self._skipped_in_row = 0
            return False
        scale = np.asarray([width, height, width, height], dtype=np.float64)
        places = np.asarray(list(motion_parts) or [motion_box], dtype=np.float64).reshape(-1, 4) * scale
        pad = self.policy.margin * max(width, height)
        tracks = np.asarray(tracked_xyxy, dtype=np.float64).reshape(-1, 4) + np.asarray([-pad, -pad, pad, pad])
        inside = (
            (places[:, None, 0] >= tracks[None, :, 0])
            & (places[:, None, 1] >= tracks[None, :, 1])
            & (places[:, None, 2] <= tracks[None, :, 2])
            & (places[:, None, 3] <= tracks[None, :, 3])
        )
        if not inside.any(axis=1).all():
            self._skipped_in_row = 0
            return False
        self._skipped_in_row += 1
        self.skipped += 1
        return True

    def choose(
        self,
        width: int,
        height: int,
        pts_s: float,
        motion_box: tuple[float, float, float, float] | None,
        tracked_xyxy: NDArray[np.float32],
        motion_parts: Sequence[tuple[float, float, float, float]] = (),
    ) -> tuple[PixelBox, ...] | None:
        """The crops for a ``width`` x ``height`` frame at ``pts_s``, or None: detect the whole frame.

        Args:
            motion_box: where the frame changed, shares of width and height; None (unknown, or a
                keepalive frame) means the whole frame.
            tracked_xyxy: ``(N, 4)`` pixel boxes of the tracks live after the previous frame.
            motion_parts: the separate changed places inside ``motion_box`` (same units); empty:
                ``motion_box`` is one place.
        """
        crops = self._crops(width, height, pts_s, motion_box, motion_parts, tracked_xyxy)
        if crops is None:
            self._last_full_pts_s = pts_s
            self.full += 1
        else:
            self.crops += 1
            self.crop_calls += len(crops)
            self.crop_area += sum((c[2] - c[0]) * (c[3] - c[1]) for c in crops) / (width * height)
        return crops

    def _crops(
        self,
        width: int,
        height: int,
        pts_s: float,
        motion_box: tuple[float, float, float, float] | None,
        motion_parts: Sequence[tuple[float, float, float, float]],
        tracked_xyxy: NDArray[np.float32],
    ) -> tuple[PixelBox, ...] | None:
        last = self._last_full_pts_s
        if motion_box is None or last is None or pts_s < last or pts_s - last >= self.policy.full_every_s:
            return None
        places = [motion_box] if self.policy.max_crops == 1 or not motion_parts else list(motion_parts)
        boxes = np.asarray(places, dtype=np.float64).reshape(-1, 4) * [width, height, width, height]
        if len(tracked_xyxy):
            boxes = np.concatenate([boxes, np.asarray(tracked_xyxy, dtype=np.float64).reshape(-1, 4)])
        pad = self.policy.margin * max(width, height)
        grown = np.clip(boxes + np.asarray([-pad, -pad, pad, pad]), 0, [width, height, width, height])
        grown = grown[(grown[:, 2] > grown[:, 0]) & (grown[:, 3] > grown[:, 1])]
        if not len(grown):
            return None
        crops = _join(grown, self.policy.max_crops)
        pixel = tuple((int(np.floor(c[0])), int(np.floor(c[1])), int(np.ceil(c[2])), int(np.ceil(c[3]))) for c in crops)
        if sum((c[2] - c[0]) * (c[3] - c[1]) for c in pixel) > self.policy.max_share * width * height:
            return None
        return pixel


def _join(boxes: NDArray[np.float64], max_crops: int) -> NDArray[np.float64]:
    """Boxes that overlap joined into their union until none do; then, while there are more than
    ``max_crops``, the pair whose union adds least area beyond their own is joined."""
    crops = boxes
    while len(crops) > 1:
        x1, y1, x2, y2 = (crops[:, k] for k in range(4))
        ux1, uy1 = np.minimum.outer(x1, x1), np.minimum.outer(y1, y1)
        ux2, uy2 = np.maximum.outer(x2, x2), np.maximum.outer(y2, y2)
        overlap = (np.less.outer(x1, x2) & np.less.outer(x1, x2).T) & (np.less.outer(y1, y2) & np.less.outer(y1, y2).T)
        np.fill_diagonal(overlap, False)
        if overlap.any():
            i, j = np.argwhere(overlap)[0]
        elif len(crops) > max_crops:
            area = (x2 - x1) * (y2 - y1)
            added = (ux2 - ux1) * (uy2 - uy1) - np.add.outer(area, area)
            np.fill_diagonal(added, np.inf)
            i, j = np.unravel_index(int(np.argmin(added)), added.shape)
        else:
            break
        joined = np.asarray([[ux1[i, j], uy1[i, j], ux2[i, j], uy2[i, j]]])
        crops = np.concatenate([np.delete(crops, [i, j], axis=0), joined])
    return crops
