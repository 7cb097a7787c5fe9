"""The media store of a scale-out role: local files staged, JetStream's Object Store the record.

A worker (or an API replica enrolling a reference image) writes a media file as the embedded
mode does (redacted, atomically, under its media root), then uploads it to the ``VIGIL_MEDIA``
bucket and removes its local copy: the bucket is what every replica reads, and where
retention and legal holds apply (``delete`` removes the object; nothing else keeps a copy
but the short-lived read caches below).

Reading (``path_for``): a file still staged locally is served from there; otherwise the
object is fetched into ``<data dir>/media-cache``. A cached copy is served only after the
bucket confirmed the object still exists, so a replica never serves a file retention deleted
through another replica. If NATS cannot be reached, nothing is served from the cache (the
caller sees a missing file) and the reason is logged.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vigil.bus.base import BusError
from vigil.bus.objects import LazyMediaBucket, MediaBucket, Uploader
from vigil.core.errors import StoreError
from vigil.store.media import Box, ClipFrame, FrameRedactor, ImageRedactor, MediaStore, StoredClip

log = logging.getLogger(__name__)


class SharedMediaStore(MediaStore):
    """A :class:`MediaStore` whose files live in the ``VIGIL_MEDIA`` bucket (see the module doc).

    Args:
        bucket: the bucket (a worker's :class:`MediaBucket`) or a lazily connecting one (API).
        uploader: uploads in the background (a worker); None: upload at once (API, CLI).
    """

    def __init__(
        self,
        root: Path,
        cache_root: Path,
        bucket: MediaBucket | LazyMediaBucket,
        *,
        redactor: ImageRedactor | None = None,
        uploader: Uploader | None = None,
        clip_redactor: FrameRedactor | None = None,
    ) -> None:
        super().__init__(root, redactor, clip_redactor=clip_redactor)
        self._cache = MediaStore(cache_root)
        self._bucket = bucket
        self._uploader = uploader

    def close(self) -> None:
        """Close the connection this store opened itself (an API's lazy bucket); a worker's
        bucket runs on the worker's own connection, which the worker closes."""
        if isinstance(self._bucket, LazyMediaBucket):
            self._bucket.close()

    def _b(self) -> MediaBucket:
        return self._bucket.bucket() if isinstance(self._bucket, LazyMediaBucket) else self._bucket

    def unstage(self, rel_path: str) -> None:
        """Remove the local copy of an uploaded file (the uploader calls this)."""
        self.checked_path(rel_path).unlink(missing_ok=True)

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
        rel = super().save_jpeg(
            rel_path, image, quality, keep_faces=keep_faces, keep_regions=keep_regions, camera_id=camera_id
        )
        self._share(rel)
        return rel

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
        clip = super().save_clip(
            rel_path,
            frames,
            kept_path=kept_path,
            keep_faces=keep_faces,
            max_side=max_side,
            crf=crf,
            camera_id=camera_id,
        )
        for rel in (clip.path, clip.kept_path):
            if rel is not None:
                self._share(rel)
        return clip

    def _share(self, rel: str) -> None:
        if self._uploader is not None:
            self._uploader.submit(rel)
            return
        try:
            self._b().put(rel, self.checked_path(rel).read_bytes())
        except (BusError, OSError, TimeoutError) as exc:
            # Kept locally (served by this process) rather than lost; said loudly.
            log.error("media %s: not stored in the shared bucket (%s); only this machine has it", rel, exc)
            return
        self.unstage(rel)

    def path_for(self, rel_path: str) -> Path:
        local = self.checked_path(rel_path)
        if local.is_file():
            return local  # staged here, not uploaded yet
        cached = self._cache.checked_path(rel_path)
        try:
            bucket = self._b()
            if cached.is_file():
                if bucket.exists(rel_path):
                    return cached
                cached.unlink(missing_ok=True)  # deleted through another replica
                return local
            data = bucket.get(rel_path)
        except (BusError, TimeoutError) as exc:
            log.warning("media %s: not served: %s", rel_path, exc)
            return local  # missing: the caller answers "not found"
        if data is None:
            return local
        _write_atomically(cached, data)
        return cached

    def exists(self, rel_path: str) -> bool:
        if self.checked_path(rel_path).is_file():
            return True
        try:
            return self._b().exists(rel_path)
        except (BusError, TimeoutError):
            return False

    def delete(self, rel_path: str) -> bool:
        """Delete the object, the staged copy and the cached copy; False if none was there.

        Raises:
            StoreError: the bucket cannot be reached (retention must not count it as done).
        """
        local = super().delete(rel_path)
        cached = self._cache.delete(rel_path)
        try:
            remote = self._b().delete(rel_path)
        except (BusError, TimeoutError) as exc:
            raise StoreError(f"media {rel_path}: not deleted from the shared bucket: {exc}") from exc
        return local or cached or remote


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shared_media(
    root: Path,
    cache_root: Path,
    bucket: MediaBucket,
    redactor: ImageRedactor | None,
    *,
    clip_redactor: FrameRedactor | None = None,
) -> tuple[SharedMediaStore, Uploader]:
    """A worker's media store: background uploads that unstage each file once stored; what a
    previous run left staged is queued first."""
    uploader = Uploader(bucket, root)
    media = SharedMediaStore(
        root, cache_root, bucket, redactor=redactor, uploader=uploader, clip_redactor=clip_redactor
    )
    uploader.on_stored = media.unstage  # before the first submit: nothing is queued yet
    # Files a previous run staged and did not upload (killed with its queue in memory): the
    # staging area holds nothing else, since every stored file is removed from it.
    staged = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    for rel in staged:
        uploader.submit(rel)
    if staged:
        log.warning("media: %d files staged by a previous run queued for upload", len(staged))
    return media, uploader
