"""Greedy and class-wise NMS."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.detect.nms import batched_nms, nms


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, 4)


@pytest.mark.parametrize(
    ("xyxy", "scores", "classes", "expected"),
    [
        pytest.param(boxes(), [], [], [], id="empty"),
        pytest.param(boxes((0, 0, 10, 10)), [0.5], [0], [0], id="single"),
        pytest.param(boxes((0, 0, 10, 10), (1, 1, 11, 11)), [0.5, 0.9], [0, 0], [1], id="overlap-same-class"),
        pytest.param(boxes((0, 0, 10, 10), (1, 1, 11, 11)), [0.5, 0.9], [0, 1], [1, 0], id="overlap-other-class"),
        pytest.param(boxes((0, 0, 10, 10), (20, 20, 30, 30)), [0.5, 0.9], [0, 0], [1, 0], id="apart"),
    ],
)
def test_batched_nms(xyxy: np.ndarray, scores: list[float], classes: list[int], expected: list[int]) -> None:
    kept = batched_nms(xyxy, np.asarray(scores, np.float32), np.asarray(classes, np.int64), 0.45)
    assert kept.dtype == np.int64
    assert kept.tolist() == expected


def test_nms_threshold_is_exclusive() -> None:
    # IoU of these two is exactly 0.5: kept at threshold 0.5, dropped at 0.49.
    xyxy = boxes((0, 0, 10, 10), (0, 0, 10, 5))
    scores = np.asarray([0.9, 0.8], np.float32)
    assert nms(xyxy, scores, 0.5).tolist() == [0, 1]
    assert nms(xyxy, scores, 0.49).tolist() == [0]
