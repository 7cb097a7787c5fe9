"""The candidate queue and its adjudication (two-person rule from config)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from vigil.api.deps import Audit, Ctx, CurrentPrincipal, scoped_camera
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import CandidatePage, DecisionIn
from vigil.governance.export import candidate_json
from vigil.governance.roles import require
from vigil.governance.use_records import CandidateDecided

router = APIRouter(prefix="/candidates", tags=["candidates"])
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


@endpoint(router, "GET", "", action="candidates.read", scope="camera", example=Example(query={"camera_id": "{camera}"}))
def list_candidates(
    ctx: Ctx,
    principal: CurrentPrincipal,
    audit: Audit,
    status: Literal["pending", "confirmed", "rejected"] | None = "pending",
    kind: Literal["face", "plate"] | None = None,
    camera_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CandidatePage:
    """Candidates awaiting review (newest first); nothing here is actionable until confirmed."""
    camera = scoped_camera(principal, camera_id)
    if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
        raise ValueError("since and until need a time zone")
    items = ctx.store.candidates.list(
        status=status, kind=kind, camera_id=camera, since=since, until=until, limit=limit, offset=offset
    )
    audit.record("candidates.list", object_type="candidates", camera_id=camera, status=status, results=len(items))
    return CandidatePage(
        items=[candidate_json(c) for c in items],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(items) == limit else None,
    )


@endpoint(
    router,
    "GET",
    "/{candidate_id}",
    action="candidates.read",
    scope="camera",
    example=Example(path={"candidate_id": "{candidate}"}),
)
def get_candidate(candidate_id: IdPath, ctx: Ctx, principal: CurrentPrincipal, audit: Audit) -> dict[str, Any]:
    record = ctx.store.candidates.get(candidate_id)
    require(principal, "candidates.read", record.camera_id)
    audit.record("candidate.view", object_type="candidate", object_id=candidate_id, camera_id=record.camera_id)
    return candidate_json(record)


@endpoint(
    router,
    "POST",
    "/{candidate_id}/decision",
    action="candidates.decide",
    scope="camera",
    example=Example(path={"candidate_id": "{candidate}"}, json={"decision": "confirm"}, ok=(200, 409, 422)),
)
def decide(
    candidate_id: IdPath, body: DecisionIn, ctx: Ctx, principal: CurrentPrincipal, audit: Audit
) -> dict[str, Any]:
    """Confirm or reject (a rejection needs a reason). With two required confirmations, two
    different people must confirm before the candidate is actionable."""
    current = ctx.store.candidates.get(candidate_id)
    require(principal, "candidates.decide", current.camera_id)

    record = ctx.store.candidates.decide(
        candidate_id,
        actor=principal.username,
        decision=body.decision,
        reason=body.reason,
        required_confirmations=ctx.config.candidates.required_confirmations,
        on_decided=CandidateDecided(audit, body.decision, body.reason),  # in decide()'s transaction
    )
    return candidate_json(record)
