"""One camera's crowd monitoring: zone counts, line flows, alerts and occupancy heatmap.

Fed once per analysed frame with the person boxes of the live tracks; returns plain records
(the ``workers`` layer turns them into events). Everything kept is aggregate: counts, grid
cells, and — only while a track lives — the side of each counting line its foot point was on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import CrowdConfig, LineConfig, ZoneConfig
from vigil.core.frame import BGRImage
from vigil.crowd.alerts import AlertChange, AlertKind, AlertUnit, HysteresisAlert, WindowRate
from vigil.crowd.calibration import CameraCalibration
from vigil.crowd.combine import DensityParts, combined_count, density_count, split_density
from vigil.crowd.counter import CountRule
from vigil.crowd.density import DensityEstimator, DensityMap
from vigil.crowd.geometry import FloatArray, check_in_frame, foot_points, points_in_polygon, polygon_mask
from vigil.crowd.heatmap import HeatmapAccumulator
from vigil.crowd.lines import LineCounter
from vigil.crowd.tiling import Detector, merge_tile_boxes, tile_boxes

log = logging.getLogger(__name__)

TOTAL_ZONE_ID = "*"
CountMethodUsed = Literal["detection", "density", "combined"]

EDGE_PX = 2.0
"""A person box within this many pixels of the frame edge is cut off by it."""
FRESH_DENSITY_PERIODS = 3
"""A density map is used for this many ``density_interval_s`` after it was computed."""


@dataclass(frozen=True, slots=True)
class ZoneSample:
    """One zone's (or the whole frame's, ``zone_id == "*"``) count at a sample."""

    zone_id: str
    count: int
    detection_count: int
    density_count: float | None
    method: CountMethodUsed
    density_per_m2: float | None


@dataclass(frozen=True, slots=True)
class HeatmapPeriod:
    """A finished heatmap period."""

    start_s: float
    end_s: float
    grid: NDArray[np.int64]
    frames: int
    frame_width: int
    frame_height: int


@dataclass(slots=True)
class MonitorOutput:
    """What one frame produced (most frames produce nothing)."""

    samples: list[ZoneSample] = field(default_factory=list)
    line_counts: dict[str, tuple[int, int]] | None = None
    line_period_start_s: float = 0.0
    alerts: list[AlertChange] = field(default_factory=list)
    heatmap: HeatmapPeriod | None = None

    def __bool__(self) -> bool:
        return bool(self.samples or self.line_counts or self.alerts or self.heatmap)


@dataclass(slots=True)
class _ZoneState:
    zone: ZoneConfig
    capacity: HysteresisAlert | None
    density_alert: HysteresisAlert | None
    surge: HysteresisAlert | None
    rate: WindowRate
    mask: NDArray[np.bool_] | None = None  # on the density grid, built with the first density map


def _boxes_in(boxes: FloatArray, dmap: DensityMap) -> NDArray[np.bool_]:
    """Which boxes' centres lie in the region the density map covers."""
    x0, y0 = dmap.origin
    x1 = x0 + (dmap.region_width or dmap.frame_width)
    y1 = y0 + dmap.density.shape[0] / dmap.cell_scale
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return np.asarray((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1))


