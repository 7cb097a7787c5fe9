"""Media files (snapshots, crops) under one root directory, written atomically.

Paths handed around (in events, in the database) are relative to the root, POSIX style, so a
data directory can move between machines.

Every image is redacted on its way in: the store is given the deployment's redactor
(:func:`vigil.governance.redactor.build_redactor`, which blurs every face by region) and calls
it on each image unless the caller names why the image may keep its faces (a face candidate's
probe crop and person snapshot, an enrolled reference image). A store without a redactor
refuses such writes rather than keep a bystander's face.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import StoreError
from vigil.store.engine import ensure_writable_dir
from vigil.store.video import encode_mp4

Box = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)`` in pixels."""


class ImageRedactor(Protocol):
    """Blurs every face (and whatever else policy names) in an image; see
    :class:`vigil.governance.redactor.Redactor`."""

    def __call__(
        self, image: NDArray[np.uint8], keep: Sequence[Box] = (), camera_id: str | None = None
    ) -> NDArray[np.uint8]:
        """A copy of ``image`` with every region blurred except those centred inside ``keep``
        (plates too where ``camera_id``'s policy says)."""
        ...


class FrameRedactor(Protocol):
    """Blurs every face (and plates where policy says) in one clip frame; see
    :class:`vigil.governance.clip_redactor.ClipRedactor`."""

    def __call__(
        self, image: NDArray[np.uint8], heads: Sequence[Box], keep: Sequence[Box], camera_id: str | None = None
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None]:
        """``(every face and head blurred, faces centred inside keep left clear or None)``."""
        ...


