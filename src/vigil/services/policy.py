"""Policies that drive behaviour, and face-threshold changes: validated once, audited once.

A policy is a named value a supervisor or admin changes at run time. Only policies that
something reads are accepted (:data:`POLICIES`); an unknown key, a value of the wrong type or
one outside its bounds is refused with one line naming the allowed range, and the refusal is
recorded (``policy.refused``) as a refused role is (``access.denied``).

``faces.threshold`` is read by the faces stage beside the active calibration (the newer of the
two is in force: :func:`vigil.workers.faces_stage.threshold_in_force`), and reaches scale-out
workers through the lists bucket with the watchlist; ``plates.min_confidence`` is read by the
plates stage the same way (a policy may only raise the deployment's bar, never lower it). A face
threshold typed by hand has no measured false-match rate behind it, so it may not go below the deployment's floor
(:func:`face_threshold_floor`); a *calibrated* threshold below the floor may be activated by a
supervisor, since its false-match rate was measured (:func:`activate_calibration`).

Every threshold change, typed or calibrated, from any door, is one ``policy.change`` record of
``faces.threshold`` with the old and new value in force (:func:`threshold_change_entry`),
written in the change's transaction.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from vigil.config import VigilConfig
from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, NotFoundError, PolicyError
from vigil.core.ids import new_id
from vigil.governance.use_records import EntryMaker
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.recorder import Recorder
from vigil.services.rules import need_reason
from vigil.store.audit import AuditEntry, append_audit
from vigil.store.faces import CalibrationRecord
from vigil.store.policies import FACE_THRESHOLD, PLATE_MIN_CONFIDENCE, PolicyRecord
from vigil.workers.faces_stage import ActiveThreshold, active_threshold
from vigil.workers.plates_stage import plate_min_confidence

WRITE = "policy.write"
READ = "policy.read"
CALIBRATE = "calibration.set"
BELOW_FLOOR = "policy.below_floor"
REFUSED = "policy.refused"
CHANGE = "policy.change"
_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,5}")

PolicyValue = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Bounds:
    """The values a numeric policy accepts in this deployment, and why the low end is where it is."""

    low: float
    high: float
    low_means: str

    def check(self, key: str, value: PolicyValue) -> float:
        """``value`` as a float within the bounds.

        Raises:
            PolicyError: not a number, not finite, or outside ``[low, high]`` (one line naming the range).
        """
        allowed = f"a number from {self.low:.3f} ({self.low_means}) to {self.high:.3f}"
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise PolicyError(f"{key} must be {allowed}; got {value!r}"[:300])
        if not self.low <= value <= self.high:
            raise PolicyError(f"{key} must be {allowed}; got {value:g}")
        return float(value)


def face_threshold_floor(config: VigilConfig) -> float:
    """The lowest face threshold this deployment accepts by hand: the stricter of
    ``faces.threshold_floor`` and ``governance.threshold_floor``."""
    return max(config.faces.threshold_floor, config.governance.threshold_floor)


POLICIES: dict[str, Callable[[VigilConfig], Bounds]] = {
    FACE_THRESHOLD: lambda cfg: Bounds(face_threshold_floor(cfg), 1.0, "this deployment's floor"),
    # A plate read below the deployment's own bar is too likely misread to match the hotlist on;
    # a policy may only raise the bar (fewer, surer hits), never lower it.
    PLATE_MIN_CONFIDENCE: lambda cfg: Bounds(cfg.plates.min_confidence, 1.0, "this deployment's plates.min_confidence"),
}
"""Every policy something reads, with its bounds in a deployment. A key not here is refused."""


def _refuse(recorder: Recorder, key: str, value: PolicyValue, reason: str | None, error: PolicyError) -> None:
    shown = value if not isinstance(value, str) else value[:200]
    recorder.read(REFUSED, object_type="policy", object_id=key[:128], reason=reason, value=shown, refusal=str(error))


def validate(config: VigilConfig, key: str, value: PolicyValue) -> float:
    """``value`` checked against ``key``'s bounds in this deployment.

    Raises:
        PolicyError: an unknown key (the message lists the known ones) or a value out of bounds.
    """
    bounds = POLICIES.get(key)
    if bounds is None:
        known = ", ".join(sorted(POLICIES))
        raise PolicyError(f"unknown policy {key[:128]!r}; the policies that drive behaviour are: {known}")
    return bounds(config).check(key, value)


def current_threshold(services: Services) -> ActiveThreshold:
    """The face threshold in force now (whatever set it)."""
    return active_threshold(services.store, services.config, None)


def in_force(services: Services, key: str) -> float:
    """The value a matching policy has now (set, or the deployment's config)."""
    if key == FACE_THRESHOLD:
        return current_threshold(services).threshold
    return plate_min_confidence(services.store, services.config.plates)


def threshold_change_entry(
    who: EntryMaker, *, reason: str, old: ActiveThreshold, new: float, floor: float, **detail: Any
) -> AuditEntry:
    """The one record of a face-threshold change (typed, calibrated or activated, any door)."""
    return who.entry(
        CHANGE,
        object_type="policy",
        object_id=FACE_THRESHOLD,
        reason=reason,
        old=old.threshold,
        old_source=old.source,
        new=new,
        below_floor=new < floor,
        **detail,
    )


def policies(services: Services, actor: Actor) -> list[PolicyRecord]:
    """Every policy value set (the deployment's config holds the rest)."""
    services.recorder(actor).allow(READ, object_type="policy")
    return services.store.governance.policies.list()


def set_policy(services: Services, actor: Actor, key: str, value: PolicyValue, reason: str | None) -> PolicyRecord:
    """Change a policy; the change and its ``policy.change`` record are one transaction.

    Raises:
        AccessDeniedError: the actor may not change policies (recorded).
        ReasonRequiredError: no reason, or too short a one.
        PolicyError: an unknown key, or a value outside the allowed range (recorded as ``policy.refused``).
    """
    recorder = services.recorder(actor)
    recorder.allow(WRITE, object_type="policy", object_id=key[:128])
    why = need_reason(services.config, reason, "a policy change")
    try:
        if not _KEY.fullmatch(key):
            raise PolicyError(f"policy key {key[:128]!r} must look like 'section.name' (lower case, digits, '_')")
        checked = validate(services.config, key, value)
    except PolicyError as exc:
        _refuse(recorder, key, value, why, exc)
        raise
    if key == FACE_THRESHOLD:  # the record every face-threshold change writes, typed or calibrated
        entry = threshold_change_entry(
            recorder, reason=why, old=current_threshold(services), new=checked,
            floor=face_threshold_floor(services.config), source="policy",
        )  # fmt: skip
    else:
        entry = recorder.entry(
            CHANGE, object_type="policy", object_id=key, reason=why, old=in_force(services, key), new=checked,
            source="policy",
        )  # fmt: skip
    return services.store.governance.policies.set(key, checked, updated_by=actor.username, audit=entry)


def activate_calibration(
    services: Services, actor: Actor, calibration_id: str, reason: str | None
) -> CalibrationRecord:
    """Make a stored calibration's threshold the one in force, as a new calibration entry set by
    ``actor`` (so the history keeps who did what). Below the floor only a supervisor may.

    Raises:
        AccessDeniedError: the actor may not set thresholds, or (below the floor) is no supervisor.
        ReasonRequiredError: no reason, or too short a one.
        NotFoundError: no such calibration.
        ConflictError: it is the active one already.
    """
    services.recorder(actor).allow(CALIBRATE, object_type="calibration", object_id=calibration_id)
    need_reason(services.config, reason, "a threshold change")
    source = next((c for c in services.store.faces.calibrations() if c.calibration_id == calibration_id), None)
    if source is None:
        raise NotFoundError(f"no calibration {calibration_id!r}")
    if source.active:
        raise ConflictError(f"calibration {calibration_id!r} is already the active one")
    return set_calibrated_threshold(services, actor, source, reason, from_calibration=calibration_id)


def set_calibrated_threshold(
    services: Services,
    actor: Actor,
    measured: CalibrationRecord,
    reason: str | None,
    *,
    from_calibration: str | None = None,
) -> CalibrationRecord:
    """Store ``measured`` (a calibration's operating point) as a new active calibration set by
    ``actor``: the threshold in force from now. A fresh measurement keeps its id (its report is
    filed under it); one activated again (``from_calibration``) gets a new one. Below the
    deployment's floor only a supervisor may, and is recorded as the supervisor. The calibration
    and its ``policy.change`` record are one transaction (``vigil calibrate --set-threshold-fmr``
    and the API's activation alike).

    Raises:
        AccessDeniedError: the actor may not set thresholds, or (below the floor) is no supervisor.
        ReasonRequiredError: no reason, or too short a one.
    """
    recorder = services.recorder(actor)
    recorder.allow(CALIBRATE, object_type="calibration", object_id=from_calibration)
    why = need_reason(services.config, reason, "a threshold change")
    floor = face_threshold_floor(services.config)
    below = measured.threshold < floor
    if below:
        recorder.allow(BELOW_FLOOR, object_type="calibration", object_id=from_calibration, threshold=measured.threshold)
    previous = current_threshold(services)
    record = dataclasses.replace(
        measured,
        calibration_id=measured.calibration_id if from_calibration is None else new_id(),
        created_at=utcnow(),
        set_by=actor.username,
        supervisor=actor.username if below else None,
        active=True,
    )
    extra = {} if from_calibration is None else {"from_calibration": from_calibration}

    def write(session: Session, stored: CalibrationRecord) -> None:
        append_audit(
            session,
            threshold_change_entry(
                recorder, reason=why, old=previous, new=stored.threshold, floor=floor, source="calibration",
                calibration=stored.calibration_id, target_fmr=stored.target_fmr, measured_fmr=stored.measured_fmr,
                supervisor=stored.supervisor, **extra,
            ),
        )  # fmt: skip

    return services.store.faces.set_calibration(record, floor=floor, on_written=write)
