"""The plates stage: builds a :class:`~vigil.workers.stages.FrameStage` for a camera, or None
when the feature is off."""

from __future__ import annotations

from vigil.workers.stages import FrameStage, StageContext


def build_plates_stage(ctx: StageContext) -> FrameStage | None:
    """The plates stage for ``ctx.camera``, or None when the feature is off."""
    return None
