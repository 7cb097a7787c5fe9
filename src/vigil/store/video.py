"""H.264 MP4 encoding of a short clip, in memory, that every browser plays.

Constrained Baseline profile, yuv420p, ``+faststart`` (the index before the data, so a
``<video>`` starts playing before the whole file has arrived). Timestamps are the frames' own
presentation times (a motion gate or a busy analyser makes the rate uneven), in milliseconds.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import StoreError

TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class EncodedClip:
    """An MP4 in memory and what is in it."""

    data: bytes
    frames: int
    width: int
    height: int
    duration_s: float


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The even size (yuv420p needs one) no larger than ``max_side`` on the long side."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def encode_mp4(
    images: Sequence[NDArray[np.uint8]],
    pts_s: Sequence[float],
    *,
    workdir: Path,
    max_side: int = 1280,
    crf: int = 26,
) -> EncodedClip:
    """Encode BGR frames ((H, W, 3) uint8, all one size) shown at ``pts_s`` (seconds, rising).

    The muxer moves the index to the front in a second pass over a file, so the clip is
    written to a temporary file in ``workdir`` (of already redacted frames) and read back.

    Raises:
        ValueError: no frames, or lengths that differ.
        StoreError: the encoder failed.
    """
    if not images or len(images) != len(pts_s):
        raise ValueError(f"a clip needs frames and one time per frame, got {len(images)} frames, {len(pts_s)} times")
    h0, w0 = images[0].shape[:2]
    width, height = fit_size(w0, h0, max_side)
    fd, tmp = tempfile.mkstemp(prefix=".clip.", suffix=".mp4", dir=workdir)
    os.close(fd)
    t0 = pts_s[0]
    last = -1
    try:
        with av.open(tmp, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.options = {"profile": "baseline", "preset": "veryfast", "crf": str(crf), "tune": "zerolatency"}
            for source, t in zip(images, pts_s, strict=True):
                image: NDArray[np.uint8] = source
                if source.shape[:2] != (height, width):
                    image = np.asarray(cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
                pts = max(last + 1, round((t - t0) * 1000))  # strictly rising, whatever the source did
                last = pts
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
                frame.pts = pts
                frame.time_base = TIME_BASE
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        data = Path(tmp).read_bytes()
    except (av.FFmpegError, OSError) as exc:
        raise StoreError(f"encoding the clip failed: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    step = (pts_s[-1] - t0) / (len(pts_s) - 1) if len(pts_s) > 1 else 0.2
    return EncodedClip(data, len(images), width, height, (last / 1000.0) + step)
