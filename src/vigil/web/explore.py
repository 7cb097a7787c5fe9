"""Explore: events as people see them (tracks, candidates, plate reads, crowd alerts) with
thumbnails, camera names and filters; a detail page with snapshot, clip, track path and related
events; and ``/clips/{subject}.mp4``, which sends the player to the API's media endpoint (which
checks scope and audits the viewing). A door onto :mod:`vigil.services.explore`."""

from __future__ import annotations

from typing import Literal, get_args
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from vigil.services import explore as explore_service
from vigil.store.explore import EXPLORE_KINDS, ExploreKind
from vigil.web.cases import cases_to_add_to
from vigil.web.core import pages, render, signed_in
from vigil.web.operations import camera_choices, parse_when

router = APIRouter(include_in_schema=False)
KindParam = Literal["track", "candidate", "plate", "crowd_alert"]
CASE_ITEM = {"track": "track", "candidate": "candidate", "plate": "plate_read", "crowd_alert": "event"}
"""What each kind is called as a case item (a crowd alert is its event)."""
assert set(get_args(KindParam)) == set(EXPLORE_KINDS)


@router.get("/explore")
@pages
def explore_page(
    request: Request,
    kind: list[KindParam] = Query(default=[]),
    camera_id: str = "",
    since: str = "",
    until: str = "",
    plate: str = "",
    reason: str = "",
) -> Response:
    session = signed_in(request)
    me = session.principal
    kinds: tuple[ExploreKind, ...] = tuple(kind) or EXPLORE_KINDS
    result = explore_service.explore(
        session.services,
        me,
        kinds=kinds,
        camera_id=camera_id or None,
        since=parse_when(since, "since"),
        until=parse_when(until, "until"),
        plate=plate or None,
        reason=reason or None,
    )
    carry = urlencode({"reason": result.reason}) if result.reason else ""
    older = None
    if result.next_until is not None:
        query = [("kind", k) for k in kind] + [
            (name, value)
            for name, value in (("camera_id", camera_id), ("since", since), ("plate", plate), ("reason", reason))
            if value
        ]
        older = "?" + urlencode([*query, ("until", result.next_until.isoformat())])
    return render(
        request,
        "explore.html",
        session,
        result=result,
        cameras=camera_choices(session),
        q={"camera_id": camera_id, "since": since, "until": until, "plate": plate, "reason": reason},
        kinds=[(k, explore_service.KIND_LABEL[k], k in kinds) for k in EXPLORE_KINDS],
        labels=explore_service.KIND_LABEL,
        carry=carry,
        older=older,
        min_reason=session.ctx.config.governance.min_reason_chars,
    )


@router.get("/explore/{kind}/{item_id}")
@pages
def explore_detail(request: Request, kind: KindParam, item_id: str, reason: str = "") -> Response:
    session = signed_in(request)
    found = explore_service.detail(session.services, session.principal, kind, item_id, reason=reason or None)
    carry = urlencode({"reason": reason}) if reason else ""
    return render(
        request,
        "explore_detail.html",
        session,
        d=found,
        carry=carry,
        labels=explore_service.KIND_LABEL,
        can_unredact=session.principal.can("media.unredacted") and session.principal.sees(found.item.row.camera_id),
        cases=cases_to_add_to(session),
        case_item_type=CASE_ITEM[kind],
    )


@router.get("/clips/{subject_id}.mp4")
@pages
def clip(request: Request, subject_id: str) -> Response:
    """The clip of a candidate or alert: a redirect to the media endpoint, which serves it with
    every face blurred and records the viewing."""
    session = signed_in(request)
    found = explore_service.clip_for(session.services, session.principal, subject_id)
    return RedirectResponse("/api/media/" + quote(found.media), status_code=307)
