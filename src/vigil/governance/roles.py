"""Roles, actions and per-camera scopes: the one permission table every endpoint uses.

A feature router adds its actions to :data:`PERMISSIONS` here (one line each) and declares
them on its routes; the access-matrix test then covers its endpoints automatically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from vigil.core.errors import AccessDeniedError, PolicyError

Role = Literal["viewer", "operator", "supervisor", "auditor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

_FOOTAGE: frozenset[Role] = frozenset({"viewer", "operator", "supervisor", "admin"})
_REVIEW: frozenset[Role] = frozenset({"operator", "supervisor", "admin"})
_OVERSIGHT: frozenset[Role] = frozenset({"auditor", "admin"})
_ALL: frozenset[Role] = frozenset(ROLES)

PERMISSIONS: dict[str, frozenset[Role]] = {
    # Every signed-in user: who am I, my own tokens, the camera list and health (no personal data).
    "self": _ALL,
    "cameras.read": _ALL,
    # Personal data (footage, crops, tracks of people): never auditors.
    "events.read": _FOOTAGE,
    "tracks.read": _FOOTAGE,
    "media.read": _FOOTAGE,
    "media.unredacted": frozenset({"supervisor"}),
    "candidates.read": _REVIEW,
    "candidates.decide": _REVIEW,
    "alerts.stream": _REVIEW,
    # Face watchlist: metadata for footage roles; reference images redacted unless media.unredacted.
    "watchlist.read": _FOOTAGE,
    "watchlist.manage": frozenset({"supervisor", "admin"}),
    "watchlist.timeline": _REVIEW,
    # Plate hotlist: which plates are wanted is sensitive, so reviewers only (they judge plate
    # candidates against it); changes by supervisors/admins. A plate search follows a vehicle
    # (personal data): reviewers, with a reason, audited. Plate crops use media.read/unredacted.
    "hotlist.read": _REVIEW,
    "hotlist.manage": frozenset({"supervisor", "admin"}),
    "plates.search": _REVIEW,
    # Searching a recording for watchlist subjects or hotlist plates (`vigil analyze --watchlist /
    # --plates`): it raises candidates about people and vehicles, so reviewers, with a reason.
    "recordings.search": _REVIEW,
    # Crowd: aggregate counts, flows, alerts and occupancy heatmaps (no identities: the heatmap
    # PNG is a bare grid; the web page lays it over the camera's latest still only for roles with
    # media.read, and that still comes blurred from the audited media endpoint). Still operational,
    # camera-scoped monitoring, so footage roles within their cameras; auditors see crowd only
    # through reports.
    "crowd.read": _FOOTAGE,
    # A per-camera count correction changes what every later count of that camera says.
    "crowd.calibrate": frozenset({"supervisor", "admin"}),
    "calibration.read": frozenset({"supervisor", "auditor", "admin"}),
    "calibration.set": frozenset({"supervisor", "admin"}),
    "cases.read": frozenset({"supervisor", "admin"}),
    "cases.manage": frozenset({"supervisor", "admin"}),
    "exports.create": frozenset({"supervisor", "admin"}),
    "exports.unredacted": frozenset({"supervisor"}),
    # Oversight: the audit log and reports (auditors read these, never footage).
    "audit.read": _OVERSIGHT,
    "reports.read": frozenset({"supervisor", "auditor", "admin"}),
    "policy.read": frozenset({"supervisor", "auditor", "admin"}),
    "policy.write": frozenset({"supervisor", "admin"}),
    "policy.below_floor": frozenset({"supervisor"}),
    "users.manage": frozenset({"admin"}),
}
"""Action → roles allowed. Unknown actions are refused (fail closed)."""


def check_role(role: str) -> Role:
    """``role`` as a :data:`Role`.

    Raises:
        PolicyError: not one of the five roles (the message lists them).
    """
    if role not in ROLES:
        raise PolicyError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def allowed(role: str, action: str) -> bool:
    """True if ``role`` may perform ``action``."""
    return role in PERMISSIONS.get(action, frozenset())


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated person (or machine acting for them) behind a request.

    Attributes:
        cameras: the cameras in scope; None means every camera.
        via: how they authenticated: ``session``, ``token`` or ``cli``.
        os_user: for the command line, the operating-system account that ran it (recorded
            beside the user account, never instead of it).
    """

    user_id: str
    username: str
    role: Role
    cameras: frozenset[str] | None
    via: str = "session"
    os_user: str | None = None

    def can(self, action: str) -> bool:
        return allowed(self.role, action)

    def sees(self, camera_id: str | None) -> bool:
        """True if ``camera_id`` is in scope (None: an object with no camera, always in scope)."""
        return camera_id is None or self.cameras is None or camera_id in self.cameras

    def visible(self, camera_ids: Iterable[str]) -> list[str]:
        return [c for c in camera_ids if self.sees(c)]


def require(principal: Principal, action: str, camera_id: str | None = None) -> None:
    """Raise :class:`AccessDeniedError` unless ``principal`` may do ``action`` on ``camera_id``."""
    if not principal.can(action):
        raise AccessDeniedError(f"role {principal.role!r} may not {action}")
    if not principal.sees(camera_id):
        raise AccessDeniedError(f"camera {camera_id!r} is outside your scope", "out_of_scope", camera_id=camera_id)
