"""Small rules every domain service applies the same way: reasons, camera filters, time ranges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.config import VigilConfig
from vigil.core.errors import CameraRequiredError, InputError, ReasonRequiredError
from vigil.services.recorder import Recorder


def need_reason(config: VigilConfig, reason: str | None, what: str) -> str:
    """The stripped reason, at least ``governance.min_reason_chars`` long.

    Raises:
        ReasonRequiredError: no reason, or a shorter one (one line naming ``what``).
    """
    text = (reason or "").strip()
    minimum = config.governance.min_reason_chars
    if len(text) < minimum:
        raise ReasonRequiredError(
            f"{what} needs a reason (at least {minimum} characters): it is recorded in the audit log"
        )
    return text


def optional_reason(reason: str | None) -> str | None:
    """A reason that may be left out: stripped, or None when empty."""
    text = (reason or "").strip()
    return text or None


def search_camera(recorder: Recorder, action: str, camera_id: str | None, **asked: Any) -> str | None:
    """The camera filter of a search of personal data: the one named, if the actor may
    ``action`` there; accounts limited to some cameras must name one.

    Raises:
        AccessDeniedError: the role may not ``action``, or ``camera_id`` is out of scope
            (recorded as ``access.denied`` first, with ``asked``).
        CameraRequiredError: a camera-scoped actor named no camera.
    """
    recorder.allow(action, camera_id=camera_id, **asked)
    if camera_id is None and recorder.actor.cameras is not None:
        raise CameraRequiredError("your access is limited to some cameras: name one (camera_id)")
    return camera_id


def time_range(since: datetime | None, until: datetime | None) -> None:
    """Check a search's window: both ends with a time zone, ``since`` before ``until``.

    Raises:
        InputError: a bound without a time zone, or an empty window.
    """
    if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
        raise InputError("since and until need a time zone (e.g. 2026-11-01T12:00:00+00:00)")
    if since is not None and until is not None and since >= until:
        raise InputError("since must be before until")
