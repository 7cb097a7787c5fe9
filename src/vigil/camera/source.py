"""Video sources: recorded files, RTSP cameras and HTTP streams decoded with PyAV.

PyAV/FFmpeg exceptions are converted here, at the boundary, into Vigil's
:class:`~vigil.core.errors.SourceError` family; callers never see ``av.error``:

* :class:`SourceOpenError` – missing file, not a video, no video stream, unreachable
  host, refused connection, open timed out.
* :class:`SourceStalledError` – opened, but no frame arrived within ``read_timeout_s``.
* :class:`DecodeError` – corrupt or truncated data while reading.

Every message is one line naming the camera and the URL with any password masked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

import av
import av.error

from vigil.core.clock import utcnow
from vigil.core.errors import DecodeError, SourceError, SourceOpenError, SourceStalledError
from vigil.core.frame import BGRImage, Frame

logger = logging.getLogger(__name__)

LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "srt"})
"""URL schemes treated as live streams (reconnect on failure, wall-clock timestamps)."""

MAX_CONSECUTIVE_BAD_PACKETS = 50
"""Bad packets in a row tolerated before the stream counts as corrupt: FFmpeg recovers
from isolated damage at the next keyframe, so one bad packet is no reason to give up."""

TRUNCATED_FRACTION = 0.95
"""A file that ends before this fraction of the frames its index promises is truncated."""


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (``rtsp://user:***@host/``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal lost its brackets in .hostname
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_live_url(url: str) -> bool:
    """True for network streams (rtsp, rtmp, http, ...); False for local files."""
    scheme = urlsplit(url).scheme.lower()
    return scheme in LIVE_SCHEMES


def _one_line(exc: BaseException) -> str:
    # FFmpegError's str() repeats the URL (password included); strerror is the reason alone.
    strerror = getattr(exc, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(exc).strip()
    return " ".join(text.split()) or type(exc).__name__


class _InterruptibleClock:
    """Stand-in for the ``time`` module inside ``av.container.core``.

    PyAV implements its read timeout with FFmpeg's interrupt callback, which FFmpeg polls
    (about every 100 ms) while blocked in a read, and which compares ``time.monotonic()``
    with the time the read started. PyAV offers no public way to trigger that callback
    from another thread, yet a stopped camera must not wait out a 10 s read timeout. So
    for threads marked as interrupted this clock jumps ahead by a day on every call; the
    callback then sees the read as timed out and FFmpeg returns at its next poll. Other
    threads (and every other use of ``time``) see the real clock.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._jumps: dict[int, float] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def monotonic(self) -> float:
        now = cast(float, self._real.monotonic())
        if not self._jumps:
            return now
        with self._lock:
            jump = self._jumps.get(threading.get_ident())
            if jump is None:
                return now
            # Strictly increasing, so PyAV's "clock went backwards" check never fires.
            jump += 86_400.0
            self._jumps[threading.get_ident()] = jump
            return now + jump

    def interrupt(self, thread_id: int) -> None:
        with self._lock:
            self._jumps.setdefault(thread_id, 0.0)

    def clear(self, thread_id: int) -> None:
        with self._lock:
            self._jumps.pop(thread_id, None)


_clock_lock = threading.Lock()


def _interruptible_clock() -> _InterruptibleClock | None:
    """Install the clock into PyAV on first use; None if this PyAV has no such hook."""
    import av.container.core as av_core

    with _clock_lock:
        current = getattr(av_core, "time", None)
        if isinstance(current, _InterruptibleClock):
            return current
        if current is None or not hasattr(current, "monotonic"):
            return None
        clock = _InterruptibleClock(current)
        av_core.time = clock  # type: ignore[attr-defined]
        return clock


def _interrupt_reads(thread_id: int) -> None:
    clock = _interruptible_clock()
    if clock is not None:
        clock.interrupt(thread_id)


def _clear_interrupt(thread_id: int) -> None:
    clock = _interruptible_clock()
    if clock is not None:
        clock.clear(thread_id)


