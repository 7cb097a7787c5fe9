"""``clips``: the short clip kept around each candidate and alert (no continuous recording)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class ClipsConfig(StrictModel):
    """Each camera keeps its last ``pre_s`` seconds of analysed frames in memory (a ring, bounded
    by ``buffer_mib``); when a candidate or a crowd alert is raised, those frames and the next
    ``post_s`` seconds become an H.264 MP4, every face blurred at write time (a face
    candidate's own track kept in a second, supervisor-only copy). Nothing is written otherwise."""

    enabled: bool = Field(default=True, description="Keep a clip of each candidate and crowd alert.")
    pre_s: float = Field(default=5.0, ge=0.0, le=30.0, description="Seconds before the event.")
    post_s: float = Field(default=5.0, ge=0.0, le=30.0, description="Seconds after the event.")
    buffer_mib: int = Field(
        default=64, ge=4, le=2048, description="Most memory one camera's ring of recent frames may hold."
    )
    max_side_px: int = Field(
        default=1280, ge=160, le=3840, description="Frames larger than this on their long side are shrunk."
    )
    crf: int = Field(default=26, ge=10, le=45, description="x264 constant rate factor (lower: better, larger).")
    queue: int = Field(
        default=8, ge=1, le=256, description="Clips waiting to be encoded; beyond it a clip is dropped and counted."
    )
