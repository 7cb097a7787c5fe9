"""``plates``: settings of the plates feature (one module per section)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class PlatesConfig(StrictModel):
    """Settings of the plates feature."""

    enabled: bool = Field(default=False, description="Run the plates stage on live cameras.")
