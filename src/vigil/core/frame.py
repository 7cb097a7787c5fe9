"""A decoded video frame as it travels from a camera source to the analysers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

BGRImage = NDArray[np.uint8]
"""An image of shape ``(H, W, 3)``, BGR channel order (OpenCV's convention)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    Attributes:
        camera_id: id of the camera (config ``cameras[].id``) it came from.
        index: 0-based count of frames decoded from this source since it was opened
            (keeps counting across reconnects).
        pts_s: presentation time in seconds since the start of the stream/recording.
        captured_at: wall-clock UTC time the frame was decoded (for files: start time
            of the analysis plus ``pts_s``, so recordings get stable timestamps).
        image: ``(H, W, 3)`` uint8 BGR pixels.
        motion_box: where the capture's motion gate saw this frame change (``x1, y1, x2, y2``
            as shares of the width and height); None: not known (no gate, a keepalive frame).
        motion_parts: the separate changed places inside ``motion_box`` (same units); empty
            when ``motion_box`` is None.
    """

    camera_id: str
    index: int
    pts_s: float
    captured_at: datetime
    image: BGRImage
    motion_box: tuple[float, float, float, float] | None = None
    motion_parts: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
