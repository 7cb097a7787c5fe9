"""The candidate queue and its adjudication: a door onto :mod:`vigil.services.candidates`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import DecisionIn
from vigil.services import candidates
from vigil.services.candidates import CandidatePage, CandidateView

router = APIRouter(prefix="/candidates", tags=["candidates"])
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


@endpoint(router, "GET", "", action="candidates.read", scope="camera", example=Example(query={"camera_id": "{camera}"}))
def list_candidates(
    ctx: Ctx,
    principal: CurrentPrincipal,
    status: Literal["pending", "confirmed", "rejected"] | None = "pending",
    kind: Literal["face", "plate"] | None = None,
    camera_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CandidatePage:
    """Candidates awaiting review (newest first); nothing here is actionable until confirmed."""
    return candidates.list_candidates(
        ctx.services,
        principal,
        status=status,
        kind=kind,
        camera_id=camera_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@endpoint(
    router,
    "GET",
    "/{candidate_id}",
    action="candidates.read",
    scope="camera",
    example=Example(path={"candidate_id": "{candidate}"}),
)
def get_candidate(candidate_id: IdPath, ctx: Ctx, principal: CurrentPrincipal) -> CandidateView:
    return candidates.show(ctx.services, principal, candidate_id)


@endpoint(
    router,
    "POST",
    "/{candidate_id}/decision",
    action="candidates.decide",
    scope="camera",
    example=Example(path={"candidate_id": "{candidate}"}, json={"decision": "confirm"}, ok=(200, 409, 422)),
)
def decide(candidate_id: IdPath, body: DecisionIn, ctx: Ctx, principal: CurrentPrincipal) -> CandidateView:
    """Confirm or reject (a rejection needs a reason). A face candidate needs two confirmations
    from different accounts by default (``candidates.face_confirmations``), a plate one."""
    return candidates.decide(ctx.services, principal, candidate_id, body.decision, body.reason)
