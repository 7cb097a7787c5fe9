"""Face calibration, read: the history of calibrations, the threshold in force and the report
behind it. (Changing the threshold is a policy change: :func:`vigil.services.policy.activate_calibration`.)

``vigil calibrate`` writes each report to ``<data_dir>/reports/calibration-<id>/`` (``roc.png``,
``histograms.png``, ``report.md``). Calibration holds aggregate scores only, no personal data;
reading it is recorded all the same (``calibration.list``, ``calibration.view``), as every
oversight read is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vigil.config import VigilConfig
from vigil.core.errors import NotFoundError
from vigil.services import policy
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.store.faces import CalibrationRecord

ACTION = "calibration.read"
FIGURES = ("roc.png", "histograms.png")
Figure = Literal["roc.png", "histograms.png"]
MIN_IMPOSTORS_PER_FMR = 10
"""A target FMR is supported when at least 10/FMR impostor pairs stand behind it."""


@dataclass(frozen=True, slots=True)
class CalibrationView:
    """A stored calibration, whether its target FMR is supported, whether its threshold is below
    the deployment's floor, the report figures on disk and the report's table (if asked)."""

    record: CalibrationRecord
    supported: bool
    below_floor: bool
    figures: tuple[str, ...]
    table_markdown: str | None = None


@dataclass(frozen=True, slots=True)
class ThresholdView:
    """The threshold in force: the newer of the active calibration's and the ``faces.threshold``
    policy's, or the uncalibrated default; and the active calibration's report."""

    threshold: float
    source: Literal["calibration", "policy", "default"]
    floor: float
    uncalibrated_threshold: float
    active: CalibrationView | None


def report_dir(config: VigilConfig, calibration_id: str) -> Path:
    return config.data_dir / "reports" / f"calibration-{calibration_id}"


def view(config: VigilConfig, c: CalibrationRecord, *, table: bool = False) -> CalibrationView:
    """How ``c`` reads: support, floor, figures on disk, and its report table with ``table``."""
    folder = report_dir(config, c.calibration_id)
    text: str | None = None
    if table:
        try:
            text = (folder / "report.md").read_text(encoding="utf-8")[:100_000]
        except (OSError, UnicodeDecodeError):
            text = None
    return CalibrationView(
        record=c,
        supported=c.n_impostor * c.target_fmr >= MIN_IMPOSTORS_PER_FMR,
        below_floor=c.threshold < policy.face_threshold_floor(config),
        figures=tuple(name for name in FIGURES if (folder / name).is_file()),
        table_markdown=text,
    )


def _find(services: Services, calibration_id: str) -> CalibrationRecord:
    for c in services.store.faces.calibrations():
        if c.calibration_id == calibration_id:
            return c
    raise NotFoundError(f"no calibration {calibration_id!r}")


def history(services: Services, actor: Actor) -> list[CalibrationView]:
    """Every stored calibration, oldest first (each threshold change adds one)."""
    recorder = services.recorder(actor)
    recorder.allow(ACTION, object_type="calibration")
    items = [view(services.config, c) for c in services.store.faces.calibrations()]
    recorder.read("calibration.list", object_type="calibration", results=len(items))
    return items


def in_force(services: Services, actor: Actor) -> ThresholdView:
    """The threshold in force and the calibration report behind it (none: the uncalibrated default)."""
    recorder = services.recorder(actor)
    recorder.allow(ACTION, object_type="calibration")
    cal = services.store.faces.active_calibration()
    recorder.read("calibration.view", object_type="calibration", object_id=None if cal is None else cal.calibration_id)
    now = policy.current_threshold(services)
    return ThresholdView(
        threshold=now.threshold,
        source=now.source,
        floor=policy.face_threshold_floor(services.config),
        uncalibrated_threshold=services.config.faces.uncalibrated_threshold,
        active=None if cal is None else view(services.config, cal, table=True),
    )


def one(services: Services, actor: Actor, calibration_id: str) -> CalibrationView:
    """One calibration with its report table."""
    recorder = services.recorder(actor)
    recorder.allow(ACTION, object_type="calibration", object_id=calibration_id)
    cal = _find(services, calibration_id)
    recorder.read("calibration.view", object_type="calibration", object_id=calibration_id)
    return view(services.config, cal, table=True)


def figure(services: Services, actor: Actor, calibration_id: str, name: Figure) -> bytes:
    """A figure of the calibration report (PNG of aggregate scores).

    Raises:
        NotFoundError: no such calibration, or its figure is not on this server.
    """
    services.recorder(actor).allow(ACTION, object_type="calibration", object_id=calibration_id)
    cal = _find(services, calibration_id)
    try:
        return (report_dir(services.config, cal.calibration_id) / name).read_bytes()
    except OSError as exc:
        raise NotFoundError(f"calibration {calibration_id!r} has no {name} on this server") from exc
