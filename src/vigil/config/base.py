"""The strict base model every config section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not coerced across types, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)
