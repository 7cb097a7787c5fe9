"""Reading user-supplied images safely: size checked from the header before decoding."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from vigil.core.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


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
        raise InputError(f"{path}: not a readable image ({type(exc).__name__})") from exc
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise InputError(
            f"{path}: image is {width}x{height} ({megapixels:.0f} MP), above the limit of {max_megapixels:g} MP"
        )
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InputError(f"{path}: not a readable image (decoding failed)")
    return np.ascontiguousarray(image, dtype=np.uint8)
