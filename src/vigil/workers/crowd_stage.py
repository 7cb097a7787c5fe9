"""The crowd stage: builds a :class:`~vigil.workers.stages.FrameStage` for a camera, or None
when the feature is off.

It composes :class:`vigil.crowd.CrowdMonitor` with CSRNet on ONNX Runtime and turns the
monitor's records into ``crowd.*`` events (aggregate only: no track ids, boxes or images).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np

from vigil.config import CameraConfig, VigilConfig
from vigil.core.classes import class_id
from vigil.core.errors import ConfigError, ModelMissingError
from vigil.core.frame import BGRImage
from vigil.core.onnx_session import make_session
from vigil.crowd.alerts import AlertChange
from vigil.crowd.calibration import CameraCalibration
from vigil.crowd.density import DensityEstimator
from vigil.crowd.geometry import FloatArray
from vigil.crowd.monitor import CrowdMonitor, MonitorOutput, ZoneSample
from vigil.crowd.tiling import Detector
from vigil.events import AnyEvent
from vigil.events.crowd import CrowdAlert, CrowdHeatmap, CrowdLineCounts, CrowdZoneCount, LineCount, ZoneCount
from vigil.models.install import require
from vigil.workers.stages import FrameStage, StageContext, StageInput
from vigil.workers.wiring import build_detector

log = logging.getLogger(__name__)

CSRNET_MODEL = "csrnet"
CSRNET_TAIL_MODEL = "csrnet-tail"


def camera_key(cfg: VigilConfig, camera: CameraConfig) -> str:
    """Config key path of ``camera`` (a recording inherits the first camera's zones)."""
    for i, cam in enumerate(cfg.cameras):
        if cam.id == camera.id:
            return f"cameras[{i}]"
    return "cameras[0]" if cfg.cameras else "camera"


def probe_frame_size(url: str) -> tuple[int, int] | None:
    """Width and height of a recording's video stream, or None when it cannot be told cheaply."""
    try:
        with av.open(url) as container:
            ctx = container.streams.video[0].codec_context
            return (int(ctx.width), int(ctx.height)) if ctx.width and ctx.height else None
    except (av.error.FFmpegError, IndexError, OSError):
        return None


def build_density(cfg: VigilConfig, required: bool) -> DensityEstimator | None:
    """CSRNet for the crowd stage; None (detection only) when it is not installed and not required."""
    try:
        model_dir = require(cfg.resolved_models_dir, CSRNET_MODEL)
    except ModelMissingError:
        if required:
            raise
        log.warning("crowd: CSRNet is not installed (vigil models install); zones count by detection only")
        return None
    path = model_dir / cfg.crowd.density_model_file
    tuned = _tuned_graph(cfg) if cfg.crowd.density_tail == "tuned" else None
    session = make_session(tuned or path, cfg.crowd.threads)
    return DensityEstimator(session, cfg.crowd.density_input_width, "tuned" if tuned else "stock")


def _tuned_graph(cfg: VigilConfig) -> Path | None:
    """The two-tail graph of ``crowd.density_tail: tuned``; None (one warning line, the stock tail
    counts) when it cannot be used."""
    if cfg.crowd.density_precision != "int8":
        log.warning("crowd: density_tail: tuned needs density_precision: int8; counting with the stock tail")
        return None
    try:
        return require(cfg.resolved_models_dir, CSRNET_TAIL_MODEL) / "model-int8.onnx"
    except ModelMissingError as exc:
        log.warning("crowd: density_tail: tuned, but %s; counting with the stock tail", exc)
        return None


class CrowdStage:
    """Per-camera crowd monitoring as a pipeline stage."""

    name = "crowd"

    def __init__(self, camera_id: str, monitor: CrowdMonitor) -> None:
        self.camera_id = camera_id
        self.monitor = monitor
        self._disabled = False
        self._last: tuple[float, datetime] | None = None

    def process(self, inp: StageInput) -> list[AnyEvent]:
        if self._disabled:
            return []
        frame = inp.frame
        self.monitor.forget(inp.ended)
        person = inp.class_names.index("person") if "person" in inp.class_names else -1
        keep = np.flatnonzero(inp.tracked.class_id == person)
        boxes = inp.tracked.xyxy[keep]
        ids = [inp.track_ids[int(i)] for i in keep]
        try:
            out = self.monitor.observe(frame.pts_s, frame.image, ids, boxes)
        except ConfigError as exc:
            # A zone outside the real frame: say so once and stop counting this camera.
            log.error("camera %s: crowd monitoring off: %s", self.camera_id, exc)
            self._disabled = True
            return []
        self._last = (frame.pts_s, frame.captured_at)
        return self._events(out, frame.pts_s, frame.captured_at)

    def finish(self) -> list[AnyEvent]:
        if self._last is None or self._disabled:
            return []
        t_s, at = self._last
        return self._events(self.monitor.finish(t_s), t_s, at)

    def _events(self, out: MonitorOutput, t_s: float, at: datetime) -> list[AnyEvent]:
        if not out:
            return []

        def when(s: float) -> datetime:
            return at - timedelta(seconds=max(0.0, t_s - s))

        events: list[AnyEvent] = []
        if out.samples:
            total, *zones = (self._zone(s) for s in out.samples)
            events.append(CrowdZoneCount(camera_id=self.camera_id, occurred_at=at, total=total, zones=tuple(zones)))
        if out.line_counts:
            events.append(
                CrowdLineCounts(
                    camera_id=self.camera_id,
                    occurred_at=at,
                    period_start=when(out.line_period_start_s),
                    lines=tuple(LineCount(line_id=k, in_count=i, out_count=o) for k, (i, o) in out.line_counts.items()),
                )
            )
        events.extend(self._alert(change, when) for change in out.alerts)
        if out.heatmap is not None:
            h = out.heatmap
            events.append(
                CrowdHeatmap(
                    camera_id=self.camera_id,
                    occurred_at=when(h.end_s),
                    period_start=when(h.start_s),
                    cols=int(h.grid.shape[1]),
                    rows=int(h.grid.shape[0]),
                    frames=h.frames,
                    frame_width=h.frame_width,
                    frame_height=h.frame_height,
                    cells=tuple(int(c) for c in h.grid.ravel()),
                )
            )
        return events

    @staticmethod
    def _zone(s: ZoneSample) -> ZoneCount:
        return ZoneCount(
            zone_id=s.zone_id,
            count=s.count,
            detection_count=s.detection_count,
            density_count=s.density_count,
            method=s.method,
            density_per_m2=s.density_per_m2,
        )

    def _alert(self, c: AlertChange, when: Callable[[float], datetime]) -> CrowdAlert:
        return CrowdAlert(
            camera_id=self.camera_id,
            occurred_at=when(c.at_s),
            kind=c.kind,
            subject_type="line" if c.kind == "counter_flow" else "zone",
            subject_id=c.subject,
            state=c.state,
            value=float(c.value),
            threshold=float(c.threshold),
            unit=c.unit,
            since=when(c.since_s),
        )


def build_crowd_stage(ctx: StageContext) -> FrameStage | None:
    """The crowd stage for ``ctx.camera``, or None when the feature is off.

    Raises:
        ConfigError: a zone or line lies outside the recording's frame (checked here for files,
            on the first frame for live cameras).
        ModelMissingError: a zone asks for ``count_method: density`` and CSRNet is not installed.
    """
    cfg, cam = ctx.cfg, ctx.camera
    if not (cfg.crowd.enabled or "crowd" in ctx.features):
        return None
    key = camera_key(cfg, cam)
    monitor_args = (key, cam.zones, cam.lines, cfg.crowd)
    CrowdMonitor(*monitor_args, density=None)  # cheap: validates before any model is loaded
    if cam.is_file:
        size = probe_frame_size(cam.url.removeprefix("file://"))
        if size is not None:
            CrowdMonitor(*monitor_args, density=None).check_frame_size(*size)
    density = build_density(cfg, required=any(z.count_method == "density" for z in cam.zones))
    tiles = build_tile_detector(cfg) if density is not None and cfg.crowd.count_tiles > 1 else None
    stored = ctx.store.crowd.active_calibration(cam.id)
    calibration = CameraCalibration.from_json_dict(stored.correction) if stored is not None else None
    if calibration is not None:
        log.info(
            "crowd: camera %s counts with calibration %s (%s)",
            cam.id,
            stored.calibration_id if stored else "",
            calibration.factors,
        )
    return CrowdStage(
        cam.id, CrowdMonitor(*monitor_args, density=density, tile_detector=tiles, calibration=calibration)
    )


def counting_config(cfg: VigilConfig) -> VigilConfig:
    """``cfg`` with ``crowd.count_detector`` (at its own default precision) as the detector: what the
    counting step detects people with (``vigil crowd eval``/``calibrate`` and the live density step)."""
    model = cfg.crowd.count_detector
    if model is None or model == cfg.detector.model:
        return cfg
    return cfg.model_copy(update={"detector": cfg.detector.model_copy(update={"model": model, "precision": None})})


def build_tile_detector(cfg: VigilConfig) -> Detector:
    """Person boxes on tiles for the density step (its own session: it runs at the density rate)."""
    yolo = build_detector(counting_config(cfg), class_ids=(class_id("person"),), threads=cfg.crowd.threads)

    def persons(image: BGRImage) -> FloatArray:
        return yolo.detect(image).xyxy

    return persons
