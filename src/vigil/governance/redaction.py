"""Redaction: blur faces and plates (or whole crops where their positions are unknown).

Fail closed: a media file is served unredacted only to a role with the unredact privilege and
a reason; otherwise every known face/plate box is blurred, and where no redaction regions are
known for a file (a person snapshot before the faces feature runs) the whole image is blurred.
Feature packages plug in precise regions with :meth:`RedactionRegistry.register`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import InputError

RegionBox = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)`` in pixels of the image."""

RegionSource = Callable[[str], Sequence[RegionBox] | None]
"""Given a media path, the boxes to blur, or None if this source knows nothing about the file."""


def blur_boxes(
    image: NDArray[np.uint8], boxes: Sequence[RegionBox], *, strength: float = 0.25, max_cells: int | None = None
) -> NDArray[np.uint8]:
    """A copy of ``image`` ((H, W, 3) or (H, W) uint8) with each box pixelated then blurred.

    Boxes are clipped to the image; empty or degenerate boxes are ignored. Pixelation first so
    that no detail survives a weak blur (a Gaussian alone can be partly inverted): cells of
    12 px, and at most ``max_cells`` across a box's long side where given (a large face in 12 px
    cells still has the layout of a face to a detector; in 5 cells it has none).
    """
    out = image.copy()
    if not boxes or image.size == 0:
        return out
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in boxes:
        xa, ya = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        xb, yb = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if xb - xa < 1 or yb - ya < 1:
            continue
        region = out[ya:yb, xa:xb]
        cell = 12.0 if max_cells is None else max(12.0, max(xb - xa, yb - ya) / max_cells)
        small = cv2.resize(
            region, (max(1, int((xb - xa) / cell)), max(1, int((yb - ya) / cell))), interpolation=cv2.INTER_AREA
        )
        coarse = cv2.resize(small, (xb - xa, yb - ya), interpolation=cv2.INTER_NEAREST)
        k = max(3, int(max(xb - xa, yb - ya) * strength) | 1)
        out[ya:yb, xa:xb] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


def blur_all(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    h, w = image.shape[:2]
    return blur_boxes(image, [(0.0, 0.0, float(w), float(h))])


@dataclass
class RedactionRegistry:
    """Sources of redaction regions (faces, plates …), asked in order of registration."""

    sources: list[RegionSource]

    def __init__(self) -> None:
        self.sources = []

    def register(self, source: RegionSource) -> None:
        self.sources.append(source)

    def regions(self, rel_path: str) -> list[RegionBox] | None:
        """Boxes to blur in ``rel_path``; None if no source knows the file (blur it all)."""
        found: list[RegionBox] | None = None
        for source in self.sources:
            boxes = source(rel_path)
            if boxes is not None:
                found = [*(found or []), *boxes]
        return found


def redact_jpeg(data: bytes, regions: Sequence[RegionBox] | None, quality: int = 90) -> bytes:
    """Decode a JPEG/PNG, blur ``regions`` (None: everything), re-encode as JPEG.

    Raises:
        InputError: the bytes are not a decodable image.
    """
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError("the media file is not a readable image")
    pixels: NDArray[np.uint8] = image.astype(np.uint8, copy=False)
    redacted = blur_all(pixels) if regions is None else blur_boxes(pixels, regions)
    ok, encoded = cv2.imencode(".jpg", redacted, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - encoding a valid array does not fail
        raise InputError("the redacted image could not be encoded")
    return bytes(encoded.tobytes())
