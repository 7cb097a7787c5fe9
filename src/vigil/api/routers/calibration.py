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
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.services import calibration, policy

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


def _out(v: calibration.CalibrationView) -> CalibrationOut:
    c = v.record
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
        supported=v.supported,
        set_by=c.set_by,
        supervisor=c.supervisor,
        active=c.active,
        below_floor=v.below_floor,
        figures=[f"/api/faces/calibrations/{c.calibration_id}/figures/{name}" for name in v.figures],
    )


def _report(v: calibration.CalibrationView) -> CalibrationReportOut:
    return CalibrationReportOut(**_out(v).model_dump(), table_markdown=v.table_markdown)


@endpoint(router, "GET", "", action="calibration.read", scope="global")
def history(ctx: Ctx, principal: CurrentPrincipal) -> list[CalibrationOut]:
    """Every stored calibration, oldest first (each threshold change adds one)."""
    return [_out(v) for v in calibration.history(ctx.services, principal)]


@endpoint(router, "GET", "/active", action="calibration.read", scope="global")
def active(ctx: Ctx, principal: CurrentPrincipal) -> ThresholdState:
    """The threshold in force and the calibration report behind it (none: the uncalibrated default)."""
    state = calibration.in_force(ctx.services, principal)
    return ThresholdState(
        threshold=state.threshold,
        source=state.source,
        floor=state.floor,
        uncalibrated_threshold=state.uncalibrated_threshold,
        active=None if state.active is None else _report(state.active),
    )


@endpoint(
    router,
    "GET",
    "/{calibration_id}",
    action="calibration.read",
    scope="global",
    example=Example(path={"calibration_id": EXAMPLE_CALIBRATION}),
)
def one(calibration_id: CalibrationIdPath, ctx: Ctx, principal: CurrentPrincipal) -> CalibrationReportOut:
    """One calibration with its report table."""
    return _report(calibration.one(ctx.services, principal, calibration_id))


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
def figure(
    calibration_id: CalibrationIdPath, name: Literal["roc.png", "histograms.png"], ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    """A figure of the calibration report (aggregate scores only, no personal data)."""
    data = calibration.figure(ctx.services, principal, calibration_id, name)
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
    src_dir = calibration.report_dir(ctx.config, calibration_id)
    dst_dir = calibration.report_dir(ctx.config, stored.calibration_id)
    if src_dir.is_dir():  # the new entry shows the report it was activated from
        try:
            shutil.copytree(src_dir, dst_dir)
        except OSError as exc:
            log.warning("calibration %s: its report was not copied: %s", stored.calibration_id, exc)
    return _out(calibration.view(ctx.config, stored))


def router_factory() -> APIRouter:
    """The calibration router (for ``FEATURE_ROUTERS``)."""
    return router
