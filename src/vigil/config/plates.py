"""``plates``: settings of the plates feature (one module per section)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from vigil.config.base import StrictModel

PLATE_REGIONS = ("us", "eu", "uk", "br", "hk")
"""Regions whose plate formats are built in (``vigil.plates.formats.REGION_FORMATS``)."""

_REGION_NAME = re.compile(r"[a-z][a-z0-9_-]{1,15}")
# The layout grammar of vigil.plates.formats (L letter, D digit, A either, {n} or {m,n} repeats);
# config may not import the plates package, so it is checked here by its shape.
_LAYOUT = re.compile(r"(?:[LDA](?:\{\d{1,2}(?:,\d{1,2})?\})?){1,12}")

Localiser = Literal["morphology", "platedet"]
LOCALISERS: tuple[Localiser, ...] = ("morphology", "platedet")

Recogniser = Literal["cct", "cct-v1", "ppocr"]
RECOGNISERS: tuple[Recogniser, ...] = ("cct", "cct-v1", "ppocr")

TextDetectorRuntime = Literal["auto", "onnxruntime", "openvino"]


class PlatesConfig(StrictModel):
    """Settings of the plates feature."""

    enabled: bool = Field(default=False, description="Run the plates stage on live cameras.")
    formats: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Plate regions of this deployment beyond the built-in ones: name -> serial layouts "
        "(L letter, D digit, A either, {m,n} repeats), e.g. {'nsw': ['LLLDDL', 'LLDDLL']}. Such a "
        "region is strict: a read that fits a layout only with confusable characters (O/0, I/1, "
        "B/8, S/5, Z/2 ...) is fixed by position. Name it in regions to use it.",
    )
    regions: tuple[str, ...] = Field(
        default=("us",),
        min_length=1,
        description=f"Plate formats of this deployment: any of {', '.join(PLATE_REGIONS)} and of formats.",
    )
    vehicle_classes: tuple[str, ...] = Field(
        default=("car", "bus", "truck", "motorcycle"), min_length=1, description="Tracks whose plates are read."
    )
    min_vehicle_px: int = Field(default=48, ge=8, le=4096, description="Skip vehicles narrower than this.")
    reads_per_track: int = Field(default=4, ge=1, le=50, description="At most this many frames read per vehicle.")
    min_interval_s: float = Field(default=0.4, ge=0.0, le=60.0, description="Least time between reads of one vehicle.")
    frame_scan_s: float = Field(
        default=0.0,
        ge=0.0,
        le=3600.0,
        description=(
            "Also read the whole frame at most this often (seconds of video), for plates of vehicles the "
            "detector does not track (close-up ANPR views); 0: only vehicle tracks are read."
        ),
    )
    min_sharpness: float = Field(
        default=20.0, ge=0.0, le=10_000.0, description="Least variance of the Laplacian of a vehicle crop to read it."
    )
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0, description="Voted reads below this are dropped.")
    retention_hours: float = Field(
        default=24.0,
        ge=0.0,
        le=24.0 * 365,
        description="Keep reads that hit no hotlist this long; 0 = never store them. Hits follow case retention.",
    )
    fuzzy: bool = Field(default=False, description="Also raise candidates for near matches (marked fuzzy).")
    max_edit_distance: float = Field(
        default=1.0, ge=0.5, le=3.0, description="Fuzzy matching: most edits (a confusable swap counts 0.5)."
    )
    max_hotlist_days: float = Field(
        default=365.0, gt=0, le=3650, description="Longest expiry a hotlist entry may have."
    )
    threads: int = Field(default=2, ge=1, le=64, description="ONNX Runtime threads of the plate OCR.")
    scene_text: Literal["always", "fallback", "never"] = Field(
        default="fallback",
        description="Run the OCR text detector over the vehicle region always, only when the cheap "
        "plate candidates gave no strong read (~13% faster, same exact reads, ~1.4 points lower "
        "found-rate on the US scenes), or never.",
    )

    text_detector_runtime: TextDetectorRuntime = Field(
        default="auto",
        description="What runs the PP-OCRv6 text detector: 'auto' (where the optional openvino package is "
        "installed, OpenVINO: bfloat16 on a CPU with AMX, about 0.4x a scene's time there, fp32 elsewhere, "
        "ONNX Runtime's output in 0.5-0.95x the time; ONNX Runtime fp32 without the package), "
        "'onnxruntime', or 'openvino' (as auto, but refuses without pip install 'vigil[openvino]').",
    )
    recogniser: Recogniser = Field(
        default="cct",
        description="Which recogniser reads plates: 'cct' (fast-plate-ocr CCT-XS v2, plate-trained, with a "
        "country head that picks the format grammar; model plates-cct, falling back to plates-cct-v1 when "
        "only that is installed), 'cct-v1' (model plates-cct-v1, no country head), or 'ppocr' (PP-OCRv6 "
        "only, as before). With a CCT model PP-OCRv6 still reads the plates it is unsure of.",
    )
    localiser: Localiser = Field(
        default="morphology",
        description="How plates are found: 'morphology' (character rows and the OCR text detector; "
        "Apache-2.0 only) or 'platedet' (optional AGPL-3.0 plate detector, installed with "
        "'vigil models install platedet'; finds more plates and reads more of them exactly).",
    )
    detector_confidence: float = Field(
        default=0.25, gt=0.0, lt=1.0, description="localiser 'platedet': least detector score of a plate box."
    )
    detector_fallback: bool = Field(
        default=True,
        description="localiser 'platedet': when it finds no plate, or none of its boxes reads, "
        "search as 'morphology' does (slower).",
    )

    @field_validator("formats")
    @classmethod
    def _layouts(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, layouts in value.items():
            if name in PLATE_REGIONS:
                raise ValueError(f"plate region {name!r} is built in; give your formats another name")
            if not _REGION_NAME.fullmatch(name):
                raise ValueError(
                    f"bad plate region name {name!r}; use 2-16 of a-z, 0-9, _ and -, starting with a letter"
                )
            if not layouts:
                raise ValueError(f"plate region {name!r} lists no layouts")
            for layout in layouts:
                if not _LAYOUT.fullmatch(layout):
                    raise ValueError(
                        f"bad plate layout {layout!r} in region {name!r}; use L (letter), D (digit), "
                        "A (either), each optionally repeated {n} or {m,n}, e.g. LLD{1,4}"
                    )
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        custom = sorted(info.data.get("formats") or {})
        unknown = [r for r in value if r not in PLATE_REGIONS and r not in custom]
        if unknown:
            raise ValueError(f"unknown plate region(s) {unknown}; valid: {list(PLATE_REGIONS) + custom}")
        return value
