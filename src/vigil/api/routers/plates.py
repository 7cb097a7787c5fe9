"""Licence plates over HTTP: the hotlist (list, show, add, CSV import, remove, purge), plate
search within retention, and plate-read crops.

* The hotlist is for reviewers (``hotlist.read``); changes (``hotlist.manage``: supervisors,
  admins) record the signed-in user as the enterer and write their audit record in the same
  transaction as the change. Every entry needs a legal basis, an authoriser and an expiry.
* A plate search follows a vehicle, so it is personal data: ``plates.search`` needs a reason,
  sees only reads within ``plates.retention_hours`` (hits always) and is audited with the plate.
* A read's crop is the plate itself: blurred whole for everyone without ``media.unredacted``;
  unredacted views need a supervisor and a reason, and are audited.

Also here: the retention task for non-hit reads and expired entries (:class:`PlatesRetention`)
and the plates section of the transparency report (:func:`plates_report_section`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from vigil.api.context import ApiContext
from vigil.api.deps import Audit, Ctx, CurrentPrincipal, ReasonQuery, need_reason
from vigil.api.errors import ApiError
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.core.clock import utcnow
from vigil.core.errors import BadRowsError, InputError, NotFoundError
from vigil.governance.redaction import redact_jpeg
from vigil.governance.roles import require
from vigil.governance.transparency import ReportContributor
from vigil.plates.hotlist import HOTLIST_COLUMNS
from vigil.services import hotlist, plate_search
from vigil.services.hotlist import HotlistEntryIn
from vigil.store.facade import Store
from vigil.store.plates import HotlistEntryRecord, PlateReadRecord

router = APIRouter(prefix="/plates", tags=["plates"])
EntryPath = Annotated[str, Path(min_length=1, max_length=64)]
EXAMPLE_ENTRY = "hotlist-1"
"""Seeded by ``tests/api/api_support.py``; ``hotlist-2`` is removed by the access matrix."""
EXAMPLE_REMOVABLE = "hotlist-2"
EXAMPLE_PLATE = "ABC1234"
"""The plate of the reads seeded at each camera (``plate-read-<camera>``)."""
_EXAMPLE_EXPIRY = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


# -- bodies ------------------------------------------------------------------------------------


class HotlistEntryOut(BaseModel):
    entry_id: str
    plate: str
    legal_basis: str
    authorised_by: str
    entered_by: str
    created_at: datetime
    expires_at: datetime
    expired: bool
    note: str | None
    region: str | None = Field(description="The plate region it is listed for; null: any region.")


class HotlistPage(BaseModel):
    items: list[HotlistEntryOut]
    limit: int
    offset: int
    next_offset: int | None
    size: int = Field(description="Active (unexpired) entries.")


class HotlistIn(BaseModel):
    plate: str = Field(min_length=1, max_length=32, description="Separators (space, '-', '.') are removed.")
    legal_basis: str = Field(max_length=2000, description="Legal basis or authorisation reference.")
    authorised_by: str = Field(max_length=128, description="Who authorised the entry.")
    expires: str = Field(max_length=40, description="YYYY-MM-DD (end of that day, UTC) or ISO date-time with zone.")
    note: str | None = Field(default=None, max_length=2000)
    region: str | None = Field(
        default=None,
        max_length=16,
        description="Plate region it is listed for (us, eu, uk, br, hk or the deployment's own plates.formats); "
        "a hit on a read from another region is flagged other_region on its candidate.",
    )


class SkippedRow(BaseModel):
    row: int = Field(description="Line number in the CSV (the header is line 1).")
    problem: str


class ImportOut(BaseModel):
    imported: list[HotlistEntryOut]
    skipped: list[SkippedRow]


class RemovedOut(BaseModel):
    entry_id: str
    plate: str


class PurgeIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class PurgedOut(BaseModel):
    entries: int


class PlateReadOut(BaseModel):
    read_id: str
    camera_id: str
    occurred_at: datetime
    plate: str
    confidence: float
    region: str | None
    hit: bool
    crop_url: str | None = Field(description="Blurred unless ?unredacted=true&reason=… by a supervisor.")


class PlateSearchOut(BaseModel):
    plate: str
    camera_id: str | None
    retention_hours: float
    items: list[PlateReadOut]
    truncated: bool


# -- helpers -----------------------------------------------------------------------------------


def _entry_out(e: HotlistEntryRecord, now: datetime) -> HotlistEntryOut:
    return HotlistEntryOut(
        entry_id=e.entry_id,
        plate=e.plate,
        legal_basis=e.legal_basis,
        authorised_by=e.authorised_by,
        entered_by=e.entered_by,
        created_at=e.created_at,
        expires_at=e.expires_at,
        expired=e.expires_at <= now,
        note=e.note,
        region=e.region,
    )


def _read_out(r: PlateReadRecord) -> PlateReadOut:
    return PlateReadOut(
        read_id=r.read_id,
        camera_id=r.camera_id,
        occurred_at=r.occurred_at,
        plate=r.plate,
        confidence=r.confidence,
        region=r.region,
        hit=r.hit,
        crop_url=None if r.crop is None else f"/api/plates/reads/{quote(r.read_id, safe='')}/crop",
    )


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
        raise InputError("since and until need a time zone")
    if since is not None and until is not None and since >= until:
        raise InputError("since must be before until")


# -- hotlist -----------------------------------------------------------------------------------


@endpoint(router, "GET", "/hotlist", action="hotlist.read", scope="global")
def list_hotlist(
    ctx: Ctx,
    principal: CurrentPrincipal,
    include_expired: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HotlistPage:
    """Hotlist entries (by plate) with their accountability fields; expired ones not yet purged
    only with ``include_expired``."""
    found = hotlist.entries(ctx.services, principal, include_expired=include_expired, limit=limit, offset=offset)
    now = utcnow()
    return HotlistPage(
        items=[_entry_out(e, now) for e in found.items],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < found.total else None,
        size=found.active,
    )


@endpoint(
    router,
    "POST",
    "/hotlist",
    action="hotlist.manage",
    scope="global",
    status_code=201,
    example=Example(
        json={
            "plate": "MTX 1001",
            "legal_basis": "MATRIX-WARRANT-1",
            "authorised_by": "Sam Supervisor",
            "expires": _EXAMPLE_EXPIRY,
        },
        ok=(201,),
    ),
)
def add_entry(body: HotlistIn, ctx: Ctx, principal: CurrentPrincipal) -> HotlistEntryOut:
    """Add a plate; you are recorded as the person who entered it. Refused (422) without a legal
    basis, an authoriser or a future expiry within ``plates.max_hotlist_days``; 409 if the plate
    is listed already. The entry and its audit record are one transaction."""
    entry = HotlistEntryIn(body.plate, body.legal_basis, body.authorised_by, body.expires, body.note, body.region)
    return _entry_out(hotlist.add(ctx.services, principal, entry), utcnow())


@endpoint(
    router,
    "POST",
    "/hotlist/import",
    action="hotlist.manage",
    scope="global",
    example=Example(
        files={
            "file": (
                "hotlist.csv",
                "plate,legal_basis,authorised_by,expires_at\n"
                f"MTX2002,MATRIX-WARRANT-2,Sam Supervisor,{_EXAMPLE_EXPIRY}\n",
                "text/csv",
            )
        },
    ),
    response_model=ImportOut,
    responses={400: {"description": "Bad rows (listed in 'rows' by line number), or an unreadable file."}},
)
def import_hotlist(
    ctx: Ctx,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description=f"CSV with header {','.join(HOTLIST_COLUMNS)}[,note][,region].")],
    partial: Annotated[bool, Form(description="Import the good rows and list the skipped ones.")] = False,
) -> Any:
    """Import a CSV. Without ``partial`` every row must be valid, or nothing is imported and the
    bad rows are returned by line number (400 ``invalid_rows``); a plate an earlier line lists,
    or one on the hotlist already, is a bad row too. You are recorded as the enterer; each entry
    is audited in the import's transaction."""
    limit = ctx.config.governance.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")
    shown = (file.filename or "hotlist.csv").rsplit("/", 1)[-1][:80] or "hotlist.csv"
    try:
        result = hotlist.import_csv(ctx.services, principal, data, source=shown, partial=partial)
    except BadRowsError as exc:
        rows = [SkippedRow(row=n, problem=why) for n, why in exc.rows]
        return JSONResponse(
            {"error": "invalid_rows", "message": str(exc), "rows": [r.model_dump() for r in rows]}, status_code=400
        )
    except InputError as exc:
        raise ApiError(400, "invalid_upload", str(exc).splitlines()[0]) from exc
    now = utcnow()
    return ImportOut(
        imported=[_entry_out(e, now) for e in result.imported],
        skipped=[SkippedRow(row=b.line, problem=b.problem) for b in result.skipped],
    )


