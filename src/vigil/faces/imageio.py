"""Reading user-supplied images safely: size checked from the header before decoding."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from vigil.core.errors import InputError

IMAGE_SUFFIXES = (
    ".bmp", ".dib", ".jpg", ".jpeg", ".jpe", ".jp2", ".png", ".webp", ".avif",
    ".pbm", ".pgm", ".ppm", ".pxm", ".pnm", ".pfm", ".sr", ".ras", ".tif", ".tiff", ".hdr", ".pic",
)  # fmt: skip
"""Suffixes of the formats OpenCV 4 reads, for messages; files are judged by their content."""


def is_readable_image(path: Path) -> bool:
    """True if OpenCV has a decoder for ``path``'s content (its signature, not its suffix).

    The AT&T/ORL face database is PGM and many scientific sets are TIFF or PNM: whatever
    OpenCV reads is accepted, whatever the file is called.
    """
    try:
        return bool(cv2.haveImageReader(str(path)))
    except cv2.error:
        return False


@dataclass(frozen=True, slots=True)
class ImageFolderScan:
    """The files of a folder tree, split by whether OpenCV reads them."""

    readable: list[Path]
    unreadable: list[Path]

    def formats_found(self) -> str:
        """``.heic (3), .txt (1)``: the suffixes of the unreadable files, most common first."""
        counts = Counter(p.suffix.lower() or "(no suffix)" for p in self.unreadable)
        return ", ".join(f"{suffix} ({n})" for suffix, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def scan_images(folder: Path) -> ImageFolderScan:
    """The visible files directly in ``folder``, sorted, split into readable images and the rest."""
    readable: list[Path] = []
    unreadable: list[Path] = []
    for f in sorted(folder.iterdir()):
        if f.is_file() and not f.name.startswith("."):
            (readable if is_readable_image(f) else unreadable).append(f)
    return ImageFolderScan(readable, unreadable)


def read_image(path: Path, max_megapixels: float) -> NDArray[np.uint8]:
    """Decode ``path`` as a (H, W, 3) uint8 BGR image.

    Raises:
        InputError: missing, not an image, unreadable, or larger than ``max_megapixels``
            (checked from the header, before the pixels are decoded).
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # PIL warns (DecompressionBombWarning) before our own, clearer limit applies.
            warnings.simplefilter("ignore")
            with Image.open(path) as header:
                width, height = header.size
    except Image.DecompressionBombError as exc:
        # PIL refuses headers claiming more than ~179 MP outright: far above any sane limit.
        raise InputError(f"{path}: image dimensions are above the limit of {max_megapixels:g} MP") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        # Formats PIL does not know (Radiance HDR, PFM, …) but OpenCV decodes: the size is
        # checked after decoding (OpenCV refuses more than 2^30 pixels on its own).
        if not is_readable_image(path):
            raise InputError(f"{path}: not a readable image ({type(exc).__name__})") from exc
        width = height = 0
    _check_size(path, width, height, max_megapixels)
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # 16-bit and float formats arrive as 8-bit BGR
    if image is None or image.size == 0:
        raise InputError(f"{path}: not a readable image (decoding failed)")
    _check_size(path, image.shape[1], image.shape[0], max_megapixels)
    return np.ascontiguousarray(image, dtype=np.uint8)


def _check_size(path: Path, width: int, height: int, max_megapixels: float) -> None:
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise InputError(
            f"{path}: image is {width}x{height} ({megapixels:.0f} MP), above the limit of {max_megapixels:g} MP"
        )
