"""Redaction: blur faces and plates by region (or whole crops where policy says so).

Fail closed: a media file is served unredacted only to a role with the unredact privilege and
a reason; otherwise the deployment's one :class:`~vigil.governance.redactor.Redactor` (the same
that redacts at write time) blurs every face it finds as the file is served, and regions that
feature packages register (:meth:`RedactionRegistry.register`) are blurred as well. Where no
redactor could be built (YuNet missing), :func:`redact_for_viewing` blurs the whole image.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

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


FaceBlur = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]
"""The deployment's redactor as a function: a copy of the image with every face blurred."""


class ImageBlur(Protocol):
    """The deployment's redactor as the media store holds it (faces; plates by camera policy)."""

    def __call__(
        self, image: NDArray[np.uint8], keep: Sequence[RegionBox] = (), camera_id: str | None = None
    ) -> NDArray[np.uint8]: ...


def for_camera(redactor: ImageBlur | None, camera_id: str | None) -> FaceBlur | None:
    """``redactor`` applied with ``camera_id``'s plate policy (None stays None: blur it all)."""
    if redactor is None:
        return None
    return lambda image: redactor(image, (), camera_id)


def redact_for_viewing(
    data: bytes, redactor: FaceBlur | None, regions: Sequence[RegionBox] | None = None, quality: int = 90
) -> bytes:
    """What a viewer without the unredact right is shown of a stored image: the scene, with
    every face ``redactor`` finds blurred by region and ``regions`` (plates …) blurred too.

    Files written since write-time redaction are already blurred except a face candidate's own
    track; running the one redactor again as they are served covers that track and any file
    written before, with the same rule. Without a redactor the whole image is blurred.

    Raises:
        InputError: the bytes are not a decodable image.
    """
    if redactor is None:
        return redact_jpeg(data, None, quality)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError("the media file is not a readable image")
    pixels: NDArray[np.uint8] = redactor(image.astype(np.uint8, copy=False))
    if regions:
        pixels = blur_boxes(pixels, regions)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - encoding a valid array does not fail
        raise InputError("the redacted image could not be encoded")
    return bytes(encoded.tobytes())


class ViewCache:
    """Redacted copies of recently served files, in memory only (least recently used first
    out, ``max_bytes`` in all): the face search costs a second or more per image, and an
    events page shows the same snapshots again and again. Keyed by path, size and
    modification time, so a file replaced on disk is redacted afresh."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max = max_bytes
        self._items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int], make: Callable[[], bytes]) -> bytes:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        value = make()
        with self._lock:
            if key not in self._items and len(value) <= self._max:
                self._items[key] = value
                self._size += len(value)
                while self._size > self._max:
                    _, old = self._items.popitem(last=False)
                    self._size -= len(old)
        return value
