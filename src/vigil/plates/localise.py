"""Finding plate-like regions in a frame without a plate detector.

Plates are rows of high-contrast characters of similar height. Black-hat and top-hat
filters (dark-on-light and light-on-dark characters) followed by a horizontal gradient and a
horizontal closing join each character row into one blob; blobs with a plate's aspect ratio
become candidates, at two scales so both distant and close-up plates are found. Each
candidate is then scored by how plate-like its contents are: several separate, upright
character blobs of the same height in one row. The search runs on the whole frame (or a
generous region), never only inside a vehicle box, because detector boxes of close-up cars
often cut the plate off.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.frame import BGRImage

GreyImage = NDArray[np.uint8]


def _u8(image: object) -> GreyImage:
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    """A plate-like character row.

    Attributes:
        box: ``(x1, y1, x2, y2)`` of the character row in pixels of the searched image.
        n_chars: character-like blobs found in it.
        score: plate-likeness in [0, 1] (character count, even heights, aspect ratio).
    """

    box: tuple[float, float, float, float]
    n_chars: int
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def _rows(grey: GreyImage, op: int) -> list[tuple[int, int, int, int]]:
    hat = cv2.morphologyEx(grey, op, cv2.getStructuringElement(cv2.MORPH_RECT, (21, 9)))
    gx = np.abs(cv2.Sobel(hat, cv2.CV_32F, 1, 0, ksize=3))
    peak = float(gx.max())
    if peak <= 0:
        return []
    g8 = (255.0 * gx / peak).astype(np.uint8)
    g8 = _u8(cv2.GaussianBlur(g8, (5, 5), 0))
    g8 = _u8(cv2.morphologyEx(g8, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 3))))
    _, mask = cv2.threshold(g8, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    kernel = np.ones((3, 3), np.uint8)
    mask = _u8(cv2.dilate(cv2.erode(mask, kernel, iterations=1), kernel, iterations=2))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if h >= 6 and w >= 20 and 1.5 <= w / h <= 9.0:
            out.append((x, y, w, h))
    return out


def count_characters(grey_row: GreyImage) -> tuple[int, float]:
    """Character-like blobs in a character row, and how even their heights are (0–1)."""
    h, w = grey_row.shape[:2]
    if h < 4 or w < 8:
        return 0, 0.0
    if h < 40:
        scale = 40.0 / h
        grey_row = _u8(cv2.resize(grey_row, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR))
        h, w = grey_row.shape[:2]
    best = (0, 0.0)
    _, binary = cv2.threshold(grey_row, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    for mask in (binary, 255 - binary):
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        heights = [
            int(stats[i, cv2.CC_STAT_HEIGHT])
            for i in range(1, n)
            if 0.3 * h <= stats[i, cv2.CC_STAT_HEIGHT] <= 0.98 * h
            and stats[i, cv2.CC_STAT_WIDTH] <= 0.9 * stats[i, cv2.CC_STAT_HEIGHT]
            and stats[i, cv2.CC_STAT_AREA] >= 0.05 * stats[i, cv2.CC_STAT_HEIGHT] * stats[i, cv2.CC_STAT_WIDTH]
        ]
        if not heights:
            continue
        med = float(np.median(heights))
        even = [x for x in heights if abs(x - med) <= 0.2 * med]
        evenness = len(even) / len(heights)
        if len(even) > best[0]:
            best = (len(even), evenness)
    return best


def _plate_likeness(n_chars: int, evenness: float, aspect: float) -> float:
    if n_chars < 2:
        return 0.05
    count = 1.0 if 5 <= n_chars <= 8 else (0.8 if n_chars in (4, 9) else (0.4 if n_chars in (2, 3, 10, 11) else 0.2))
    shape = 1.0 if 2.0 <= aspect <= 6.5 else 0.6
    return count * shape * (0.5 + 0.5 * evenness)


def find_plate_candidates(
    image: BGRImage, max_candidates: int = 8, min_char_px: int = 8, scales: tuple[float, ...] = (1.0, 0.5)
) -> list[PlateCandidate]:
    """Plate-like character rows in ``image``, most plate-like first.

    Args:
        image: BGR frame or region, ``(H, W, 3)`` uint8.
        max_candidates: how many to return at most (each costs one OCR read later).
        min_char_px: ignore rows lower than this (too small to read).
        scales: image scales searched (close-up plates are found at the smaller ones).
    """
    if image.size == 0:
        return []
    grey = _u8(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)) if image.ndim == 3 else _u8(image)
    raw: list[tuple[float, float, float, float]] = []
    for scale in scales:
        g = grey if scale == 1.0 else _u8(cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        for op in (cv2.MORPH_BLACKHAT, cv2.MORPH_TOPHAT):
            for x, y, w, h in _rows(g, op):
                raw.append((x / scale, y / scale, (x + w) / scale, (y + h) / scale))
    scored: list[PlateCandidate] = []
    hh, ww = grey.shape[:2]
    for x1, y1, x2, y2 in raw:
        if y2 - y1 < min_char_px:
            continue
        pad = 0.1 * (y2 - y1)
        ix1, iy1 = max(0, int(x1)), max(0, int(y1 - pad))
        ix2, iy2 = min(ww, int(x2)), min(hh, int(y2 + pad))
        n, even = count_characters(grey[iy1:iy2, ix1:ix2])
        score = _plate_likeness(n, even, (x2 - x1) / max(1.0, y2 - y1))
        if score > 0:
            scored.append(PlateCandidate((x1, y1, x2, y2), n, score))
    scored.sort(key=lambda c: (-c.score, -c.width * c.height))
    kept: list[PlateCandidate] = []
    for cand in scored:
        if all(box_iou(cand.box, k.box) < 0.5 for k in kept):
            kept.append(cand)
        if len(kept) >= max_candidates:
            break
    return kept


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
