"""The strict base model every config section derives from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not coerced across types, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_cross_type_coercion(cls, value: Any, info: ValidationInfo) -> Any:
        # Lax mode still turns YAML lists into tuples and strings into paths, but must not
        # read `true` as 1 fps, "5" as a number or "no" as a boolean.
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if annotation in (int, float) and isinstance(value, bool | str):
            raise ValueError(f"Input should be a number, not {type(value).__name__} {value!r}")
        if annotation is bool and not isinstance(value, bool):
            raise ValueError(f"Input should be a boolean (true or false), not {type(value).__name__} {value!r}")
        return value
