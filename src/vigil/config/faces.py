"""``faces``: settings of the faces feature (one module per section)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class FacesConfig(StrictModel):
    """Settings of the faces feature."""

    enabled: bool = Field(default=False, description="Run the faces stage on live cameras.")
