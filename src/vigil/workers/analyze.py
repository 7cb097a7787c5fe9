"""``vigil analyze``: one recording through the same pipeline as a live camera."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import av

from vigil.config import CameraConfig, VigilConfig
from vigil.config.camera import slug
from vigil.core.classes import COCO_NAMES
from vigil.core.errors import SourceOpenError
from vigil.core.frame import Frame
from vigil.governance.redactor import build_redactor
from vigil.workers.annotate import AnnotatedVideoWriter, draw_tracks
from vigil.workers.pipeline import FrameResult
from vigil.workers.runner import Deployment, RunSummary

ProgressHook = Callable[[float], None]
"""Called with the presentation time (s) of each analysed frame."""


def probe_duration_s(path: Path) -> float | None:
    """The recording's duration in seconds, or None when the container does not say."""
    try:
        with av.open(str(path)) as container:
            if container.duration is not None:
                return float(container.duration) / av.time_base
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
    except (av.error.FFmpegError, IndexError):
        return None
    return None


def recording_camera(video: Path, cfg: VigilConfig, analysis_fps: float | None, motion_gate: bool) -> CameraConfig:
    """A camera config for one recording, inheriting the first configured camera's settings."""
    if not video.exists():
        raise SourceOpenError(f"recording {video} does not exist")
    base = cfg.cameras[0] if cfg.cameras else CameraConfig(id="recording", url=str(video))
    gate = base.motion_gate.model_copy(update={"enabled": motion_gate})
    update: dict[str, object] = {"id": slug(video.stem), "url": str(video), "motion_gate": gate}
    if analysis_fps is not None:
        update["analysis_fps"] = analysis_fps
    return CameraConfig.model_validate({**base.model_dump(), **update})


def analyze_recording(
    video: Path,
    cfg: VigilConfig,
    *,
    out: Path | None = None,
    analysis_fps: float | None = None,
    motion_gate: bool = True,
    progress: ProgressHook | None = None,
    stop: threading.Event | None = None,
    features: frozenset[str] = frozenset(),
    again: bool = False,
) -> RunSummary:
    """Analyse ``video``; optionally write an annotated MP4 of the analysed frames to ``out``.

    A recording this camera analysed completely before is refused (InputError) unless
    ``again``; one whose analysis was killed resumes after its last stored frame.
    """
    cam = recording_camera(video, cfg, analysis_fps, motion_gate)
    writer: AnnotatedVideoWriter | None = None
    # The annotated video is a stored clip like any other: every face blurred as it is written,
    # except inside the person box of a track that raised a face candidate.
    redactor = build_redactor(cfg) if out is not None else None

    def on_frame(frame: Frame, result: FrameResult) -> None:
        if writer is not None and redactor is not None:
            clear = redactor.redact(frame.image, keep=result.keep_regions).image
            writer.write(draw_tracks(clear, result.tracked, COCO_NAMES))
        if progress is not None:
            progress(frame.pts_s)

    if out is not None:
        writer = AnnotatedVideoWriter(out, fps=cam.analysis_fps)
    deployment = Deployment(
        cfg,
        (cam,),
        on_frame=on_frame,
        block_when_full=True,
        features=features,
        on_analysed="again" if again else "refuse",
    )
    ok = False
    try:
        summary = deployment.run(stop or threading.Event())
        ok = True
    finally:
        if writer is not None:
            writer.close(keep=ok)
    summary.video_duration_s = probe_duration_s(video)
    if writer is not None and writer.frames_written:
        summary.annotated = str(out)
    return summary
