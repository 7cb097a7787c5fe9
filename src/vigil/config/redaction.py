"""``governance.redaction``: how stored images are redacted at write time."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class RedactionConfig(StrictModel):
    """Write-time face redaction of every stored image (snapshots, scene frames, clips).

    The detector errs on the side of blurring: a low score threshold and several scales, so
    faces of 5 px (far-field CCTV) and faces filling the image are both found.
    """

    face_score: float = Field(
        default=0.3,
        ge=0.05,
        le=0.95,
        description="YuNet score at which a region is blurred (the watchlist's quality gate is far stricter).",
    )
    margin: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Each face box is grown by this fraction of its size on every side (hair, chin, ears).",
    )
    max_upscale: float = Field(
        default=4.0,
        ge=1.0,
        le=8.0,
        description="Small images are also searched enlarged up to this factor (faces of a few pixels).",
    )
    max_search_side_px: int = Field(
        default=1600,
        ge=320,
        le=8192,
        description="No enlarged pass is larger than this on its long side (bounds the cost per image).",
    )
    coarse_side_px: int = Field(
        default=640,
        ge=160,
        le=4096,
        description="Large images are also searched shrunk to this long side (faces that fill the image).",
    )
    plates: bool = Field(
        default=True,
        description="Blur vehicle plates by region in stored snapshots, served images, the live view and "
        "event clips (a bystander's registration is personal data); per camera: cameras[].blur_plates. "
        "A plate candidate's own plate crop stays clear for the unredacted view.",
    )
    plate_margin: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Each plate box is grown by this fraction of its size on every side.",
    )
