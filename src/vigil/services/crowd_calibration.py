"""Per-camera crowd count calibration, whichever door asks (``vigil crowd calibrate`` today).

A site labels the heads on a few frames of one camera (ShanghaiTech layout: ``images/NAME.jpg``
and ``ground-truth/GT_NAME_points.csv`` with ``x,y``, or ``GT_NAME.mat``); the frames are counted
with Vigil's counting step and a correction by rows of the frame is fitted
(:mod:`vigil.crowd.calibration`), stored with the camera as its active calibration, and the
change is audited (``crowd.calibrate``) in the same transaction: both or neither.

Everything that can be wrong with the input is checked before anything is counted or stored:
an unknown camera, fewer than :data:`~vigil.crowd.calibration.MIN_FRAMES` frames, an unreadable
image or label file, frames of different sizes, a labelled point outside its frame. Each is one
line naming the file (and point).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.core.clock import utcnow
from vigil.core.errors import InputError, NotFoundError
from vigil.core.frame import BGRImage
from vigil.crowd.calibration import (
    CalibrationCheck,
    CameraCalibration,
    LabelledCount,
    check_calibration,
    check_frame_count,
    fit_calibration,
)
from vigil.crowd.counter import FrameCount
from vigil.crowd.dataset import head_points, list_images
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.store.crowd import CalibrationRecord, NewCalibration

CALIBRATE = "crowd.calibrate"
Counter = Callable[[BGRImage], FrameCount]


@dataclass(frozen=True, slots=True)
class LabelledFrame:
    """One checked calibration frame."""

    name: str
    image: BGRImage
    points: np.ndarray


@dataclass(frozen=True, slots=True)
class CalibrationOutcome:
    """What was stored, and how it does on its own frames."""

    record: CalibrationRecord
    calibration: CameraCalibration
    check: CalibrationCheck


def known_camera(services: Services, camera_id: str) -> None:
    """Raise NotFoundError (one line naming the known cameras) unless ``camera_id`` is configured."""
    known = [c.id for c in services.config.cameras]
    if camera_id not in known:
        listed = ", ".join(known) if known else "none configured"
        raise NotFoundError(f"camera {camera_id!r} does not exist; known cameras: {listed}")


def read_frames(folder: Path) -> list[LabelledFrame]:
    """Read and check every labelled frame of ``folder`` (see module doc).

    Raises:
        InputError: the folder is not a labelled set, too few or too many frames, an unreadable
            file, frames of different sizes, or a point outside its frame (one line).
    """
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of labelled frames (images/ and ground-truth/)")
    items = list_images(folder)
    check_frame_count(len(items))
    frames: list[LabelledFrame] = []
    size: tuple[int, int] | None = None
    for item in items:
        image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{item.image}: not a readable image")
        h, w = int(image.shape[0]), int(image.shape[1])
        if size is None:
            size = (w, h)
        elif size != (w, h):
            raise InputError(
                f"{item.image}: {w}x{h}, but the first frame is {size[0]}x{size[1]}; "
                "calibration frames must all come from the camera at one size"
            )
        points = head_points(item.truth)
        outside = np.flatnonzero((points[:, 0] < 0) | (points[:, 0] > w) | (points[:, 1] < 0) | (points[:, 1] > h))
        if outside.size:
            x, y = points[outside[0]]
            raise InputError(
                f"{item.truth}: point {outside[0] + 1} ({x:g}, {y:g}) is outside the {w}x{h} frame"
                f" ({outside.size} point(s) outside); nothing was stored"
            )
        frames.append(LabelledFrame(item.image.name, np.asarray(image, dtype=np.uint8), points))
    return frames


def calibrate(
    services: Services,
    actor: Actor,
    camera_id: str,
    folder: Path,
    count: Counter,
    *,
    bands: int = 1,
    settings: dict[str, object] | None = None,
) -> CalibrationOutcome:
    """Fit and store the camera's calibration from the labelled frames in ``folder``.

    ``count`` is the counting step the camera runs (``settings`` describe it, kept with the fit).

    Raises:
        AccessDeniedError: the actor may not calibrate this camera (the attempt is recorded).
        NotFoundError: the camera does not exist.
        InputError: bad frames (see :func:`read_frames`), or nothing to fit (too few people).
    """
    recorder = services.recorder(actor)
    recorder.allow(CALIBRATE, camera_id=camera_id, object_type="crowd_calibration")
    known_camera(services, camera_id)
    frames = read_frames(folder)
    labelled: list[LabelledCount] = []
    for frame in frames:
        counted = count(frame.image)
        labelled.append(LabelledCount(counted.placed, frame.points[:, 1] / frame.image.shape[0]))
    calibration = fit_calibration(labelled, bands)
    check = check_calibration(labelled, calibration)
    height, width = frames[0].image.shape[:2]
    people = int(sum(f.points.shape[0] for f in frames))
    fit = {
        "source": str(folder.resolve()),
        "frames_used": [f.name for f in frames],
        "check": check.to_json_dict(),
        "settings": settings or {},
    }
    new = NewCalibration(
        camera_id=camera_id,
        created_by=actor.username,
        frames=len(frames),
        people=people,
        frame_width=int(width),
        frame_height=int(height),
        correction=calibration.to_json_dict(),
        fit=fit,
    )
    record = services.store.crowd.add_calibration(
        new,
        now=utcnow(),
        on_written=recorder.hook(
            lambda r: recorder.entry(
                CALIBRATE,
                object_type="crowd_calibration",
                object_id=r.calibration_id,
                camera_id=camera_id,
                frames=r.frames,
                people=r.people,
                correction=r.correction,
                check=check.to_json_dict(),
            )
        ),
    )
    return CalibrationOutcome(record, calibration, check)


def active(services: Services, camera_id: str) -> CameraCalibration | None:
    """The camera's calibration in force, or None.

    Raises:
        NotFoundError: the camera does not exist.
    """
    known_camera(services, camera_id)
    record = services.store.crowd.active_calibration(camera_id)
    return None if record is None else CameraCalibration.from_json_dict(record.correction)
