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
    ├── PolicyError               refused by accountability policy (legal basis, expiry, caps,
    │                             two-person rule, ...): the message says which rule
    ├── InputError                a user-supplied file or value is unusable (image, CSV, folder)
    └── DataDirError              the data directory cannot be created or written
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


class PolicyError(VigilError):
    """Refused by accountability policy; the message names the rule."""


class InputError(VigilError):
    """A user-supplied file or value cannot be used; the message names it and why."""


class DataDirError(VigilError):
    """The data directory cannot be created or written."""