@dataclass(frozen=True, slots=True)
class ClipFrame:
    """One frame of a clip to store.

    Attributes:
        image: (H, W, 3) uint8 BGR, as analysed.
        pts_s: its presentation time (seconds).
        heads: regions blurred whatever the face search finds (tracked people's heads).
        keep: the candidate's own person box, whose faces the second copy keeps.
    """

    image: NDArray[np.uint8]
    pts_s: float
    heads: tuple[Box, ...] = ()
    keep: tuple[Box, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredClip:
    """What :meth:`MediaStore.save_clip` wrote."""

    path: str
    kept_path: str | None
    frames: int
    width: int
    height: int
    duration_s: float
    bytes: int


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _safe_component(value: str, what: str) -> str:
    # Camera ids come from config and may contain '/', spaces or '..': never let them shape the tree.
    cleaned = _UNSAFE.sub("_", value).lstrip(".")
    if not cleaned:
        raise ValueError(f"{what} {value!r} has no usable characters for a file name")
    return cleaned[:128]


def snapshot_path(camera_id: str, event_id: str, when: datetime) -> str:
    """``snapshots/<camera>/<YYYY-MM-DD>/<event_id>.jpg`` (UTC date; unsafe characters → ``_``)."""
    if when.tzinfo is None:
        raise ValueError(f"when must be timezone-aware, got naive {when.isoformat()}")
    day = when.astimezone(UTC).strftime("%Y-%m-%d")
    camera = _safe_component(camera_id, "camera id")
    return f"snapshots/{camera}/{day}/{_safe_component(event_id, 'event id')}.jpg"


def clip_path(camera_id: str, clip_id: str, when: datetime, *, kept: bool = False) -> str:
    """``clips/<camera>/<YYYY-MM-DD>/<clip_id>.mp4`` (``….kept.mp4`` for the copy that keeps a
    face candidate's own face)."""
    if when.tzinfo is None:
        raise ValueError(f"when must be timezone-aware, got naive {when.isoformat()}")
    day = when.astimezone(UTC).strftime("%Y-%m-%d")
    name = _safe_component(clip_id, "clip id") + (".kept" if kept else "")
    return f"clips/{_safe_component(camera_id, 'camera id')}/{day}/{name}.mp4"


class MediaStore:
    """Files under ``root``; every path given to it is relative and cannot escape ``root``.

    Raises (constructor):
        DataDirError: ``root`` cannot be created or written.
    """

    def __init__(
        self, root: Path, redactor: ImageRedactor | None = None, *, clip_redactor: FrameRedactor | None = None
    ) -> None:
        ensure_writable_dir(root)
        self.root = root.resolve()
        self.redactor = redactor
        self.clip_redactor = clip_redactor

    def close(self) -> None:
        """Release what the store holds open (files on disk: nothing; a shared store: its
        NATS connection)."""

    def path_for(self, rel_path: str) -> Path:
        """The absolute path of ``rel_path``, to read it (a shared store fetches it first).

        Raises:
            ValueError: ``rel_path`` is empty, absolute, contains ``..`` or resolves outside
                the root (e.g. through a symlink).
        """
        return self.checked_path(rel_path)

    def checked_path(self, rel_path: str) -> Path:
        """The absolute path of ``rel_path`` under the root, checked, without reading anything.

        Raises:
            ValueError: ``rel_path`` is empty, absolute, contains ``..`` or resolves outside
                the root (e.g. through a symlink).
        """
        pure = PurePosixPath(rel_path)
        if (
            not rel_path
            or "\\" in rel_path
            or "\x00" in rel_path
            or pure.is_absolute()
            or ".." in pure.parts
            or pure == PurePosixPath(".")
        ):
            raise ValueError(f"media path must be relative to the media root without '..', got {rel_path!r}")
        path = (self.root / pure).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"media path {rel_path!r} resolves outside the media root {self.root}")
        return path

    def save_jpeg(
        self,
        rel_path: str,
        image: NDArray[np.uint8],
        quality: int = 90,
        *,
        keep_faces: str | None = None,
        keep_regions: Sequence[Box] = (),
        camera_id: str | None = None,
    ) -> str:
        """Redact ``image`` ((H, W, 3) uint8 BGR, or (H, W) grey) and encode it as JPEG at ``rel_path``.

        ``keep_faces`` is the reason the image may keep all its faces (``"face candidate <id>"``);
        without one, every face is blurred first, except faces centred inside ``keep_regions``
        (an enrolled subject's face in a group photo); plates are blurred where ``camera_id``'s
        policy says (the deployment's for None). Written to a temporary file in the same
        directory and renamed, so readers never see a half-written file.

        Returns:
            ``rel_path`` normalised (POSIX, no ``.`` parts): store this in events.

        Raises:
            ValueError: bad path, image shape/dtype or quality, or an empty ``keep_faces``.
            StoreError: encoding or writing failed, or the image needs redacting and this store
                has no redactor.
        """
        if not 1 <= quality <= 100:
            raise ValueError(f"quality must be in 1..100, got {quality}")
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(f"expected a (H, W, 3) or (H, W) uint8 image, got shape {image.shape} dtype {image.dtype}")
        if image.size == 0:
            raise ValueError(f"cannot save an empty image of shape {image.shape}")
        path = self.checked_path(rel_path)
        if keep_faces is not None and not keep_faces.strip():
            raise ValueError("keep_faces must say why the image keeps its faces, got an empty reason")
        if keep_faces is None:
            if self.redactor is None:
                raise StoreError(f"not storing {rel_path!r}: it must be redacted and this media store has no redactor")
            image = self.redactor(image, keep_regions, camera_id)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise StoreError(f"JPEG encoding failed for {rel_path!r}")
        return self._write(path, encoded.tobytes())

    def _write(self, path: Path, data: bytes) -> str:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreError(f"cannot write media file {path}: {exc.strerror or exc}") from exc
        return path.relative_to(self.root).as_posix()

    def save_clip(
        self,
        rel_path: str,
        frames: Sequence[ClipFrame],
        *,
        kept_path: str | None = None,
        keep_faces: str | None = None,
        max_side: int = 1280,
        crf: int = 26,
        camera_id: str | None = None,
    ) -> StoredClip:
        """Redact each frame (every face and the given heads blurred) and store the clip as an
        H.264 MP4 at ``rel_path``; with ``kept_path`` and ``keep_faces`` (why: ``"face candidate
        <id>"``), also a copy whose faces centred in each frame's ``keep`` box stay clear.

        Raises:
            ValueError: bad path, no frames, or a kept copy without its reason.
            StoreError: this store has no clip redactor, or encoding or writing failed.
        """
        if not frames:
            raise ValueError(f"a clip needs at least one frame: {rel_path!r}")
        if (kept_path is None) != (keep_faces is None or not keep_faces.strip()):
            raise ValueError("a kept copy needs both its path and the reason it keeps a face")
        if self.clip_redactor is None:
            raise StoreError(f"not storing {rel_path!r}: clips must be redacted and this media store has no redactor")
        path = self.checked_path(rel_path)
        kept_abs = self.checked_path(kept_path) if kept_path is not None else None
        blurred: list[NDArray[np.uint8]] = []
        clear: list[NDArray[np.uint8]] = []
        for f in frames:
            out, kept = self.clip_redactor(f.image, f.heads, f.keep if kept_abs is not None else (), camera_id)
            blurred.append(out)
            if kept_abs is not None:
                clear.append(kept if kept is not None else out)
        times = [f.pts_s for f in frames]
        path.parent.mkdir(parents=True, exist_ok=True)
        clip = encode_mp4(blurred, times, workdir=path.parent, max_side=max_side, crf=crf)
        rel = self._write(path, clip.data)
        kept_rel = None
        if kept_abs is not None:
            kept_rel = self._write(
                kept_abs, encode_mp4(clear, times, workdir=path.parent, max_side=max_side, crf=crf).data
            )
        return StoredClip(rel, kept_rel, clip.frames, clip.width, clip.height, clip.duration_s, len(clip.data))

    def exists(self, rel_path: str) -> bool:
        """True if ``rel_path`` is a file under the root."""
        return self.checked_path(rel_path).is_file()

    def delete(self, rel_path: str) -> bool:
        """Delete ``rel_path``; False if it was not there (retention may run twice)."""
        path = self.checked_path(rel_path)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot delete media file {path}: {exc.strerror or exc}") from exc
        return True
