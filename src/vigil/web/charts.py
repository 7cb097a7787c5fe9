"""Charts as inline SVG, drawn on the server: no chart library, no internet, no JavaScript.

Every function returns SVG markup built only from numbers and escaped labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

import numpy as np
from markupsafe import Markup
from numpy.typing import NDArray

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d")


def _svg(width: int, height: int, body: list[str], label: str, cls: str = "") -> Markup:
    # Every value below is a number or escaped.
    return Markup(
        f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]
    limit: float | None = None
    """A horizontal line (e.g. the zone's capacity)."""


def nice_ticks(top: float, *, most: int = 5, whole: bool = True) -> list[float]:
    """Axis ticks from 0 to at least ``top`` at a 1/2/5 x 10^n step, at most ``most`` + 1 of
    them, each distinct when printed (``whole``: counts, so the step is at least 1)."""
    top = max(top, 1.0 if whole else 1e-9)
    raw = top / most
    step = next(m * 10.0**e for e in range(-9, 12) for m in (1, 2, 5) if m * 10.0**e >= raw)
    if whole:
        step = max(step, 1.0)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def time_series(series: Sequence[Series], *, width: int = 360, height: int = 170, unit: str = "people") -> Markup:
    """Lines over time, one per series, with each series' limit dashed in its colour."""
    pad_l, pad_r, pad_t, pad_b = 44, 12, 12, 28
    times = [t.timestamp() for s in series for t, _ in s.points]
    values = [v for s in series for _, v in s.points] + [s.limit for s in series if s.limit is not None]
    if not times:
        return _svg(width, height, [f'<text x="{width / 2}" y="{height / 2}" class="empty">no data</text>'], "no data")
    t0, t1 = min(times), max(times)
    t1 = t1 if t1 > t0 else t0 + 1
    ticks = nice_ticks(max([*values, 1.0]) * 1.05)
    top = ticks[-1]
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def x(t: float) -> float:
        return pad_l + (t - t0) / (t1 - t0) * w

    def y(v: float) -> float:
        return pad_t + h - v / top * h

    body = [f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" class="plot"/>']
    for v in ticks:
        body.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>')
        body.append(f'<text x="{pad_l - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">{v:g}</text>')
    for t, anchor in ((t0, "start"), (t1, "end")):
        stamp = datetime.fromtimestamp(t).strftime("%H:%M:%S")
        body.append(f'<text x="{x(t):.1f}" y="{height - 8}" class="tick" text-anchor="{anchor}">{stamp}</text>')
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{x(t.timestamp()):.1f},{y(v):.1f}" for t, v in s.points)
        if len(s.points) == 1:
            (when, v) = s.points[0]
            body.append(f'<circle cx="{x(when.timestamp()):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        else:
            body.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if s.limit is not None:
            body.append(
                f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y(s.limit):.1f}" y2="{y(s.limit):.1f}" '
                f'stroke="{colour}" stroke-dasharray="6 4" class="limit"/>'
                f'<text x="{pad_l + w - 4}" y="{y(s.limit) - 4:.1f}" class="tick" text-anchor="end" '
                f'fill="{colour}">capacity {s.limit:.0f}</text>'
            )
    label = f"{unit} over time: " + ", ".join(s.name for s in series)
    return _svg(width, height, body, label)


def heatmap(
    grid: NDArray[np.float64],
    frame_width: int,
    frame_height: int,
    polygons: Sequence[tuple[str, Sequence[tuple[float, float]]]] = (),
    lines: Sequence[tuple[str, tuple[float, float], tuple[float, float]]] = (),
    background: str | None = None,
) -> Markup:
    """The occupancy grid over the camera's frame, with its zones and counting lines;
    ``background`` is the URL of a still of the camera's view drawn beneath (a same-site path)."""
    rows, cols = grid.shape
    top = float(grid.max()) if grid.size else 0.0
    cw, ch = frame_width / max(cols, 1), frame_height / max(rows, 1)
    body = [f'<rect width="{frame_width}" height="{frame_height}" class="frame"/>']
    if background is not None and background.startswith("/"):
        body.append(
            f'<image href="{escape(background)}" x="0" y="0" width="{frame_width}" height="{frame_height}" '
            'preserveAspectRatio="none" class="heat-frame" data-testid="heatmap-frame"/>'
        )
    for r in range(rows):
        for c in range(cols):
            v = float(grid[r, c])
            if top <= 0 or v <= 0:
                continue
            a = min(1.0, v / top)
            hue = 60 - 60 * a  # yellow → red
            body.append(
                f'<rect x="{c * cw:.1f}" y="{r * ch:.1f}" width="{cw + 0.5:.1f}" height="{ch + 0.5:.1f}" '
                f'fill="hsl({hue:.0f} 90% 50%)" fill-opacity="{0.15 + 0.6 * a:.2f}"/>'
            )
    for name, poly in polygons:
        pts = " ".join(f"{px:.0f},{py:.0f}" for px, py in poly)
        x0, y0 = poly[0] if poly else (0.0, 0.0)
        body.append(f'<polygon points="{pts}" class="zone"/>')
        body.append(f'<text x="{x0 + 6:.0f}" y="{y0 + 22:.0f}" class="zone-label">{escape(name)}</text>')
    for name, (ax, ay), (bx, by) in lines:
        body.append(f'<line x1="{ax:.0f}" y1="{ay:.0f}" x2="{bx:.0f}" y2="{by:.0f}" class="count-line"/>')
        body.append(f'<text x="{bx + 6:.0f}" y="{by:.0f}" class="zone-label">{escape(name)}</text>')
    return _svg(frame_width, frame_height, body, "occupancy heatmap over the camera view")


@dataclass(frozen=True, slots=True)
class PlanPoint:
    """A camera on the site plan; ``state`` (running, offline, …) colours it and ``alerts`` (open
    candidates) is shown beside it, where the page knows them."""

    camera_id: str
    label: str
    lat: float
    lon: float
    state: str | None = None
    alerts: int = 0
    crowd_alerts: int = 0
    """Crowd alerts still raised at the camera (over capacity, ...)."""


SCALE_STEPS = (1, 2, 5)


def scale_bar(metres_per_px: float, max_px: float) -> tuple[float, float]:
    """The longest 1/2/5 × 10^n metre bar that fits in ``max_px``: ``(metres, pixels)``."""
    best = (0.0, 0.0)
    for exp in range(-1, 7):
        for step in SCALE_STEPS:
            metres = step * 10.0**exp
            px = metres / metres_per_px
            if px <= max_px and metres > best[0]:
                best = (metres, px)
    return best


def site_plan(
    cameras: Sequence[PlanPoint],
    path: Sequence[tuple[str, str]] = (),
    *,
    width: int = 640,
    height: int = 360,
    links: Mapping[str, str] | None = None,
) -> Markup:
    """Camera positions on a plain plane (local equirectangular projection, north up) and the
    path between sightings: ``path`` is ``(camera_id, label)`` in time order. A camera with an
    entry in ``links`` (camera id → URL) is a link (its live view)."""
    if not cameras:
        return _svg(
            width,
            height,
            [f'<text x="{width / 2}" y="{height / 2}" class="empty">no camera positions</text>'],
            "no camera positions",
        )
    lat0 = sum(c.lat for c in cameras) / len(cameras)
    k = math.cos(math.radians(lat0))
    xs = [c.lon * k for c in cameras]
    ys = [c.lat for c in cameras]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    pad = 48
    scale = min((width - 2 * pad) / span, (height - 2 * pad) / span)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def at(c: PlanPoint) -> tuple[float, float]:
        return width / 2 + (c.lon * k - cx) * scale, height / 2 - (c.lat - cy) * scale

    where = {c.camera_id: at(c) for c in cameras}
    bar, bar_px = scale_bar(111_320 / scale, width / 4)
    body = [
        f'<rect width="{width}" height="{height}" class="plan"/>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>',
        f'<text x="{width - 16}" y="24" class="tick" text-anchor="end">N ↑</text>',
    ]
    if bar_px > 4:
        unit = f"{bar / 1000:g} km" if bar >= 1000 else f"{bar:g} m"
        body.append(
            f'<line x1="16" x2="{16 + bar_px:.1f}" y1="{height - 16}" y2="{height - 16}" class="scale" '
            f'data-testid="scale-bar"/><text x="16" y="{height - 22}" class="tick">{unit}</text>'
        )
    hops = [(where[c], label) for c, label in path if c in where]
    for i in range(1, len(hops)):
        (x1, y1), (x2, y2) = hops[i - 1][0], hops[i][0]
        if (x1, y1) == (x2, y2):
            continue
        body.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="hop" marker-end="url(#arrow)"/>'
        )
    for c in cameras:
        x, y = where[c.camera_id]
        seen = any(cid == c.camera_id for cid, _ in path)
        href = (links or {}).get(c.camera_id)
        if href is not None:
            body.append(f'<a href="{escape(href)}" data-testid="plan-{escape(c.camera_id)}">')
        state = f" state-{escape(c.state.replace(' ', '-'))}" if c.state else ""
        said = [
            c.label,
            *([c.state] if c.state else []),
            *([f"{c.alerts} awaiting review"] if c.alerts else []),
            *([f"{c.crowd_alerts} crowd alert{'s' if c.crowd_alerts > 1 else ''} raised"] if c.crowd_alerts else []),
        ]
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" class="cam{" seen" if seen else ""}{state}">'
            f"<title>{escape(', '.join(said))}</title></circle>"
        )
        # Labels right of the dot, or left of it where they would run off the plan (the phone's
        # larger bold type is ~15 units a character).
        if x + 16 + 15 * len(c.label) > width:
            body.append(
                f'<text x="{x - 13:.1f}" y="{y + 4:.1f}" class="cam-label" text-anchor="end">{escape(c.label)}</text>'
            )
        else:
            body.append(f'<text x="{x + 13:.1f}" y="{y + 4:.1f}" class="cam-label">{escape(c.label)}</text>')
        if c.alerts:
            body.append(
                f'<circle cx="{x - 9:.1f}" cy="{y - 9:.1f}" r="8" class="alert-dot"/>'
                f'<text x="{x - 9:.1f}" y="{y - 5:.1f}" class="alert-count" text-anchor="middle" '
                f'data-testid="plan-alerts-{escape(c.camera_id)}" data-pending-camera="{escape(c.camera_id)}">'
                f"{c.alerts}</text>"
            )
        if c.crowd_alerts:
            body.append(
                f'<path d="M{x - 9:.1f},{y + 19:.1f} l9,-15 l9,15 z" class="crowd-alert"/>'
                f'<text x="{x:.1f}" y="{y + 17:.1f}" class="alert-count" text-anchor="middle" '
                f'data-testid="plan-crowd-{escape(c.camera_id)}">{c.crowd_alerts}</text>'
            )
        if href is not None:
            body.append("</a>")
    for i, ((x, y), label) in enumerate(hops, 1):
        body.append(
            f'<text x="{x - 10:.1f}" y="{y - 14 - 12 * _stack(hops, i):.1f}" class="hop-label" '
            f'text-anchor="end">{i}. {escape(label)}</text>'
        )
    return _svg(width, height, body, "site plan of camera positions and the path between sightings", "site-plan")


