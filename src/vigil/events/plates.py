"""Events of the plates feature. Define the event classes here and list them in the
``PLATE_EVENTS`` union below, which ``events/registry.py`` includes in ``AnyEvent``."""

from __future__ import annotations

from typing import Literal

from vigil.events.models import EventBase


class _PlaceholderPlates(EventBase):
    """Stands in until the first real plates event exists (a union needs one member)."""

    type: Literal["plates.placeholder"] = "plates.placeholder"
    schema_version: Literal[1] = 1


PLATE_EVENTS = _PlaceholderPlates
