"""Cases: list, open, add evidence, legal hold and export, through :mod:`vigil.services.cases`."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from vigil.core.errors import InputError
from vigil.services import cases as service
from vigil.store.cases import CaseRecord
from vigil.web.core import WebSession, pages, render, signed_in

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
ITEM_LABELS = {"candidate": "candidate", "event": "event", "track": "track", "plate_read": "plate read"}


def cases_to_add_to(session: WebSession) -> list[CaseRecord]:
    """The cases the viewer may add evidence to (for the "Add to case" forms of other pages)."""
    if not session.principal.can("cases.manage"):
        return []
    return service.list_cases(session.services, session.principal, limit=50)


@router.get("/cases")
@pages
def cases(request: Request) -> Response:
    """The cases in the reader's camera scope (a case with another camera's evidence is not listed)."""
    session = signed_in(request)
    found = service.list_cases(session.services, session.principal, limit=200)
    return render(request, "cases.html", session, cases=found, case=None)


@router.get("/cases/{case_id}")
@pages
def case(request: Request, case_id: str) -> Response:
    session = signed_in(request)
    found = service.show(session.services, session.principal, case_id)
    return render(
        request,
        "cases.html",
        session,
        cases=None,
        case=found,
        items=service.describe_items(session.services, found),
        exports=service.exports(session.services, session.principal, case_id),
        item_labels=ITEM_LABELS,
        can_export=session.principal.can("exports.create"),
        can_unredact=session.principal.can("exports.unredacted"),
    )


@router.post("/cases")
@pages
def create_case(
    request: Request, name: FormStr = "", reason: FormStr = "", legal_hold: FormStr = "", csrf_token: FormStr = ""
) -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    if not 3 <= len(name.strip()) <= 200:
        raise InputError("a case name has 3 to 200 characters")
    made = service.create(session.services, session.principal, name, reason=reason, legal_hold=bool(legal_hold))
    return RedirectResponse(f"/cases/{made.case_id}?notice=Case+opened", status_code=303)


@router.post("/case-items")
@pages
def add_item(
    request: Request, case_id: FormStr = "", item_type: FormStr = "", item_id: FormStr = "", csrf_token: FormStr = ""
) -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    if item_type not in ITEM_LABELS:
        raise InputError(f"item type {item_type!r} is not one of {', '.join(ITEM_LABELS.values())}")
    service.add_item(session.services, session.principal, case_id, cast(service.ItemType, item_type), item_id.strip())
    label = ITEM_LABELS[item_type].replace(" ", "+")
    return RedirectResponse(f"/cases/{case_id}?notice=Added+the+{label}+to+the+case", status_code=303)


@router.post("/cases/{case_id}/hold")
@pages
def hold(
    request: Request, case_id: str, legal_hold: FormStr = "", reason: FormStr = "", csrf_token: FormStr = ""
) -> Response:
    """Place (box ticked) or lift a legal hold; either needs a reason."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    service.set_hold(session.services, session.principal, case_id, legal_hold=legal_hold == "on", reason=reason)
    return RedirectResponse(f"/cases/{case_id}?notice=Legal+hold+updated", status_code=303)


@router.post("/cases/{case_id}/export")
@pages
def export(
    request: Request, case_id: str, reason: FormStr = "", unredacted: FormStr = "", csrf_token: FormStr = ""
) -> Response:
    """The case package (redacted unless a supervisor asks otherwise), as a download. The page's
    script sends the form itself, saves the zip, says so and adds the export to the history
    (the headers carry what it shows); without the script the browser simply downloads it."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    package = service.export(session.services, session.principal, case_id, reason=reason, unredacted=unredacted == "on")
    return Response(
        package.data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "X-Export-Files": str(package.files),
            "X-Manifest-SHA256": package.manifest_sha256,
        },
    )
