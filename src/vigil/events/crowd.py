"""Events of the crowd feature. Define the event classes here and list them in the
``CROWD_EVENTS`` union below, which ``events/registry.py`` includes in ``AnyEvent``."""

from __future__ import annotations

from typing import Literal

from vigil.events.models import EventBase


class _PlaceholderCrowd(EventBase):
    """Stands in until the first real crowd event exists (a union needs one member)."""

    type: Literal["crowd.placeholder"] = "crowd.placeholder"
    schema_version: Literal[1] = 1


CROWD_EVENTS = _PlaceholderCrowd
