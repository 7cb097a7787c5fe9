"""Who acts: an authenticated user account, and the door it came through.

Every service call that changes something, decides something or reads personal data takes an
:data:`Actor`. Doors obtain one only by authentication: the API and the web UI from a session
cookie or a bearer API token (:class:`vigil.governance.auth.AuthService`), the command line from
an API token (``VIGIL_TOKEN`` or the file ``vigil login`` writes). A typed name is not an
identity (ACCOUNTABILITY.md), so there is no way to make an actor from one.

Scheduled jobs (retention) are not people; they are recorded as ``system:<job>`` and never
decide, confirm or export.
"""

from __future__ import annotations

from typing import Literal

from vigil.governance.roles import Principal

Actor = Principal
"""An authenticated user account: id, name, role, camera scope and ``via`` (session, token or cli)."""

Door = Literal["session", "token", "cli"]
"""How the actor authenticated: a browser session (web UI or API), an API token, or the CLI
(which signs in with an API token too)."""

SYSTEM_PREFIX = "system:"


def system_actor_name(job: str) -> str:
    """The audit-log actor of a scheduled job (e.g. ``system:retention``)."""
    return SYSTEM_PREFIX + job
