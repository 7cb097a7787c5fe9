"""Watchlist and hotlist management (accountability fields, expiry); cases are in :mod:`vigil.web.cases`."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote_plus

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from vigil.core.clock import utcnow
from vigil.http.uploads import save_uploads
from vigil.services import hotlist, watchlist
from vigil.services.hotlist import HotlistEntryIn
from vigil.services.watchlist import Enrolment, ReferenceImage
from vigil.web.core import HOTLIST_MANAGE, HOTLIST_READ, WATCHLIST_MANAGE, WATCHLIST_READ, pages, render, signed_in

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
SOON = timedelta(days=14)


@router.get("/lists")
@pages
def lists(request: Request) -> Response:
    """Both lists with their legal basis, authoriser, enroller and expiry; expiring soon first."""
    session = signed_in(request)
    session.require(WATCHLIST_READ)
    ctx = session.ctx
    now = utcnow()
    page = watchlist.subjects(ctx.services, session.principal, include_expired=True)
    can_hotlist = session.principal.can(HOTLIST_READ)
    plates = hotlist.entries(ctx.services, session.principal, include_expired=True).items if can_hotlist else []
    soon = sorted(
        [("face", s.subject_id, s.display_name, s.expires_at) for s in page.items if now < s.expires_at <= now + SOON]
        + [("plate", e.entry_id, e.plate, e.expires_at) for e in plates if now < e.expires_at <= now + SOON],
        key=lambda x: x[3],
    )
    return render(
        request,
        "lists.html",
        session,
        subjects=page.items,
        state=watchlist.state(ctx.services),
        hotlist=plates,
        soon=soon,
        now=now,
        can_manage=session.principal.can(WATCHLIST_MANAGE),
        can_hotlist=can_hotlist,
        can_manage_hotlist=session.principal.can(HOTLIST_MANAGE),
        max_expiry_days=ctx.config.faces.max_expiry_days,
        max_hotlist_days=ctx.config.plates.max_hotlist_days,
        default_expiry=(now + timedelta(days=30)).date().isoformat(),
        plate_regions=hotlist.known_regions(ctx.config.plates),
    )


@router.post("/lists/subjects")
@pages
def enrol_subject(
    request: Request,
    images: Annotated[list[UploadFile], File()],
    subject_id: FormStr = "",
    display_name: FormStr = "",
    legal_basis: FormStr = "",
    authorised_by: FormStr = "",
    expires: FormStr = "",
    provenance: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """The watchlist service's enrolment: every image checked for one usable face, audited with the entry."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    services = session.ctx.services
    enrolment = Enrolment(subject_id, display_name, legal_basis, authorised_by, expires, (provenance,))
    uploads = [i for i in images if i.filename]
    with tempfile.TemporaryDirectory(prefix="vigil-enrol-") as tmp:
        saved = save_uploads(uploads, services.config.governance.max_upload_bytes, Path(tmp))
        record = watchlist.enrol(services, session.principal, enrolment, [ReferenceImage(n, p) for n, p in saved])
    return RedirectResponse(f"/lists?notice=Enrolled+{quote_plus(record.subject_id)}", status_code=303)


@router.post("/lists/subjects/{subject_id}/remove")
@pages
def remove_subject(request: Request, subject_id: str, reason: FormStr = "", csrf_token: FormStr = "") -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    watchlist.remove(session.ctx.services, session.principal, subject_id, reason)
    return RedirectResponse(f"/lists?notice=Removed+{quote_plus(subject_id)}+and+its+images", status_code=303)


@router.post("/lists/hotlist")
@pages
def add_plate(
    request: Request,
    plate: FormStr = "",
    legal_basis: FormStr = "",
    authorised_by: FormStr = "",
    expires: FormStr = "",
    note: FormStr = "",
    region: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Add a hotlist entry; you are recorded as the person entering it (the hotlist service)."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    entry = hotlist.add(
        session.ctx.services,
        session.principal,
        HotlistEntryIn(plate, legal_basis, authorised_by, expires, note, region),
    )
    return RedirectResponse(f"/lists?notice=Added+{entry.plate}+to+the+hotlist", status_code=303)


@router.post("/lists/hotlist/{entry_id}/remove")
@pages
def remove_plate(request: Request, entry_id: str, reason: FormStr = "", csrf_token: FormStr = "") -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    entry = hotlist.remove(session.ctx.services, session.principal, entry_id, reason)
    return RedirectResponse(f"/lists?notice=Removed+{entry.plate}+from+the+hotlist", status_code=303)
