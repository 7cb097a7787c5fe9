"""Feature stages that run after tracking: faces, plates, crowd.

A stage sees every analysed frame with its tracked detections and the event track ids,
keeps whatever per-track state it needs (e.g. the few best frames of a person track), and
returns events. It must keep nothing of people it does not match (ACCOUNTABILITY.md).
Stages are built per camera by ``build_stages`` from the deployment config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vigil.config import CameraConfig, VigilConfig
from vigil.core.detections import Detections
from vigil.core.frame import Frame
from vigil.events import AnyEvent
from vigil.store.facade import Store
from vigil.store.media import MediaStore


@dataclass(frozen=True, slots=True)
class StageInput:
    """One analysed frame as a stage sees it.

    Attributes:
        frame: the decoded frame.
        tracked: confirmed tracks in this frame (``tracker_id`` >= 1), boxes in pixels.
        track_ids: for each row of ``tracked``, the track id used in events.
        class_names: class id → name (COCO).
        ended: track ids that ended with this frame (their last frame was earlier).
    """

    frame: Frame
    tracked: Detections
    track_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    ended: tuple[str, ...] = ()


class FrameStage(Protocol):
    """A feature stage for one camera."""

    name: str

    def process(self, inp: StageInput) -> list[AnyEvent]:
        """Look at one analysed frame; return the events it produced."""
        ...

    def finish(self) -> list[AnyEvent]:
        """The stream ended: finalise every open track and drop all per-track state."""
        ...


@dataclass(frozen=True, slots=True)
class StageContext:
    """What a stage builder may use: config, the store (lists, calibration), media files."""

    cfg: VigilConfig
    camera: CameraConfig
    store: Store
    media: MediaStore
    features: frozenset[str] = field(default_factory=frozenset)
    """Features requested for this run beyond the config (e.g. ``{"faces"}`` for
    ``vigil analyze --watchlist``)."""


StageBuilder = Callable[[StageContext], "FrameStage | None"]


def build_stages(ctx: StageContext, builders: Sequence[StageBuilder]) -> list[FrameStage]:
    """Run each builder; a builder returns None when its feature is off for this camera."""
    stages: list[FrameStage] = []
    for build in builders:
        stage = build(ctx)
        if stage is not None:
            stages.append(stage)
    return stages
