"""Occupancy heatmaps: where people stood, accumulated on a coarse grid per camera and period.

Only grid cell counts are kept (person-observations per cell), never positions of individuals
over time. Rendering uses a bare matplotlib Figure (Agg canvas: no pyplot, no display).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from vigil.core.errors import InputError
from vigil.core.frame import BGRImage
from vigil.crowd.geometry import FloatArray


class HeatmapAccumulator:
    """Counts foot points on a ``cols`` × ``rows`` grid over the frame."""

    def __init__(self, cols: int, rows: int) -> None:
        if cols < 1 or rows < 1:
            raise ValueError(f"heatmap grid must be at least 1x1, got {cols}x{rows}")
        self.cols, self.rows = cols, rows
        self.grid: NDArray[np.int64] = np.zeros((rows, cols), dtype=np.int64)
        self.frames = 0

    def add(self, feet: FloatArray, width: int, height: int) -> None:
        """Add the foot points ``(N, 2)`` of one sampled frame of ``width`` × ``height`` pixels."""
        self.frames += 1
        if feet.shape[0] == 0:
            return
        cx = np.clip((feet[:, 0] / width * self.cols).astype(np.int64), 0, self.cols - 1)
        cy = np.clip((feet[:, 1] / height * self.rows).astype(np.int64), 0, self.rows - 1)
        np.add.at(self.grid, (cy, cx), 1)

    def take(self) -> tuple[NDArray[np.int64], int]:
        """The grid and frame count so far; the accumulator starts over."""
        grid, frames = self.grid, self.frames
        self.grid = np.zeros((self.rows, self.cols), dtype=np.int64)
        self.frames = 0
        return grid, frames


def render_heatmap(
    grid: NDArray[np.float64],
    out: Path,
    *,
    title: str,
    background: BGRImage | None = None,
) -> Path:
    """Write ``grid`` (rows × cols, people per frame per cell) as a PNG; over ``background`` if given.

    Raises:
        InputError: the PNG cannot be written.
    """
    fig = Figure(figsize=(8, 8 * grid.shape[0] / max(grid.shape[1], 1) + 0.8), dpi=100)
    ax = fig.subplots()
    try:
        extent = (0.0, float(grid.shape[1]), float(grid.shape[0]), 0.0)
        if background is not None:
            ax.imshow(background[:, :, ::-1], extent=extent, aspect="auto")
        shown = np.ma.masked_where(grid <= 0, grid)
        im = ax.imshow(
            shown, cmap="inferno", alpha=0.65 if background is not None else 1.0, extent=extent, aspect="auto"
        )
        fig.colorbar(im, ax=ax, fraction=0.03, label="mean people per frame in cell")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, bbox_inches="tight")
    except OSError as exc:
        raise InputError(f"cannot write heatmap {out}: {exc}") from exc
    return out


def render_series(
    series: dict[str, tuple[list[datetime], list[int]]],
    out: Path,
    *,
    title: str,
) -> Path:
    """Write a time-series plot (one line per zone, ``*`` = whole frame) as a PNG.

    Raises:
        InputError: the PNG cannot be written.
    """
    fig = Figure(figsize=(10, 4), dpi=100)
    ax = fig.subplots()
    try:
        for zone_id, (times, counts) in series.items():
            label = "whole frame" if zone_id == "*" else zone_id
            naive = [t.astimezone(UTC).replace(tzinfo=None) for t in times]
            ax.plot(np.array(naive, dtype="datetime64[us]"), counts, label=label, drawstyle="steps-post")
        ax.set_ylabel("people")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(loc="upper left", fontsize="small")
        fig.autofmt_xdate()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, bbox_inches="tight")
    except OSError as exc:
        raise InputError(f"cannot write plot {out}: {exc}") from exc
    return out
