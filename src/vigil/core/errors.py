"""Vigil's one exception hierarchy.

Errors from FFmpeg, ONNX Runtime, SQL and the file system are converted at the
boundary where they arise (``raise ... from exc``) so callers only ever see these::

    VigilError                    one clear line for the user (str(exc))
    ├── ConfigError               a config key has a wrong type, value or name
    ├── ModelError                a model file is missing, corrupt or fails to load
    │   └── ModelMissingError     not installed: the message names the command to run
    ├── SourceError               a camera or recording cannot be read
    │   ├── SourceOpenError       could not be opened (unreachable, not a video, ...)
    │   ├── SourceStalledError    opened, but no frame arrived within the timeout
    │   └── DecodeError           the stream is corrupt or truncated
    ├── StoreError                the database or media store failed
    │   ├── NotFoundError         no such record (subject, entry, candidate, ...)
    │   └── ConflictError         the record exists already or is in the wrong state
    ├── BusError                  the event bus cannot accept or deliver an event
    │   ├── BusClosedError        used after close
    │   ├── BusFullError          a subscriber stayed full past the publish timeout
    │   ├── BusUnavailableError   (vigil.bus.base) the broker cannot be reached yet: retry
    │   └── BusAuthError          (vigil.bus.base) the broker refused the credentials
    ├── EventDecodeError          a message is not a valid event (also a ValueError)
    │   └── UnreadableAlertError  (vigil.bus.alerts) an alerts-stream message is not an alert
    ├── AuthenticationError       who is asking could not be established (``code``: why)
    │   └── RateLimitedError      too many failed sign-ins; ``retry_after_s``
    ├── PolicyError               refused by accountability policy (legal basis, expiry, caps,
    │   │                         two-person rule, ...): the message says which rule
    │   └── AccessDeniedError     the account's role or camera scope does not allow it
    │                             (``code``: forbidden, out_of_scope, csrf_failed)
    ├── InputError                a user-supplied file or value is unusable (image, CSV, folder)
    │   ├── ReasonRequiredError   an action that must say why was given no (or too short a) reason
    │   ├── ImageRefusedError     a reference image is unreadable, too large, or has not one usable face
    │   ├── UploadTooLargeError   an uploaded file is larger than ``governance.max_upload_bytes``
    │   ├── UploadError           an uploaded file is not of a type accepted there
    │   ├── CameraRequiredError   a camera-scoped account searched without naming a camera
    │   └── BadRowsError          a file's rows are invalid; ``rows`` names each by number
    ├── DataDirError              the data directory cannot be created or written
    └── HttpError                 (vigil.http.errors; the API calls it ApiError) an error with
                                  its own HTTP status and code

Nothing else is raised across a module boundary: a test (tests/core/test_error_tree.py) walks
every package and fails on an exception class outside this tree.

Each door turns these into its own form in one place: the API and the web UI through the one
mapping to HTTP statuses in ``vigil.http.errors`` (JSON for the API in ``vigil.api.errors``, an
error page or the form again in ``vigil.web.core``), the CLI in ``vigil.cli.main``
(``error: <one line>``, exit 1).
"""

from __future__ import annotations


class VigilError(Exception):
    """Base class: ``str(exc)`` is one line a user can act on."""


class ConfigError(VigilError):
    """A configuration value is invalid; the message names the key path."""


class ModelError(VigilError):
    """A model cannot be installed, verified or loaded."""


class ModelMissingError(ModelError):
    """A model is not installed; the message names the command that installs it."""


class SourceError(VigilError):
    """A video source failed."""


class SourceOpenError(SourceError):
    """A video source could not be opened."""


class SourceStalledError(SourceError):
    """A video source stopped delivering frames."""


class DecodeError(SourceError):
    """A video source delivered data that could not be decoded."""


class StoreError(VigilError):
    """The event store or media store failed."""


class NotFoundError(StoreError):
    """The record asked for does not exist."""


class ConflictError(StoreError):
    """The record exists already, or is not in a state that allows the change."""


class BusError(VigilError):
    """The bus cannot accept or deliver an event."""


class BusClosedError(BusError):
    """``publish`` or ``subscribe`` was called after ``close``."""


class BusFullError(BusError):
    """A subscriber's queue stayed full for longer than the publish timeout."""


class EventDecodeError(VigilError, ValueError):
    """A message is not a valid event: unknown type, unsupported version or bad fields."""


class AuthenticationError(VigilError):
    """Who is asking could not be established (``code`` says why, e.g. token_expired)."""

    def __init__(self, message: str, code: str = "unauthenticated") -> None:
        super().__init__(message)
        self.code = code


class RateLimitedError(AuthenticationError):
    """Too many failed logins for this user name or address; try later."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, "rate_limited")
        self.retry_after_s = retry_after_s


class PolicyError(VigilError):
    """Refused by accountability policy; the message names the rule."""


class AccessDeniedError(PolicyError):
    """The account's role or camera scope does not allow this (``code``: forbidden, out_of_scope,
    csrf_failed)."""

    def __init__(self, message: str, code: str = "forbidden", *, camera_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.camera_id = camera_id
        """The camera out of scope, for the record of the refusal."""
        self.recorded = False
        """True once an ``access.denied`` audit record names this refusal (so a door does not
        record it twice)."""


class InputError(VigilError):
    """A user-supplied file or value cannot be used; the message names it and why."""


class ReasonRequiredError(InputError):
    """An action that is recorded with its reason was given none (or too short a one)."""


class UploadError(InputError):
    """An uploaded file (attachment, photo, CSV) is not of a type accepted there."""


class CameraRequiredError(InputError):
    """A camera-scoped account asked for a search across cameras: it must name one of its own."""


class ImageRefusedError(InputError):
    """A reference image cannot be enrolled; the message names the image (never a temporary path)."""


class UploadTooLargeError(InputError):
    """An uploaded file exceeds the deployment's upload limit (the API answers 413)."""


class BadRowsError(InputError):
    """Some rows of a file are invalid and nothing was written; ``rows`` lists ``(number, why)``."""

    def __init__(self, message: str, rows: list[tuple[int, str]]) -> None:
        super().__init__(message)
        self.rows = rows


class DataDirError(VigilError):
    """The data directory cannot be created or written."""
