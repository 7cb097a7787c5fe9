"""The crowd stage: builds a :class:`~vigil.workers.stages.FrameStage` for a camera, or None
when the feature is off."""

from __future__ import annotations

from vigil.workers.stages import FrameStage, StageContext


def build_crowd_stage(ctx: StageContext) -> FrameStage | None:
    """The crowd stage for ``ctx.camera``, or None when the feature is off."""
    return None