class CrowdMonitor:
    """Crowd state of one camera.

    Args:
        camera_key: config key path of the camera, e.g. ``cameras[0]``, for error messages.
        zones: the camera's zones; lines: its counting lines.
        cfg: the ``crowd`` section.
        density: CSRNet, or None (then every zone counts by detection).
        tile_detector: person boxes on tiles for the density step (far people).
        calibration: the camera's count correction (``vigil crowd calibrate``), or None.

    Where the camera has zones, CSRNet runs on the smallest rectangle holding them all (at the
    whole frame's scale), not on the whole frame; the whole-frame count (``*``) then has
    density only there.
    """

    def __init__(
        self,
        camera_key: str,
        zones: Sequence[ZoneConfig],
        lines: Sequence[LineConfig],
        cfg: CrowdConfig,
        density: DensityEstimator | None,
        tile_detector: Detector | None = None,
        calibration: CameraCalibration | None = None,
    ) -> None:
        self.camera_key = camera_key
        self.cfg = cfg
        self._density = density
        self._rule = CountRule.from_config(cfg)
        self._near = False
        self._calibration = calibration
        # Far, small people are missed by the 416 px whole-frame pass; at each density step the
        # tiles find them (docs/crowd.md), and they count until the next step like the density does.
        self._tile_detector = tile_detector
        self._extra_feet: FloatArray = np.zeros((0, 2), dtype=np.float32)
        a = cfg.alerts

        def alert(kind: AlertKind, subject: str, threshold: float, unit: AlertUnit = "people") -> HysteresisAlert:
            return HysteresisAlert(
                kind,
                subject,
                threshold,
                min_duration_s=a.min_duration_s,
                clear_after_s=a.clear_after_s,
                hysteresis=a.hysteresis,
                unit=unit,
            )

        self._zones = [
            _ZoneState(
                zone=z,
                capacity=alert("over_capacity", z.id, z.capacity) if z.capacity else None,
                density_alert=(
                    alert("over_capacity", z.id, z.max_density_per_m2, "people_per_m2")
                    if z.max_density_per_m2
                    else None
                ),
                surge=alert("surge", z.id, z.surge_people) if z.surge_people else None,
                rate=WindowRate(a.surge_window_s),
            )
            for z in zones
        ]
        self._lines = LineCounter(lines)
        self._counter_flow = {
            line.id: (
                alert("counter_flow", line.id, line.counter_flow_crossings, "crossings"),
                WindowRate(a.counter_flow_window_s),
                "out" if line.allowed_direction == "in" else "in",
            )
            for line in lines
            if line.allowed_direction != "both"
        }
        self._line_period = {line.id: [0, 0] for line in lines}
        self._heat = HeatmapAccumulator(*cfg.heatmap_cells)
        self._size: tuple[int, int] | None = None
        self._last_sample_s: float | None = None
        self._line_period_start_s: float | None = None
        self._heat_start_s: float | None = None
        self._last_density_s: float | None = None
        self._parts: DensityParts | None = None  # the stock map's, split against the boxes
        self._tuned: NDArray[np.float32] | None = None  # the tuned tail's map (clipped) off the near path
        self.density_runs = 0
        self.density_ms = 0.0

    def check_frame_size(self, width: int, height: int) -> None:
        """Raise ConfigError naming the first zone or line outside a ``width`` × ``height`` frame."""
        check_in_frame(self.camera_key, [z.zone for z in self._zones], self._lines.lines, width, height)

    def observe(self, t_s: float, image: BGRImage, track_ids: Sequence[str], person_boxes: FloatArray) -> MonitorOutput:
        """One analysed frame: ``person_boxes`` ``(N, 4)`` of the live person tracks ``track_ids``."""
        out = MonitorOutput()
        height, width = int(image.shape[0]), int(image.shape[1])
        if self._size != (width, height):
            self.check_frame_size(width, height)
            self._size = (width, height)
            for zs in self._zones:
                zs.mask = None
        if self._heat_start_s is None:
            self._heat_start_s = self._line_period_start_s = t_s
        feet = foot_points(person_boxes)
        # A box cut by the left, right or bottom edge has no real foot point: its bottom-centre
        # slides as the person leaves the picture and would fake a crossing. Lines only see boxes
        # whose feet are in view; a track resumes once they are.
        boxes = np.asarray(person_boxes, dtype=np.float32).reshape(-1, 4)
        whole = (boxes[:, 0] > EDGE_PX) & (boxes[:, 2] < width - EDGE_PX) & (boxes[:, 3] < height - EDGE_PX)
        line_ids = [t for t, ok in zip(track_ids, whole, strict=True) if ok]
        for crossing in self._lines.update(line_ids, feet[whole]):
            self._line_period[crossing.line_id][0 if crossing.direction == "in" else 1] += 1
            flow = self._counter_flow.get(crossing.line_id)
            if flow is not None and crossing.direction == flow[2]:
                flow[1].add(t_s, 1.0)
        for alert, window, _ in self._counter_flow.values():
            window.add(t_s, 0.0)
            change = alert.observe(t_s, window.total())
            if change is not None:
                out.alerts.append(change)
        self._heat.add(feet, width, height)
        if self._density is not None and (
            self._last_density_s is None or t_s - self._last_density_s >= self.cfg.density_interval_s
        ):
            boxes = np.asarray(person_boxes, dtype=np.float32).reshape(-1, 4)
            if self._tile_detector is not None and self.cfg.count_tiles > 1:
                merged = merge_tile_boxes(boxes, tile_boxes(self._tile_detector, image, self.cfg.count_tiles))
                self._extra_feet = foot_points(merged[len(boxes) :])
                boxes = merged
            near = self._rule.people_are_near(boxes, height)
            region = self._zones_region(width, height)
            if not near:
                dmap = self._density.estimate(image, region=region, input_width=min(width, self._density.input_width))
                parts = split_density(dmap, boxes, self.cfg.density_floor, self.cfg.hidden_heads_px)
                n_in = int(np.count_nonzero(_boxes_in(boxes, dmap))) if region is not None else len(boxes)
                near = self._rule.density_disagrees(dmap.count, n_in + float(parts.residual.sum()))
            if near:
                dmap = self._density.estimate(image, region=region, input_width=min(width, self._rule.near_width))
                self._parts = split_density(dmap, boxes, self.cfg.density_floor, self.cfg.hidden_heads_px)
            else:
                self._parts = parts
            # Off the near path the tuned tail's map (where the graph has one) counts beside the
            # stock map's combined count (CountRule.weights); the gate read the stock map.
            self._tuned = None if near or dmap.tuned is None else np.clip(dmap.tuned, 0, None).astype(np.float32)
            self._near = near
            self._last_density_s = t_s
            self.density_runs += 1
            self.density_ms += dmap.ms
        if self._last_sample_s is None or t_s - self._last_sample_s >= self.cfg.sample_interval_s:
            self._last_sample_s = t_s
            out.samples = self._sample(t_s, feet, width, height, out.alerts)
            if any(a or b for a, b in self._line_period.values()):
                out.line_counts = {k: (v[0], v[1]) for k, v in self._line_period.items()}
                out.line_period_start_s = self._line_period_start_s or t_s
                self._line_period = {k: [0, 0] for k in self._line_period}
                self._line_period_start_s = t_s
        if t_s - self._heat_start_s >= self.cfg.heatmap_interval_s:
            out.heatmap = self._take_heatmap(t_s)
        return out

    def finish(self, t_s: float) -> MonitorOutput:
        """The stream ended: report the open line period and heatmap; forget every track."""
        out = MonitorOutput()
        if any(a or b for a, b in self._line_period.values()):
            out.line_counts = {k: (v[0], v[1]) for k, v in self._line_period.items()}
            out.line_period_start_s = self._line_period_start_s or t_s
            self._line_period = {k: [0, 0] for k in self._line_period}
        if self._heat.frames and self._heat_start_s is not None:
            out.heatmap = self._take_heatmap(t_s)
        self._lines.clear()
        return out

    def forget(self, track_ids: Sequence[str]) -> None:
        """Tracks ended: drop their line state."""
        self._lines.forget(track_ids)

    @property
    def line_totals(self) -> dict[str, dict[str, int]]:
        return self._lines.totals

    def _take_heatmap(self, t_s: float) -> HeatmapPeriod:
        grid, frames = self._heat.take()
        width, height = self._size or (1, 1)
        period = HeatmapPeriod(self._heat_start_s or t_s, t_s, grid, frames, width, height)
        self._heat_start_s = t_s
        return period

    def _zone_factor(
        self, parts: DensityParts, counted: NDArray[np.float32], mask: NDArray[np.bool_] | None, height: int
    ) -> float:
        """The calibration factor of a zone: its bands' factors weighted by where its density is
        (``counted``: the map counted with, on ``parts``' grid; the zone's middle row where it holds
        no density)."""
        assert self._calibration is not None
        total = counted if mask is None else np.where(mask, counted, 0.0)
        by_row = total.sum(axis=1).astype(np.float64)
        rows = ((np.arange(len(by_row)) + 0.5) / parts.cell_scale + parts.origin[1]) / height
        if by_row.sum() <= 0:
            inside = np.flatnonzero(mask.any(axis=1)) if mask is not None else np.arange(len(by_row))
            middle = rows[inside].mean() if inside.size else 0.5
            return float(self._calibration.factor_at(np.array([middle]))[0])
        return float((self._calibration.factor_at(rows) * by_row).sum() / by_row.sum())

    def _zones_region(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The smallest pixel rectangle holding every zone (None: no zones, the whole frame)."""
        if not self._zones:
            return None
        xy = np.array([p for zs in self._zones for p in zs.zone.polygon], dtype=np.float64)
        x0, y0 = (int(max(0.0, np.floor(v))) for v in xy.min(axis=0))
        x1 = int(min(width, np.ceil(xy[:, 0].max())))
        y1 = int(min(height, np.ceil(xy[:, 1].max())))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None  # too small to run CSRNet on: the whole frame
        return None if (x0, y0, x1, y1) == (0, 0, width, height) else (x0, y0, x1, y1)

    def _fresh_parts(self, t_s: float) -> DensityParts | None:
        if self._parts is None or self._last_density_s is None:
            return None
        if t_s - self._last_density_s > FRESH_DENSITY_PERIODS * self.cfg.density_interval_s:
            return None
        return self._parts

    def _sample(
        self, t_s: float, feet: FloatArray, width: int, height: int, alerts: list[AlertChange]
    ) -> list[ZoneSample]:
        parts = self._fresh_parts(t_s)
        extra = self._extra_feet if parts is not None else np.zeros((0, 2), dtype=np.float32)
        samples = [self._count(TOTAL_ZONE_ID, "auto", len(feet), parts, None, None, len(extra), height)]
        for zs in self._zones:
            zone = zs.zone
            n_in = int(points_in_polygon(feet, zone.polygon).sum())
            mask = None
            if parts is not None:
                if zs.mask is None or zs.mask.shape != parts.total.shape:
                    h, w = parts.total.shape
                    zs.mask = polygon_mask(zone.polygon, w, h, parts.cell_scale, parts.origin)
                mask = zs.mask
            n_extra = int(points_in_polygon(extra, zone.polygon).sum()) if len(extra) else 0
            sample = self._count(zone.id, zone.count_method, n_in, parts, mask, zone.area_m2, n_extra, height)
            samples.append(sample)
            zs.rate.add(t_s, float(sample.count))
            for alert, value in (
                (zs.capacity, float(sample.count)),
                (zs.density_alert, sample.density_per_m2 or 0.0),
                (zs.surge, zs.rate.rise()),
            ):
                if alert is not None:
                    change = alert.observe(t_s, value)
                    if change is not None:
                        alerts.append(change)
        return samples

    def _count(
        self,
        zone_id: str,
        method: str,
        n_det: int,
        parts: DensityParts | None,
        mask: NDArray[np.bool_] | None,
        area_m2: float | None,
        n_extra: int = 0,
        height: int = 0,
    ) -> ZoneSample:
        stock = density_count(parts, mask) if parts is not None else None
        tuned = self._tuned if parts is not None else None
        tuned_sum = None if tuned is None else float(tuned.sum() if mask is None else tuned[mask].sum())
        dens = tuned_sum if tuned_sum is not None else stock  # the density counted with
        used: CountMethodUsed
        if parts is not None and method == "density":
            value, used = float(dens or 0.0), "density"
        elif parts is not None and method == "auto":
            # The frame's rule on the zone's own parts (docs/crowd.md): the same CountRule as count_frame.
            combined = combined_count(n_det + n_extra, parts, mask)
            value, used = self._rule.count(combined, float(stock or 0.0), tuned_sum, near=self._near), "combined"
        else:
            value, used = float(n_det), "detection"
        if self._calibration is not None and parts is not None and height > 0:
            value *= self._zone_factor(parts, parts.total if tuned is None else tuned, mask, height)
        count = round(value)
        per_m2 = round(count / area_m2, 4) if area_m2 else None
        return ZoneSample(zone_id, count, n_det, round(dens, 2) if dens is not None else None, used, per_m2)
