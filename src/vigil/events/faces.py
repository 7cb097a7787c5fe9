"""Events of the faces feature. Define the event classes here and list them in the
``FACE_EVENTS`` union below, which ``events/registry.py`` includes in ``AnyEvent``."""

from __future__ import annotations

from typing import Literal

from vigil.events.models import EventBase


class _PlaceholderFaces(EventBase):
    """Stands in until the first real faces event exists (a union needs one member)."""

    type: Literal["faces.placeholder"] = "faces.placeholder"
    schema_version: Literal[1] = 1


FACE_EVENTS = _PlaceholderFaces
