"""Blurring boxes: the inside changes beyond recognition, the outside stays as it was."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.core.errors import InputError
from vigil.governance.redaction import RedactionRegistry, blur_boxes, redact_jpeg


def test_blur_changes_only_the_boxes() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    out = blur_boxes(image, [(10, 20, 70, 90), (-5, -5, 0, 0), (150, 100, 400, 400)])
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[:20], image[:20]) and np.array_equal(out[:, 70:150], image[:, 70:150])
    inside, before = out[20:90, 10:70].astype(float), image[20:90, 10:70].astype(float)
    assert inside.std() < before.std() / 3  # detail is gone
    assert not np.array_equal(out[100:, 150:], image[100:, 150:])  # clipped box still blurred
    assert np.array_equal(blur_boxes(image, []), image)


def test_registry_and_fail_closed() -> None:
    registry = RedactionRegistry()
    assert registry.regions("snapshots/x.jpg") is None  # unknown: the caller blurs the whole image
    registry.register(lambda path: [(0, 0, 5, 5)] if path.startswith("crops/") else None)
    assert registry.regions("crops/a.jpg") == [(0, 0, 5, 5)]
    with pytest.raises(InputError):
        redact_jpeg(b"not an image", None)
