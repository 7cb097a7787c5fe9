"""Uploaded files (API and web UI alike): saved under safe names, within the upload limit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fastapi import UploadFile

from vigil.core.errors import UploadTooLargeError

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def shown_name(upload: UploadFile, index: int) -> str:
    """The upload's own file name made safe to show and to write (``image-N`` when it has none)."""
    shown = _SAFE_NAME.sub("_", (upload.filename or "").rsplit("/", 1)[-1]).lstrip(".")[:80]
    return shown or f"image-{index + 1}"


def save_uploads(uploads: Sequence[UploadFile], limit_bytes: int, workdir: Path) -> list[tuple[str, Path]]:
    """Write each upload to its own folder under ``workdir``: ``(shown name, path)`` each.

    Raises:
        UploadTooLargeError: an upload is larger than ``limit_bytes`` (nothing more is read).
    """
    saved: list[tuple[str, Path]] = []
    for i, upload in enumerate(uploads):
        shown = shown_name(upload, i)
        data = upload.file.read(limit_bytes + 1)
        if len(data) > limit_bytes:
            raise UploadTooLargeError(f"{shown}: images are limited to {limit_bytes} bytes")
        folder = workdir / str(i)
        folder.mkdir()
        (folder / shown).write_bytes(data)
        saved.append((shown, folder / shown))
    return saved
