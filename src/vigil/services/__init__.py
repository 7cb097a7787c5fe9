"""The service layer: one home for each domain task, whichever door asks.

The API routers, the web pages and the CLI commands are thin doors: they authenticate an
:data:`~vigil.services.actor.Actor`, turn their input into typed values, call one function here
and render its typed result. The rules (roles and camera scopes, reasons, the two-person rule,
expiry, caps, policy bounds) are applied here once, and every change is written with its audit
record in one transaction by the one mechanism in :mod:`vigil.services.recorder`.

Each domain module takes ``(services, actor, ...)``: :class:`~vigil.services.context.Services`
carries the config, store, media files and authentication.

Layering (pyproject.toml): ``cli > server > api | web > http > services > workers > governance >
store``: the API and the web UI are independent siblings (``vigil.server`` mounts both), what they
share about HTTP is in :mod:`vigil.http`, and services import no door.
"""

from vigil.services.actor import Actor, system_actor_name
from vigil.services.context import Services
from vigil.services.recorder import DENIED, Recorder

__all__ = ["DENIED", "Actor", "Recorder", "Services", "system_actor_name"]
