"""``crowd``: settings of the crowd feature (one module per section)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class CrowdConfig(StrictModel):
    """Settings of the crowd feature."""

    enabled: bool = Field(default=False, description="Run the crowd stage on live cameras.")
