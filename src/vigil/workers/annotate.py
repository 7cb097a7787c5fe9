"""Drawing tracked boxes on frames and writing them to an H.264 MP4."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from vigil.core.detections import Detections
from vigil.core.errors import DataDirError
from vigil.core.frame import BGRImage

_PALETTE = (
    (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
    (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
)  # fmt: skip


def draw_tracks(image: BGRImage, tracked: Detections, class_names: tuple[str, ...]) -> BGRImage:
    """Return a copy of ``image`` with each tracked box and its ``class #id`` label."""
    out = image.copy()
    for i in range(len(tracked)):
        x1, y1, x2, y2 = (round(float(v)) for v in tracked.xyxy[i])
        tid = int(tracked.tracker_id[i])
        color = _PALETTE[tid % len(_PALETTE)] if tid >= 0 else (200, 200, 200)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 2)
        label = f"{class_names[int(tracked.class_id[i])]} #{tid} {float(tracked.confidence[i]):.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        ty = max(th + 4, y1)
        cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 4, ty), color, -1)
        cv2.putText(out, label, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class AnnotatedVideoWriter:
    """Writes BGR frames to an MP4 (H.264, yuv420p) at a fixed rate.

    The file is written under a temporary name and renamed on a clean close, so an
    interrupted run never leaves a half-written video under the requested name.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self._path = path
        self._tmp = path.with_name(f".{path.name}.partial.mp4")
        self._fps = Fraction(fps).limit_denominator(1000)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self._tmp), mode="w")
        except (OSError, av.error.FFmpegError) as exc:
            raise DataDirError(f"cannot write annotated video {path}: {exc}") from exc
        self._stream: av.VideoStream | None = None
        self.frames_written = 0

    def write(self, image: BGRImage) -> None:
        if self._stream is None:
            h, w = image.shape[:2]
            stream = self._container.add_stream("libx264", rate=self._fps)
            stream.width, stream.height = w - w % 2, h - h % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "26"}
            self._stream = stream
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(image[: self._stream.height, : self._stream.width]), format="bgr24"
        )
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self, *, keep: bool = True) -> None:
        if self._stream is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        self._container.close()
        if keep and self.frames_written > 0:
            self._tmp.replace(self._path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(keep=exc_type is None)