class VideoSource:
    """An opened video stream: a context manager and an iterator of :class:`Frame`.

    Create it with :func:`open_source`. Iterating decodes the first video stream; the
    iterator ends at end of file/stream or after :meth:`interrupt`.

    Attributes:
        camera_id: id of the camera the frames are stamped with.
        url: the URL as given (use :attr:`display_url` in messages).
        is_live: True for network streams, False for local files.
        fps: nominal frame rate in frames per second (0.0 when unknown).
        size: ``(width, height)`` in pixels.
    """

    def __init__(
        self,
        container: av.container.InputContainer,
        *,
        camera_id: str,
        url: str,
        is_live: bool,
        read_timeout_s: float,
        first_index: int = 0,
    ) -> None:
        self._container = container
        self._stream = container.streams.video[0]
        self.camera_id = camera_id
        self.url = url
        self.display_url = mask_url(url)
        self.is_live = is_live
        self.read_timeout_s = read_timeout_s
        self._next_index = first_index
        self._interrupted = threading.Event()
        self._closed = False
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        self.fps: float = float(rate) if rate else 0.0
        ctx = self._stream.codec_context
        self.size: tuple[int, int] = (int(ctx.width), int(ctx.height))
        self._frames_expected = int(self._stream.frames or 0) if not is_live else 0
        self._started_at: datetime = utcnow()
        self._iterator: Iterator[Frame] | None = None
        self._reader_thread: int | None = None

    # -- context manager / iterator -------------------------------------------------
    def __enter__(self) -> VideoSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        if self._iterator is None:
            self._reader_thread = threading.get_ident()
            self._iterator = self._frames()
        return next(self._iterator)

    @property
    def frames_read(self) -> int:
        """Index the next frame will get (counts across reconnects via ``first_index``)."""
        return self._next_index

    def interrupt(self) -> None:
        """Make a blocked or future read return promptly; safe to call from any thread.

        The iterator then ends without an error. Used by :class:`CameraCapture.stop`.
        """
        self._interrupted.set()
        if self._reader_thread is not None:
            _interrupt_reads(self._reader_thread)

    def close(self) -> None:
        """Release the decoder and the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except av.error.FFmpegError as exc:  # closing a broken stream must not mask the cause
            logger.debug("camera %s: error closing %s: %s", self.camera_id, self.display_url, exc)
        finally:
            if self._reader_thread is not None:
                _clear_interrupt(self._reader_thread)

    # -- decoding ---------------------------------------------------------------------
    def _error(self, cls: type[SourceError], what: str) -> SourceError:
        return cls(f"camera {self.camera_id} ({self.display_url}): {what}")

    def _frames(self) -> Iterator[Frame]:
        stream = self._stream
        time_base = stream.time_base or Fraction(1, 90000)
        start_s = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
        period_s = 1.0 / self.fps if self.fps > 0 else 0.0
        bad_packets = 0
        decoded = 0
        last_frame_at = time.monotonic()
        last_pts_s = -1.0
        if self._interrupted.is_set():
            return
        try:
            packets = self._container.demux(stream)
            while True:
                read_started = time.monotonic()
                packet = next(packets, None)
                if packet is None:
                    break
                if self._interrupted.is_set():
                    return
                if time.monotonic() - read_started >= self.read_timeout_s:
                    # PyAV's timeout interrupted the read, and the RTSP demuxer answered by
                    # flushing a queued packet instead of an error: it is a stall all the same.
                    raise self._error(SourceStalledError, f"no data within {self.read_timeout_s:g} s (stream stalled)")
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError as exc:
                    bad_packets += 1
                    if bad_packets >= MAX_CONSECUTIVE_BAD_PACKETS:
                        raise self._error(
                            DecodeError, f"{bad_packets} corrupt packets in a row ({_one_line(exc)})"
                        ) from exc
                    continue
                bad_packets = 0
                now = time.monotonic()
                if not frames:
                    # The demuxer delivers packets but the decoder returns nothing: a
                    # stream that never reaches a keyframe stalls here, not in the read.
                    if now - last_frame_at > self.read_timeout_s:
                        raise self._error(SourceStalledError, f"no frame decoded within {self.read_timeout_s:g} s")
                    continue
                last_frame_at = now
                for av_frame in frames:
                    image = cast(BGRImage, av_frame.to_ndarray(format="bgr24"))
                    if av_frame.time is not None:
                        pts_s = max(0.0, float(av_frame.time) - start_s)
                    else:
                        pts_s = last_pts_s + period_s if last_pts_s >= 0 else 0.0
                    last_pts_s = pts_s
                    captured_at = utcnow() if self.is_live else self._started_at + timedelta(seconds=pts_s)
                    frame = Frame(
                        camera_id=self.camera_id,
                        index=self._next_index,
                        pts_s=pts_s,
                        captured_at=captured_at,
                        image=image,
                    )
                    self._next_index += 1
                    decoded += 1
                    yield frame
                    # Time the consumer spent with the frame is not the source's fault.
                    last_frame_at = time.monotonic()
        except SourceError:
            raise
        except av.error.ExitError as exc:
            if self._interrupted.is_set():
                return
            # The peer is unresponsive: keep FFmpeg's reads interrupted so close() does not
            # wait another timeout for the answer to its TEARDOWN.
            self._interrupted.set()
            _interrupt_reads(threading.get_ident())
            raise self._error(SourceStalledError, f"no data within {self.read_timeout_s:g} s (stream stalled)") from exc
        except av.error.InvalidDataError as exc:
            raise self._error(DecodeError, f"corrupt or truncated data: {_one_line(exc)}") from exc
        except (av.error.FFmpegError, OSError) as exc:
            if self._interrupted.is_set():
                return
            cls: type[SourceError] = SourceStalledError if self.is_live else DecodeError
            raise self._error(cls, f"read failed: {_one_line(exc)}") from exc
        if (
            self._frames_expected > 0
            and not self._interrupted.is_set()
            and decoded < TRUNCATED_FRACTION * self._frames_expected
        ):
            raise self._error(
                DecodeError,
                f"file is truncated: decoded {decoded} of {self._frames_expected} frames",
            )


def open_source(
    url: str,
    camera_id: str,
    *,
    rtsp_transport: Literal["tcp", "udp"] = "tcp",
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    live: bool | None = None,
    first_index: int = 0,
    av_options: Mapping[str, str] | None = None,
) -> VideoSource:
    """Open a file path or a stream URL and return a :class:`VideoSource`.

    Args:
        url: local path (or ``file://``), ``rtsp://``, ``http(s)://``, ``rtmp://`` URL.
        camera_id: id stamped on every frame and named in every error.
        rtsp_transport: RTP lower transport for ``rtsp://`` URLs.
        open_timeout_s: seconds to connect and read the stream header.
        read_timeout_s: seconds without data (or without a decoded frame) before
            :class:`SourceStalledError`.
        live: override the scheme-based live detection (:func:`is_live_url`).
        first_index: index of the first frame (a reconnect continues the count).
        av_options: extra FFmpeg options (e.g. ``{"analyzeduration": "500000"}``, in µs).

    Raises:
        SourceOpenError: the source cannot be opened or has no video stream.
    """
    display = mask_url(url)
    is_live = is_live_url(url) if live is None else live
    prefix = f"camera {camera_id} ({display})"
    scheme = urlsplit(url).scheme.lower()
    if not is_live and scheme in ("", "file"):
        path = Path(urlsplit(url).path if scheme == "file" else url)
        if not path.exists():
            raise SourceOpenError(f"{prefix}: file not found")
        if not path.is_file():
            raise SourceOpenError(f"{prefix}: not a regular file")

    options: dict[str, str] = {}
    if scheme.startswith("rtsp"):
        options["rtsp_transport"] = rtsp_transport
    if is_live:
        # FFmpeg's own socket timeout (µs) for rtsp/http, so a dead peer errors out even
        # where PyAV's interrupt callback is not polled.
        options["timeout"] = str(round(max(open_timeout_s, read_timeout_s) * 1_000_000))
    if av_options:
        options.update(av_options)

    try:
        container = av.open(url, mode="r", options=options, timeout=(open_timeout_s, read_timeout_s))
    except av.error.ExitError as exc:
        raise SourceOpenError(f"{prefix}: no answer within {open_timeout_s:g} s") from exc
    except av.error.FileNotFoundError as exc:
        raise SourceOpenError(f"{prefix}: not found ({_one_line(exc)})") from exc
    except av.error.InvalidDataError as exc:
        what = (
            "the server sent data that is not a readable video stream"
            if is_live
            else "not a readable video (unknown format, or truncated without its index)"
        )
        raise SourceOpenError(f"{prefix}: {what}") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceOpenError(f"{prefix}: cannot open: {_one_line(exc)}") from exc

    input_container = container
    if not input_container.streams.video:
        input_container.close()
        raise SourceOpenError(f"{prefix}: no video stream")
    stream = input_container.streams.video[0]
    ctx: Any = stream.codec_context
    if not ctx.width or not ctx.height:
        input_container.close()
        raise SourceOpenError(f"{prefix}: video stream has no frame size (codec not decodable)")
    source = VideoSource(
        input_container,
        camera_id=camera_id,
        url=url,
        is_live=is_live,
        read_timeout_s=read_timeout_s,
        first_index=first_index,
    )
    logger.info(
        "camera %s: opened %s (%dx%d, %.2f fps, live=%s)",
        camera_id,
        display,
        source.size[0],
        source.size[1],
        source.fps,
        is_live,
    )
    return source