def _stack(hops: Sequence[tuple[tuple[float, float], str]], i: int) -> int:
    """How many earlier labels sit at the same camera (so labels stack instead of overlapping)."""
    here = hops[i - 1][0]
    return sum(1 for p, _ in hops[: i - 1] if p == here)


@dataclass(frozen=True, slots=True)
class RocPoint:
    label: str
    fmr: float
    tar: float
    active: bool = False


def roc(points: Sequence[RocPoint], *, width: int = 520, height: int = 320) -> Markup:
    """Operating points on ROC axes (false-match rate, log scale, against true-accept rate)."""
    pad_l, pad_r, pad_t, pad_b = 52, 16, 14, 40
    lo, hi = -6, 0
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def x(fmr: float) -> float:
        e = math.log10(max(fmr, 10.0**lo))
        return pad_l + (e - lo) / (hi - lo) * w

    def y(tar: float) -> float:
        return pad_t + h - tar * h

    body = [f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" class="plot"/>']
    for e in range(lo, hi + 1):
        body.append(f'<line x1="{x(10.0**e):.1f}" x2="{x(10.0**e):.1f}" y1="{pad_t}" y2="{pad_t + h}" class="grid"/>')
        body.append(f'<text x="{x(10.0**e):.1f}" y="{pad_t + h + 16}" class="tick" text-anchor="middle">1e{e}</text>')
    for tar in (0, 0.25, 0.5, 0.75, 1):
        body.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y(tar):.1f}" y2="{y(tar):.1f}" class="grid"/>')
        body.append(f'<text x="{pad_l - 6}" y="{y(tar) + 4:.1f}" class="tick" text-anchor="end">{tar:g}</text>')
    body.append(
        f'<text x="{pad_l + w / 2}" y="{height - 4}" class="axis" text-anchor="middle">false-match rate (log)</text>'
        f'<text x="14" y="{pad_t + h / 2}" class="axis" text-anchor="middle" '
        f'transform="rotate(-90 14 {pad_t + h / 2})">true-accept rate</text>'
    )
    ordered = sorted(points, key=lambda p: p.fmr)
    if len(ordered) > 1:
        pts = " ".join(f"{x(p.fmr):.1f},{y(p.tar):.1f}" for p in ordered)
        body.append(f'<polyline points="{pts}" fill="none" class="roc-line"/>')
    for p in ordered:
        cls = "roc-point active" if p.active else "roc-point"
        body.append(f'<circle cx="{x(p.fmr):.1f}" cy="{y(p.tar):.1f}" r="{6 if p.active else 4}" class="{cls}"/>')
        body.append(f'<text x="{x(p.fmr) + 8:.1f}" y="{y(p.tar) + 14:.1f}" class="tick">{escape(p.label)}</text>')
    return _svg(width, height, body, "ROC operating points: true-accept rate against false-match rate")


def bars(values: Sequence[tuple[str, float]], *, width: int = 520, unit: str = "") -> Markup:
    """Horizontal bars with their labels and values."""
    row = 24
    height = max(row * len(values) + 8, 32)
    top = max([v for _, v in values] + [1.0])
    label_w = 180
    body: list[str] = []
    for i, (name, v) in enumerate(values):
        y = 4 + i * row
        bw = (width - label_w - 70) * v / top
        body.append(f'<text x="{label_w - 8}" y="{y + 16}" class="tick" text-anchor="end">{escape(name)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{bw:.1f}" height="{row - 8}" class="bar"/>')
        body.append(f'<text x="{label_w + bw + 6:.1f}" y="{y + 16}" class="tick">{v:,.0f}{unit}</text>')
    if not values:
        body.append(f'<text x="{width / 2}" y="20" class="empty">nothing recorded</text>')
    return _svg(width, height, body, "bar chart")
