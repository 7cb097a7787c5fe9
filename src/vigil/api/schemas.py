"""Request and response bodies (apart from the table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.governance.auth import USERNAME_PATTERN
from vigil.governance.roles import Role


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(BaseModel):
    username: str
    role: Role
    cameras: list[str] | None
    via: str


class LoginOut(MeOut):
    csrf_token: str
    expires_at: datetime


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=128)
    days: float = Field(default=30, gt=0, le=365, description="Lifetime (at most governance.auth.token_max_days).")


class UserIn(Body):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    cameras: list[str] | None = Field(default=None, max_length=1000, description="None: every camera.")


class UserPatch(Body):
    role: Role | None = None
    cameras: list[str] | None = Field(default=None, max_length=1000)
    all_cameras: bool = Field(default=False, description="Remove any camera restriction.")
    disabled: bool | None = None


class HealthOut(BaseModel):
    updated_at: datetime
    state: str
    frames_in: int
    frames_analysed: int
    frames_dropped: int
    reconnects: int
    analysed_fps: float
    last_error: str | None
    age_s: float = Field(description="Seconds since this report.")
    stale: bool = Field(
        description="A live state (starting, running, reconnecting, stalled) not reported for 30 s: the "
        "process analysing the camera was killed or hangs."
    )


class LeaseOut(BaseModel):
    """Scale-out: which worker analyses the camera, from the NATS leases bucket."""

    state: Literal["held", "unassigned", "unknown"] = Field(
        description="held: a worker holds it; unassigned: no worker does; unknown: NATS could not be read (see error)."
    )
    worker: str | None = Field(default=None, description="The worker holding the camera.")
    epoch: int | None = Field(default=None, description="Fencing epoch of the lease (grows at every move).")
    held_since: datetime | None = Field(default=None, description="When this worker claimed the camera.")
    worker_host: str | None = None
    worker_alive: bool | None = Field(
        default=None, description="The worker's heartbeat is current; false: the camera moves within the lease TTL."
    )
    heartbeat_expires_at: datetime | None = None
    error: str | None = Field(default=None, description="Why the lease is unknown (NATS unreachable).")


class CameraOut(BaseModel):
    camera_id: str
    name: str | None
    configured: bool
    health: HealthOut | None
    lease: LeaseOut | None = Field(default=None, description="Scale-out only (bus.type: nats); null when embedded.")


class Page(BaseModel):
    limit: int
    offset: int
    next_offset: int | None


class EventPage(Page):
    items: list[dict[str, Any]]


class TrackOut(BaseModel):
    track_id: str
    camera_id: str
    class_name: str
    first_seen: datetime
    last_seen: datetime
    n_observations: int
    best_confidence: float
    snapshot: str | None
    ended: bool


class TrackPage(Page):
    items: list[TrackOut]


class DecisionIn(Body):
    decision: Literal["confirm", "reject"]
    reason: str | None = Field(default=None, max_length=2000)


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    camera_id: str | None
    reason: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(Page):
    items: list[AuditOut]


class VerifyOut(BaseModel):
    ok: bool
    records: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


class ReportOut(BaseModel):
    since: datetime
    until: datetime
    active_cameras: int
    events_by_type: dict[str, int]
    tracks_by_class: dict[str, int]
    candidates: dict[str, int]
    confirmed: int
    rejected: int
    pending: int
    false_alert_rate: float | None
    accesses: dict[str, int]
    retention_deleted: dict[str, int]
    sections: dict[str, dict[str, float | int]]


PolicyValue = bool | int | float | str | None


class PolicyIn(Body):
    value: PolicyValue
    reason: str = Field(min_length=1, max_length=2000)


class PolicyOut(BaseModel):
    key: str
    value: Any
    updated_by: str
    updated_at: datetime


class CaseIn(Body):
    name: str = Field(min_length=3, max_length=200)
    reason: str = Field(min_length=1, max_length=2000, description="Legal basis or authorisation reference.")
    legal_hold: bool = False


class CaseItemIn(Body):
    item_type: Literal["event", "track", "candidate", "plate_read"]
    item_id: str = Field(min_length=1, max_length=128)


class HoldIn(Body):
    legal_hold: bool
    reason: str = Field(min_length=1, max_length=2000)


class ExportIn(Body):
    unredacted: bool = False
    reason: str = Field(min_length=1, max_length=2000)


class CaseExportOut(BaseModel):
    """One export of a case (from its ``export.create`` audit record)."""

    at: datetime
    by: str
    reason: str | None
    redacted: bool
    files: int | None
    manifest_sha256: str | None


class CaseItemOut(BaseModel):
    item_type: str
    item_id: str
    camera_id: str | None
    added_by: str
    added_at: datetime


class CaseOut(BaseModel):
    case_id: str
    name: str
    reason: str
    legal_hold: bool
    created_by: str
    created_at: datetime
    items: list[CaseItemOut]


class Healthz(BaseModel):
    status: Literal["ok"]
    version: str
