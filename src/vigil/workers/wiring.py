"""Builds the parts of a deployment from its config: detector, store, media, bus."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from vigil.bus.memory import InMemoryBus
from vigil.camera.capture import CameraCapture
from vigil.camera.motion import MotionGate
from vigil.config import CameraConfig, VigilConfig
from vigil.core.classes import class_id
from vigil.core.frame import Frame
from vigil.detect.choice import ObjectDetector, open_detector
from vigil.events import AnyEvent
from vigil.governance.clip_redactor import build_clip_redactor
from vigil.governance.redactor import build_redactor
from vigil.models.install import require
from vigil.store.engine import ensure_writable_dir
from vigil.store.facade import Store
from vigil.store.integrity import require_sound
from vigil.store.media import MediaStore
from vigil.store.spool import EventSpool
from vigil.workers.usage import box_cpus


def build_detector(
    cfg: VigilConfig,
    *,
    class_ids: tuple[int, ...] | None = None,
    threads: int | None = None,
    input_size: int | None = None,
) -> ObjectDetector:
    """Load the configured detector (``detector.model``) with its declared decoder.

    Args:
        cfg: the deployment's config.
        class_ids: COCO ids to keep instead of ``detector.classes``.
        threads: ONNX Runtime threads instead of ``detector.threads``.
        input_size: network input instead of ``detector.input_size``.

    Raises:
        ModelMissingError: not installed (the message names the install command).
        ModelError: the graph does not match its decoder or the input size (one line).
    """
    return open_detector(
        cfg.detector.choice.decoder,
        detector_model_path(cfg),
        input_size=input_size or cfg.detector.input_size,
        confidence=cfg.detector.confidence,
        nms_iou=cfg.detector.nms_iou,
        class_ids=detector_class_ids(cfg) if class_ids is None else class_ids,
        threads=threads or cfg.detector.threads,
    )


def detector_threads(cfg: VigilConfig, cameras: int) -> int:
    """ONNX Runtime threads for a run of ``cameras`` cameras: ``detector.threads`` when set;
    unset, 1 when there are at least as many cameras as CPUs (their detections run side by side,
    one CPU each, which on 2 CPUs served ~1.6x more cameras per CPU second than 2 threads each:
    docs/detectors.md), else the default (one camera may use 2 CPUs for one frame)."""
    if "threads" in cfg.detector.model_fields_set or cameras < box_cpus():
        return cfg.detector.threads
    return 1


def detector_model_path(cfg: VigilConfig) -> Path:
    """The ONNX file of the configured detector at the configured precision."""
    return require(cfg.resolved_models_dir, cfg.detector.model) / cfg.detector.model_file


def detector_class_ids(cfg: VigilConfig) -> tuple[int, ...]:
    return tuple(class_id(name) for name in cfg.detector.classes)


def open_data_dir(cfg: VigilConfig) -> MediaStore:
    """Check the data directory is writable before anything is analysed; the media store it
    returns blurs every face in what it writes (see :mod:`vigil.governance.redactor`).

    Raises:
        DataDirError: not writable.
        ModelMissingError: YuNet, which finds the faces to blur, is not installed.
    """
    ensure_writable_dir(cfg.data_dir)
    return MediaStore(cfg.data_dir / "media", redactor=build_redactor(cfg), clip_redactor=build_clip_redactor(cfg))


def open_store(cfg: VigilConfig) -> Store:
    """Open (and migrate) the store, refusing a SQLite file that fails its quick check.

    Raises:
        StoreError: unreachable, or corrupt (one line from the quick check).
    """
    require_sound(cfg.store_url)
    return Store.open(cfg.store_url)


def build_bus(cfg: VigilConfig, spool: EventSpool | None = None) -> InMemoryBus:
    """The in-process bus; with a spool, every dead letter is written to it as it happens."""

    def keep(subscriber: str, event: AnyEvent, error: str) -> None:
        assert spool is not None
        spool.spool([event], f"dead letter of {subscriber}: {error[:200]}", keep_reserve=True)

    return InMemoryBus(maxsize=cfg.bus.queue_size, on_dead_letter=keep if spool is not None else None)


def open_spool(cfg: VigilConfig) -> EventSpool:
    """``<data_dir>/spool``: where events a full store could not take are kept for the next run."""
    return EventSpool(cfg.data_dir / "spool")


def build_capture(
    cam: CameraConfig, *, block_when_full: bool | None = None, on_gated: Callable[[Frame], None] | None = None
) -> CameraCapture:
    """A capture for one camera; recordings never drop frames, live cameras do when busy.
    ``on_gated`` sees each frame the motion gate skips (the live view)."""
    gate = (
        MotionGate(min_changed_fraction=cam.motion_gate.threshold, keepalive_s=cam.motion_gate.keepalive_s)
        if cam.motion_gate.enabled
        else None
    )
    return CameraCapture(
        cam.id,
        cam.url.removeprefix("file://") if cam.url.startswith("file://") else cam.url,
        rtsp_transport=cam.rtsp_transport,
        open_timeout_s=cam.open_timeout_s,
        read_timeout_s=cam.read_timeout_s,
        analysis_fps=cam.analysis_fps,
        queue_size=max(2, math.ceil(cam.queue_s * cam.analysis_fps - 1e-9)),
        motion_gate=gate,
        on_gated=on_gated,
        block_when_full=block_when_full,
        backoff_initial_s=cam.reconnect_initial_s,
        backoff_max_s=cam.reconnect_max_s,
    )