@endpoint(
    router,
    "POST",
    "/hotlist/purge-expired",
    action="hotlist.manage",
    scope="global",
    example=Example(json={"reason": "matrix purge"}),
)
def purge_expired(ctx: Ctx, principal: CurrentPrincipal, body: PurgeIn | None = None) -> PurgedOut:
    """Delete every expired entry (audited by count, in the same transaction)."""
    return PurgedOut(entries=hotlist.purge_expired(ctx.services, principal, body.reason if body else None))


@endpoint(
    router,
    "GET",
    "/hotlist/{entry_id}",
    action="hotlist.read",
    scope="global",
    example=Example(path={"entry_id": EXAMPLE_ENTRY}),
)
def show_entry(entry_id: EntryPath, ctx: Ctx, principal: CurrentPrincipal) -> HotlistEntryOut:
    """One entry with its accountability fields (expired or not)."""
    return _entry_out(hotlist.show(ctx.services, principal, entry_id), utcnow())


@endpoint(
    router,
    "DELETE",
    "/hotlist/{entry_id}",
    action="hotlist.manage",
    scope="global",
    example=Example(path={"entry_id": EXAMPLE_REMOVABLE}, query={"reason": "matrix removal"}),
)
def remove_entry(entry_id: EntryPath, ctx: Ctx, principal: CurrentPrincipal, reason: ReasonQuery = None) -> RemovedOut:
    """Remove an entry at once (a reason is required; audited in the same transaction)."""
    record = hotlist.remove(ctx.services, principal, entry_id, reason)
    return RemovedOut(entry_id=record.entry_id, plate=record.plate)


