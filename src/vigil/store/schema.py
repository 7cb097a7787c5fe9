"""The whole schema: every module that defines tables, imported in one place.

Alembic's ``env.py`` and the schema test take ``metadata`` from here, so a table defined in a
feature module is never missed.
"""

from __future__ import annotations

from vigil.store import (  # noqa: F401  (registers their tables)
    audit,
    auth,
    candidates,
    cases,
    clips,
    crowd,
    dead_letters,
    faces,
    logins,
    plates,
    policies,
    users,
)
from vigil.store.tables import Base

metadata = Base.metadata
