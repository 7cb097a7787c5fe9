"""Query parameter types shared by every router, with the bounds that keep bad input a 4xx."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from vigil.core.instants import check_instant

Instant = Annotated[datetime, AfterValidator(check_instant)]
"""An ISO 8601 date-time within the range Vigil handles (:mod:`vigil.core.instants`): anything
outside is a 422 naming the parameter, before a handler adds or subtracts days from it."""