# -- reads -------------------------------------------------------------------------------------


@endpoint(
    router,
    "GET",
    "/reads",
    action="plates.search",
    scope="camera",
    example=Example(query={"plate": EXAMPLE_PLATE, "camera_id": "{camera}", "reason": "matrix plate lookup"}),
)
def search_reads(
    ctx: Ctx,
    principal: CurrentPrincipal,
    plate: Annotated[str, Query(min_length=1, max_length=32)],
    camera_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    reason: ReasonQuery = None,
) -> PlateSearchOut:
    """Reads of one plate within retention (reads that hit a hotlist are kept with their
    candidate), newest first. A reason is required: a plate lookup is personal data, and it is
    audited with the plate. Scoped users must name a camera."""
    found = plate_search.search(
        ctx.services, principal, plate, reason=reason, camera_id=camera_id, since=since, until=until, limit=limit
    )
    return PlateSearchOut(
        plate=found.plate,
        camera_id=found.camera_id,
        retention_hours=found.retention_hours,
        items=[_read_out(r) for r in found.reads],
        truncated=found.truncated,
    )


@endpoint(
    router,
    "GET",
    "/reads/{read_id}/crop",
    action="media.read",
    scope="camera",
    example=Example(path={"read_id": "plate-read-{camera}"}),
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The plate crop (blurred unless asked)."}},
)
def read_crop(
    read_id: EntryPath,
    ctx: Ctx,
    principal: CurrentPrincipal,
    audit: Audit,
    unredacted: Annotated[bool, Query(description="Supervisors only, with a reason; audited.")] = False,
    reason: ReasonQuery = None,
) -> Response:
    """The crop of a stored read. It shows the plate itself, so it is blurred whole for everyone
    without the unredact privilege."""
    read = ctx.store.plates.get_read(read_id)
    require(principal, "media.read", read.camera_id)
    why: str | None = None
    if unredacted:
        require(principal, "media.unredacted", read.camera_id)
        why = need_reason(ctx, reason, "an unredacted view")
    if read.crop is None:
        raise NotFoundError("this read has no crop")
    try:
        data = ctx.media.path_for(read.crop).read_bytes()
    except (OSError, ValueError) as exc:
        raise NotFoundError("the crop is gone (retention may have removed it)") from exc
    body = data if unredacted else redact_jpeg(data, None)
    audit.record(
        "media.view_unredacted" if unredacted else "media.view",
        object_type="plate_read",
        object_id=read_id,
        camera_id=read.camera_id,
        reason=why,
        kind="plate_crop",
        redacted=not unredacted,
    )
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


# -- governance hooks --------------------------------------------------------------------------


def plates_report_section(ctx: ApiContext) -> ReportContributor:
    """The plates section of the transparency report (counts only): hotlist size, reads stored
    now, hotlist hits (plate candidates) in the period and how reviewers decided them."""

    def section(store: Store, since: datetime, until: datetime) -> dict[str, float | int]:
        cands = store.governance.reports.counts(since, until)["candidates"]
        actions = store.governance.audit.counts_by_action(since=since, until=until)
        confirmed = cands.get("plate:confirmed", 0)
        rejected = cands.get("plate:rejected", 0)
        pending = cands.get("plate:pending", 0)
        return {
            "hotlist_size": len(store.plates.list_entries()),
            "plate_reads_stored": store.plates.count_reads(),
            "retention_hours": ctx.config.plates.retention_hours,
            "hits": confirmed + rejected + pending,
            "candidates_confirmed": confirmed,
            "candidates_rejected": rejected,
            "candidates_pending": pending,
            "hotlist_additions": actions.get("hotlist.add", 0) + actions.get("hotlist.import", 0),
            "hotlist_removals": actions.get("hotlist.remove", 0),
            "plate_searches": actions.get("plates.search", 0),
        }

    return section


def router_factory() -> APIRouter:
    """The plates router (for ``FEATURE_ROUTERS``)."""
    return router
