"""Zone polygons and counting lines as numpy geometry (pixels of the analysed frame)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import LineConfig, ZoneConfig
from vigil.core.errors import ConfigError

FloatArray = NDArray[np.float32]


def foot_points(xyxy: FloatArray) -> FloatArray:
    """Bottom-centre of each box ``(N, 4)`` → ``(N, 2)``: where a person stands on the ground."""
    if xyxy.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.float32)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1).astype(np.float32)


def points_in_polygon(points: FloatArray, polygon: Sequence[tuple[float, float]]) -> NDArray[np.bool_]:
    """Which of ``points`` ``(N, 2)`` lie inside ``polygon`` (even-odd rule) → ``(N,)`` bool."""
    if points.shape[0] == 0:
        return np.zeros((0,), dtype=bool)
    poly = np.asarray(polygon, dtype=np.float64)
    x, y = points[:, 0].astype(np.float64)[:, None], points[:, 1].astype(np.float64)[:, None]
    x1, y1 = poly[:, 0][None, :], poly[:, 1][None, :]
    x2, y2 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    inside: NDArray[np.bool_] = (np.sum(straddles & (x < x_cross), axis=1) % 2) == 1
    return inside


def polygon_mask(
    polygon: Sequence[tuple[float, float]],
    width: int,
    height: int,
    scale: float,
    origin: tuple[int, int] = (0, 0),
) -> NDArray[np.bool_]:
    """Boolean ``(height, width)`` mask of ``polygon`` drawn at ``scale`` (e.g. 1/8 for a density
    map) on a grid whose top-left corner is frame pixel ``origin``."""
    mask = np.zeros((height, width), dtype=np.uint8)
    pts = np.round((np.asarray(polygon, dtype=np.float64) - np.asarray(origin, dtype=np.float64)) * scale)
    pts = pts.astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def side_of_line(points: FloatArray, line: LineConfig) -> NDArray[np.float64]:
    """Signed side of each point: > 0 right of start→end as seen on screen (the ``in`` side)."""
    (sx, sy), (ex, ey) = line.start, line.end
    px, py = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    side: NDArray[np.float64] = (ex - sx) * (py - sy) - (ey - sy) * (px - sx)
    return side


def crosses_segment(a: tuple[float, float], b: tuple[float, float], line: LineConfig) -> bool:
    """Does the move a → b cross the line *segment* (not just its infinite extension)?"""
    (sx, sy), (ex, ey) = line.start, line.end

    def cross(ox: float, oy: float, px: float, py: float, qx: float, qy: float) -> float:
        return (px - ox) * (qy - oy) - (py - oy) * (qx - ox)

    d1 = cross(sx, sy, ex, ey, a[0], a[1])
    d2 = cross(sx, sy, ex, ey, b[0], b[1])
    d3 = cross(a[0], a[1], b[0], b[1], sx, sy)
    d4 = cross(a[0], a[1], b[0], b[1], ex, ey)
    return (d1 * d2 <= 0) and (d3 * d4 <= 0) and not (d1 == 0 and d2 == 0)


def check_in_frame(
    camera_key: str, zones: Sequence[ZoneConfig], lines: Sequence[LineConfig], width: int, height: int
) -> None:
    """Raise ConfigError naming the zone or line whose points fall outside a ``width`` × ``height`` frame."""
    for i, zone in enumerate(zones):
        for x, y in zone.polygon:
            if not (0 <= x <= width and 0 <= y <= height):
                raise ConfigError(
                    f"{camera_key}.zones[{i}] (zone {zone.id!r}): vertex [{x:g}, {y:g}] is outside the "
                    f"{width}x{height} frame"
                )
    for i, line in enumerate(lines):
        for x, y in (line.start, line.end):
            if not (0 <= x <= width and 0 <= y <= height):
                raise ConfigError(
                    f"{camera_key}.lines[{i}] (line {line.id!r}): point [{x:g}, {y:g}] is outside the "
                    f"{width}x{height} frame"
                )


WHOLE_FRAME_SHARE = 0.8
"""A zones' region covering more than this share of the frame runs density on the whole frame:
the saving would be small and the region's edges cost accuracy."""


def zones_region(
    polygons: Sequence[Sequence[tuple[float, float]]], width: int, height: int, margin_px: float
) -> tuple[int, int, int, int] | None:
    """The part of a ``width`` × ``height`` frame density must run on to count ``polygons``:
    their bounding box grown by ``margin_px`` on every side (the network sees some context
    round each head), clipped to the frame, as ``(x0, y0, x1, y1)``.

    None: no polygons, or the region is most of the frame (:data:`WHOLE_FRAME_SHARE`).
    """
    if not polygons:
        return None
    pts = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons])
    x0 = int(max(0.0, np.floor(pts[:, 0].min() - margin_px)))
    y0 = int(max(0.0, np.floor(pts[:, 1].min() - margin_px)))
    x1 = int(min(float(width), np.ceil(pts[:, 0].max() + margin_px)))
    y1 = int(min(float(height), np.ceil(pts[:, 1].max() + margin_px)))
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) > WHOLE_FRAME_SHARE * width * height:
        return None
    return x0, y0, x1, y1
