"""``faces``: settings of the face watchlist feature (one module per section)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class FaceQualityConfig(StrictModel):
    """Gates a detected face must pass before it is embedded; each rejection is counted by reason."""

    min_face_px: int = Field(
        default=32, ge=16, le=1024, description="Shorter side of the face box, in source pixels, at least this."
    )
    min_detector_score: float = Field(default=0.75, ge=0.0, le=1.0, description="YuNet face score at least this.")
    min_sharpness: float = Field(
        default=40.0,
        ge=0.0,
        le=10_000.0,
        description="Variance of the Laplacian of the aligned 112x112 grey face, at least this (blur gate).",
    )
    max_yaw: float = Field(
        default=0.55,
        gt=0.0,
        le=1.0,
        description="Nose offset from the eye midline over the eye distance, at most this (turned heads).",
    )


class FacesConfig(StrictModel):
    """Face watchlist: detection on person tracks, quality gates, matching and the watchlist policy."""

    enabled: bool = Field(default=False, description="Run the faces stage on live cameras.")
    quality: FaceQualityConfig = Field(default_factory=FaceQualityConfig)
    detector_score: float = Field(
        default=0.6, ge=0.05, le=1.0, description="YuNet detection threshold (the quality gate is stricter)."
    )
    detect_long_side_px: int = Field(
        default=640,
        ge=160,
        le=4096,
        description="Coarse detection pass: images are scaled so the long side is at most this (large faces).",
    )
    fine_long_side_px: int = Field(
        default=1920,
        ge=320,
        le=8192,
        description="Fine pass for large images (small faces): long side at most this; 0 faces lost to scaling.",
    )
    frames_per_track: int = Field(
        default=3, ge=1, le=20, description="Best frames of a person track that are searched for a face."
    )
    decide_after_s: float = Field(
        default=2.0,
        gt=0.0,
        le=600.0,
        description="Search a live track's best frames after this long, not only when it ends.",
    )
    head_fraction: float = Field(
        default=0.45, gt=0.1, le=1.0, description="Upper fraction of the person box where the face is looked for."
    )
    uncalibrated_threshold: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="Cosine threshold used only until `vigil calibrate --set-threshold-fmr` stores one.",
    )
    threshold_floor: float = Field(
        default=0.30,
        ge=0.0,
        le=1.0,
        description="A calibrated threshold below this needs a named supervisor.",
    )
    watchlist_cap: int = Field(default=1000, ge=1, le=10_000_000, description="Most subjects on the watchlist.")
    max_expiry_days: float = Field(default=180.0, gt=0, le=3650, description="Longest allowed entry lifetime.")
    max_reference_images: int = Field(default=10, ge=1, le=100, description="Reference images per subject.")
    max_image_megapixels: float = Field(
        default=50.0, gt=0, le=500, description="Reference and calibration images above this are refused undecoded."
    )
    max_travel_speed_kmh: float = Field(
        default=150.0,
        gt=0,
        le=5000,
        description="Faster movement between two cameras flags a candidate as impossible travel.",
    )
    gallery_refresh_s: float = Field(
        default=10.0, gt=0, le=3600, description="How often a running stage reloads the watchlist."
    )
    threads: int = Field(default=1, ge=1, le=64, description="OpenCV threads for face detection and embedding.")
