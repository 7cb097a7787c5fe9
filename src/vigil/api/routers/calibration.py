"""Face calibration over HTTP: the active report (ROC, histograms, table), the history, and the
threshold change from a stored calibration (a policy change: audited, and below the deployment's
floor only by a supervisor, with a reason).

``vigil calibrate`` writes each report to ``<data_dir>/reports/calibration-<id>/`` (``roc.png``,
``histograms.png``, ``report.md``); a calibration run with ``--report DIR`` elsewhere has its
figures there, and the API serves only its stored table.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from vigil.api.deps import Audit, Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.config import VigilConfig
from vigil.core.errors import NotFoundError
from vigil.services import policy
from vigil.store.faces import CalibrationRecord

log = logging.getLogger(__name__)

router = APIRouter(prefix="/faces/calibrations", tags=["faces"])
CalibrationIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
FIGURES = ("roc.png", "histograms.png")
EXAMPLE_CALIBRATION = "cal-1"
"""The active calibration seeded by ``tests/api/api_support.py`` (with a report directory)."""
EXAMPLE_PREVIOUS = "cal-0"
"""An older, inactive one (threshold above the floor)."""


class CalibrationOut(BaseModel):
    calibration_id: str
    created_at: datetime
    dataset: str
    embedder: str
    n_images: int
    n_no_face: int
    n_genuine: int
    n_impostor: int
    eer: float
    target_fmr: float
    measured_fmr: float
    threshold: float
    tar: float
    supported: bool = Field(description="At least 10/FMR impostor pairs stand behind the target FMR.")
    set_by: str
    supervisor: str | None
    active: bool
    below_floor: bool
    figures: list[str] = Field(description="URLs of the report's figures that exist.")


class CalibrationReportOut(CalibrationOut):
    table_markdown: str | None = Field(description="The report's table (report.md), if it is on disk.")


class ThresholdState(BaseModel):
    """The threshold in force: the newer of the active calibration's and the ``faces.threshold``
    policy's, or the uncalibrated default."""

    threshold: float
    source: Literal["calibration", "policy", "default"]
    floor: float
    uncalibrated_threshold: float
    active: CalibrationReportOut | None


class ActivateIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why the threshold changes (audited).")


def report_dir(cfg: VigilConfig, calibration_id: str) -> FsPath:
    return cfg.data_dir / "reports" / f"calibration-{calibration_id}"


def _out(cfg: VigilConfig, c: CalibrationRecord) -> CalibrationOut:
    folder = report_dir(cfg, c.calibration_id)
    return CalibrationOut(
        calibration_id=c.calibration_id,
        created_at=c.created_at,
        dataset=c.dataset,
        embedder=c.embedder,
        n_images=c.n_images,
        n_no_face=c.n_no_face,
        n_genuine=c.n_genuine,
        n_impostor=c.n_impostor,
        eer=c.eer,
        target_fmr=c.target_fmr,
        measured_fmr=c.measured_fmr,
        threshold=c.threshold,
        tar=c.tar,
        supported=c.n_impostor * c.target_fmr >= 10,
        set_by=c.set_by,
        supervisor=c.supervisor,
        active=c.active,
        below_floor=c.threshold < policy.face_threshold_floor(cfg),
        figures=[
            f"/api/faces/calibrations/{c.calibration_id}/figures/{name}"
            for name in FIGURES
            if (folder / name).is_file()
        ],
    )


def _report(cfg: VigilConfig, c: CalibrationRecord) -> CalibrationReportOut:
    table = report_dir(cfg, c.calibration_id) / "report.md"
    try:
        text: str | None = table.read_text(encoding="utf-8")[:100_000]
    except (OSError, UnicodeDecodeError):
        text = None
    return CalibrationReportOut(**_out(cfg, c).model_dump(), table_markdown=text)


def _find(ctx: Ctx, calibration_id: str) -> CalibrationRecord:
    for c in ctx.store.faces.calibrations():
        if c.calibration_id == calibration_id:
            return c
    raise NotFoundError(f"no calibration {calibration_id!r}")


@endpoint(router, "GET", "", action="calibration.read", scope="global")
def history(ctx: Ctx, audit: Audit) -> list[CalibrationOut]:
    """Every stored calibration, oldest first (each threshold change adds one)."""
    items = [_out(ctx.config, c) for c in ctx.store.faces.calibrations()]
    audit.record("calibration.list", object_type="calibration", results=len(items))
    return items


@endpoint(router, "GET", "/active", action="calibration.read", scope="global")
def active(ctx: Ctx, audit: Audit) -> ThresholdState:
    """The threshold in force and the calibration report behind it (none: the uncalibrated default)."""
    cal = ctx.store.faces.active_calibration()
    faces = ctx.config.faces
    audit.record("calibration.view", object_type="calibration", object_id=None if cal is None else cal.calibration_id)
    in_force = policy.current_threshold(ctx.services)
    return ThresholdState(
        threshold=in_force.threshold,
        source=in_force.source,
        floor=policy.face_threshold_floor(ctx.config),
        uncalibrated_threshold=faces.uncalibrated_threshold,
        active=None if cal is None else _report(ctx.config, cal),
    )


@endpoint(
    router,
    "GET",
    "/{calibration_id}",
    action="calibration.read",
    scope="global",
    example=Example(path={"calibration_id": EXAMPLE_CALIBRATION}),
)
def one(calibration_id: CalibrationIdPath, ctx: Ctx, audit: Audit) -> CalibrationReportOut:
    """One calibration with its report table."""
    cal = _find(ctx, calibration_id)
    audit.record("calibration.view", object_type="calibration", object_id=calibration_id)
    return _report(ctx.config, cal)


@endpoint(
    router,
    "GET",
    "/{calibration_id}/figures/{name}",
    action="calibration.read",
    scope="global",
    example=Example(path={"calibration_id": EXAMPLE_CALIBRATION, "name": "roc.png"}),
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The ROC curve or the score histograms."}},
)
def figure(calibration_id: CalibrationIdPath, name: Literal["roc.png", "histograms.png"], ctx: Ctx) -> Response:
    """A figure of the calibration report (aggregate scores only, no personal data)."""
    cal = _find(ctx, calibration_id)
    try:
        data = (report_dir(ctx.config, cal.calibration_id) / name).read_bytes()
    except OSError as exc:
        raise NotFoundError(f"calibration {calibration_id!r} has no {name} on this server") from exc
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})


@endpoint(
    router,
    "POST",
    "/{calibration_id}/activate",
    action="calibration.set",
    scope="global",
    example=Example(path={"calibration_id": EXAMPLE_PREVIOUS}, json={"reason": "matrix threshold change"}),
)
def activate(
    calibration_id: CalibrationIdPath, body: ActivateIn, ctx: Ctx, principal: CurrentPrincipal
) -> CalibrationOut:
    """Make a stored calibration's threshold the one in force: a policy change, audited with the
    old and new threshold. A threshold below the deployment's floor needs a supervisor. The
    change is stored as a new calibration entry (set by you), so the history keeps who did what."""
    stored = policy.activate_calibration(ctx.services, principal, calibration_id, body.reason)
    src_dir, dst_dir = report_dir(ctx.config, calibration_id), report_dir(ctx.config, stored.calibration_id)
    if src_dir.is_dir():  # the new entry shows the report it was activated from
        try:
            shutil.copytree(src_dir, dst_dir)
        except OSError as exc:
            log.warning("calibration %s: its report was not copied: %s", stored.calibration_id, exc)
    return _out(ctx.config, stored)


def router_factory() -> APIRouter:
    """The calibration router (for ``FEATURE_ROUTERS``)."""
    return router
