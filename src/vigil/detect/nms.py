"""Greedy non-maximum suppression on ``(N, 4)`` xyxy boxes, per class."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vigil.core.geometry import box_iou


def nms(xyxy: NDArray[np.float32], scores: NDArray[np.float32], iou_threshold: float) -> NDArray[np.int64]:
    """Indices of the boxes kept by greedy NMS, best score first.

    Args:
        xyxy: ``(N, 4)`` boxes.
        scores: ``(N,)`` scores.
        iou_threshold: a box is dropped when its IoU with a kept, better box is above this.

    Returns:
        ``(K,)`` int64 indices into the inputs, ``K <= N``.
    """
    if xyxy.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    # Stable sort: equal scores keep input order, so results do not depend on the sort algorithm.
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.size == 0:
            break
        ious = box_iou(xyxy[best : best + 1], xyxy[rest])[0]
        order = rest[ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    xyxy: NDArray[np.float32],
    scores: NDArray[np.float32],
    class_ids: NDArray[np.int64],
    iou_threshold: float,
) -> NDArray[np.int64]:
    """Class-wise NMS: boxes of different classes never suppress each other.

    Args:
        xyxy: ``(N, 4)`` boxes.
        scores: ``(N,)`` scores.
        class_ids: ``(N,)`` class ids (or family ids: boxes of one family then suppress each other).
        iou_threshold: as in :func:`nms`.

    Returns:
        ``(K,)`` int64 indices into the inputs, best score first.
    """
    if xyxy.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    # One pass per class present (few per frame) rather than the coordinate-offset trick,
    # which loses float32 precision on large offsets.
    kept = [
        members[nms(xyxy[members], scores[members], iou_threshold)]
        for members in (np.flatnonzero(class_ids == c) for c in np.unique(class_ids))
    ]
    merged = np.concatenate(kept)
    return merged[np.argsort(-scores[merged], kind="stable")].astype(np.int64)
