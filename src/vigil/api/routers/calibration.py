"""Face calibration over HTTP: the active report (ROC, histograms, table), the history, and the
threshold change from a stored calibration (a policy change: audited, and below the deployment's
floor only by a supervisor, with a reason).

``vigil calibrate`` writes each report to ``<data_dir>/reports/calibration-<id>/`` (``roc.png``,
``histograms.png``, ``report.md``); a calibration run with ``--report DIR`` elsewhere has its
figures there, and the API serves only its stored table.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from vigil.api.deps import Audit, Ctx, CurrentPrincipal, need_reason
from vigil.api.routing import Example, endpoint
from vigil.config import VigilConfig
from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, NotFoundError
from vigil.core.ids import new_id
from vigil.governance.roles import require
from vigil.store.audit import append_audit
from vigil.store.faces import CalibrationRecord

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
    """The threshold in force: the active calibration's, or the uncalibrated default."""

    threshold: float
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
        below_floor=c.threshold < cfg.faces.threshold_floor,
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
    return ThresholdState(
        threshold=faces.uncalibrated_threshold if cal is None else cal.threshold,
        floor=faces.threshold_floor,
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
    calibration_id: CalibrationIdPath, body: ActivateIn, ctx: Ctx, principal: CurrentPrincipal, audit: Audit
) -> CalibrationOut:
    """Make a stored calibration's threshold the one in force: a policy change, audited with the
    old and new threshold. A threshold below ``faces.threshold_floor`` needs a supervisor. The
    change is stored as a new calibration entry (set by you), so the history keeps who did what."""
    reason = need_reason(ctx, body.reason, "a threshold change")
    source = _find(ctx, calibration_id)
    if source.active:
        raise ConflictError(f"calibration {calibration_id!r} is already the active one")
    floor = ctx.config.faces.threshold_floor
    below = source.threshold < floor
    if below:
        require(principal, "policy.below_floor")
    previous = ctx.store.faces.active_calibration()
    record = CalibrationRecord(
        calibration_id=new_id(),
        created_at=utcnow(),
        dataset=source.dataset,
        embedder=source.embedder,
        n_images=source.n_images,
        n_no_face=source.n_no_face,
        n_genuine=source.n_genuine,
        n_impostor=source.n_impostor,
        eer=source.eer,
        target_fmr=source.target_fmr,
        measured_fmr=source.measured_fmr,
        threshold=source.threshold,
        tar=source.tar,
        set_by=principal.username,
        supervisor=principal.username if below else None,
        active=True,
    )

    def write_audit(session: Session, stored: CalibrationRecord) -> None:
        append_audit(
            session,
            audit.entry(
                "policy.change",
                object_type="policy",
                object_id="faces.threshold",
                reason=reason,
                old=None if previous is None else previous.threshold,
                new=stored.threshold,
                from_calibration=calibration_id,
                calibration=stored.calibration_id,
                target_fmr=stored.target_fmr,
                measured_fmr=stored.measured_fmr,
                below_floor=below,
            ),
        )

    src_dir, dst_dir = report_dir(ctx.config, source.calibration_id), report_dir(ctx.config, record.calibration_id)
    if src_dir.is_dir():  # the new entry keeps its report; the copy goes if the change fails
        shutil.copytree(src_dir, dst_dir)
    try:
        stored = ctx.store.faces.set_calibration(record, floor=floor, on_written=write_audit)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(dst_dir)
        raise
    return _out(ctx.config, stored)


def router_factory() -> APIRouter:
    """The calibration router (for ``FEATURE_ROUTERS``)."""
    return router
