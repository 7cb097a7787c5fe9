"""Turn YOLO (v3/v4 Darknet-style) head tensors into :class:`Detections`, in numpy.

Two entry points feed the same post-processing, so Vigil's ONNX detector and the OpenCV
Darknet reference are compared box for box:

- :func:`decode_heads` decodes raw head maps ``(1, A*(5+C), h, w)`` (Vigil's ONNX graph);
- :func:`candidates_from_rows` reads OpenCV's decoded rows ``(N, 5+C)``.

Both return :class:`Candidates` (normalised centre boxes, best score, best class), which
:func:`to_detections` scales to image pixels, filters and suppresses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vigil.core.classes import family_id
from vigil.core.detections import Detections
from vigil.core.errors import ModelError
from vigil.core.geometry import clip_boxes
from vigil.detect.nms import batched_nms

FAMILY_IOU = 0.7
"""IoU above which boxes of two classes of one family are one object (car / bus / truck): the
same vehicle called two things gives two near-identical boxes (IoU 0.97 on openalpr car11), two
vehicles side by side rarely overlap this much. It costs COCO car AP50 about 3 points (0.45 or
0.7 alike; tests/golden/detection.json): COCO's AP rewards keeping both labels of one object,
a track wants one."""

YOLO_METADATA_KEY = "vigil.yolo"
"""Metadata key written by Vigil's Darknet converter (``vigil.models.darknet``)."""


@dataclass(frozen=True, slots=True)
class YoloHead:
    """Decoding parameters of one YOLO output.

    Attributes:
        output: name of the graph output.
        anchors: ``(A, 2)`` float32 anchor width, height in network-input pixels.
        scale_x_y: Darknet's grid-sensitivity factor (1.0 = none).
        num_classes: C.
    """

    output: str
    anchors: NDArray[np.float32]
    scale_x_y: float
    num_classes: int


@dataclass(frozen=True, slots=True)
class YoloSpec:
    """Everything needed to decode a converted Darknet YOLO model."""

    input_name: str
    heads: tuple[YoloHead, ...]
    class_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes that passed the confidence threshold, before NMS.

    Attributes:
        cxcywh: ``(K, 4)`` float32 centre x, centre y, width, height, normalised to ``[0, 1]``
            of the network input (= of the image, since the input is a plain resize).
        score: ``(K,)`` float32 objectness x best class probability.
        class_id: ``(K,)`` int64 best class.
    """

    cxcywh: NDArray[np.float32]
    score: NDArray[np.float32]
    class_id: NDArray[np.int64]

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), dtype=np.float32), np.zeros((0,), dtype=np.float32), np.zeros((0,), np.int64))


def parse_metadata(metadata: Mapping[str, str], source: str) -> YoloSpec:
    """Read the decoder parameters from an ONNX model's custom metadata.

    Raises:
        ModelError: the metadata is absent or malformed (not a Vigil-converted YOLO model).
    """
    raw = metadata.get(YOLO_METADATA_KEY)
    if raw is None:
        raise ModelError(f"{source} has no {YOLO_METADATA_KEY!r} metadata; is it a Vigil-converted YOLO model?")
    try:
        meta = json.loads(raw)
        heads = tuple(
            YoloHead(
                output=str(h["output"]),
                anchors=np.asarray(h["anchors"], dtype=np.float32).reshape(-1, 2),
                scale_x_y=float(h["scale_x_y"]),
                num_classes=int(h["classes"]),
            )
            for h in meta["heads"]
        )
        names = meta.get("class_names") or [str(i) for i in range(int(meta["num_classes"]))]
        return YoloSpec(input_name=str(meta["input"]), heads=heads, class_names=tuple(map(str, names)))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{source}: malformed {YOLO_METADATA_KEY!r} metadata: {exc}") from exc


def _sigmoid(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # Clipping keeps exp() finite for extreme logits; sigmoid is saturated in float32 well before ±50.
    return (1.0 / (1.0 + np.exp(-np.clip(x, -50.0, 50.0)))).astype(np.float32)


def decode_head(raw: NDArray[np.float32], head: YoloHead, input_w: int, input_h: int, confidence: float) -> Candidates:
    """Decode one raw head map.

    Args:
        raw: ``(1, A*(5+C), h, w)`` float32 conv output, before any sigmoid.
        head: its anchors and ``scale_x_y``.
        input_w: network input width in pixels (anchors are in these pixels).
        input_h: network input height.
        confidence: minimum objectness x class probability to keep.

    Returns:
        The candidates above ``confidence``.
    """
    num_anchors, stride_c = head.anchors.shape[0], 5 + head.num_classes
    grid_h, grid_w = raw.shape[2], raw.shape[3]
    maps = raw.reshape(num_anchors, stride_c, grid_h * grid_w)
    objectness = _sigmoid(maps[:, 4, :])  # (A, h*w)
    # score = objectness * p(class) <= objectness: cells below the threshold are skipped early,
    # which leaves a few dozen of the ~2,500 cells to decode.
    anchor_idx, cell_idx = np.nonzero(objectness >= confidence)
    if anchor_idx.size == 0:
        return Candidates.empty()
    picked = maps[anchor_idx, :, cell_idx]  # (K, 5+C)
    class_prob = _sigmoid(picked[:, 5:]) * objectness[anchor_idx, cell_idx][:, None]
    class_id = class_prob.argmax(axis=1)
    score = class_prob[np.arange(class_prob.shape[0]), class_id]
    keep = score >= confidence
    if not keep.any():
        return Candidates.empty()
    picked, anchor_idx, cell_idx = picked[keep], anchor_idx[keep], cell_idx[keep]
    s = head.scale_x_y
    # Darknet's grid sensitivity: x = (sigmoid(tx) * s - (s - 1) / 2 + col) / grid_w.
    offset = _sigmoid(picked[:, :2]) * s - (s - 1.0) / 2.0
    cx = (offset[:, 0] + (cell_idx % grid_w)) / grid_w
    cy = (offset[:, 1] + (cell_idx // grid_w)) / grid_h
    # Clipped like the sigmoid: a degenerate net must not make inf boxes (they are clipped to the image).
    wh = (
        np.exp(np.clip(picked[:, 2:4], -20.0, 20.0))
        * head.anchors[anchor_idx]
        / np.array([input_w, input_h], dtype=np.float32)
    )
    return Candidates(
        cxcywh=np.column_stack([cx, cy, wh]).astype(np.float32),
        score=score[keep].astype(np.float32),
        class_id=class_id[keep].astype(np.int64),
    )


def decode_heads(
    raws: Sequence[NDArray[np.float32]],
    heads: Sequence[YoloHead],
    input_w: int,
    input_h: int,
    confidence: float,
) -> Candidates:
    """Decode every head (``raws[i]`` belongs to ``heads[i]``) and concatenate the candidates."""
    parts = [decode_head(raw, head, input_w, input_h, confidence) for raw, head in zip(raws, heads, strict=True)]
    return _concat(parts)


def candidates_from_rows(rows: NDArray[np.float32], confidence: float) -> Candidates:
    """Read OpenCV Darknet ``[yolo]`` output rows.

    Args:
        rows: ``(N, 5+C)`` float32: normalised ``cx, cy, w, h``, objectness, then per-class
            scores already multiplied by objectness (OpenCV zeroes those below its own 0.2).
        confidence: minimum class score to keep.
    """
    if rows.shape[0] == 0:
        return Candidates.empty()
    scores = rows[:, 5:]
    class_id = scores.argmax(axis=1)
    best = scores[np.arange(rows.shape[0]), class_id]
    keep = best >= confidence
    return Candidates(
        cxcywh=rows[keep, :4].astype(np.float32),
        score=best[keep].astype(np.float32),
        class_id=class_id[keep].astype(np.int64),
    )


def _concat(parts: Sequence[Candidates]) -> Candidates:
    parts = [p for p in parts if p.score.size]
    if not parts:
        return Candidates.empty()
    return Candidates(
        cxcywh=np.concatenate([p.cxcywh for p in parts]),
        score=np.concatenate([p.score for p in parts]),
        class_id=np.concatenate([p.class_id for p in parts]),
    )


def to_detections(
    candidates: Candidates,
    image_w: int,
    image_h: int,
    nms_iou: float,
    class_ids: NDArray[np.int64] | None = None,
) -> Detections:
    """Scale candidates to image pixels, keep ``class_ids`` (all if None), clip, and run NMS:
    class-wise at ``nms_iou``, then across each class family (:data:`vigil.core.classes.FAMILIES`)
    at :data:`FAMILY_IOU`, so a car box and a truck box of one vehicle are one detection (the
    better-scored) while a car beside a truck is still two.

    Returns:
        Detections sorted by confidence, boxes clipped to ``[0, image_w] x [0, image_h]``.
    """
    if class_ids is not None and candidates.score.size:
        wanted = np.isin(candidates.class_id, class_ids)
        candidates = Candidates(candidates.cxcywh[wanted], candidates.score[wanted], candidates.class_id[wanted])
    if candidates.score.size == 0:
        return Detections.empty()
    scale = np.array([image_w, image_h, image_w, image_h], dtype=np.float32)
    centre, half = candidates.cxcywh[:, :2], candidates.cxcywh[:, 2:] / 2.0
    xyxy = clip_boxes(
        (np.concatenate([centre - half, centre + half], axis=1) * scale).astype(np.float32), image_w, image_h
    )
    keep = batched_nms(xyxy, candidates.score, candidates.class_id, nms_iou)
    families = np.fromiter((family_id(int(c)) for c in candidates.class_id[keep]), np.int64, keep.size)
    if np.unique(families).size < np.unique(candidates.class_id[keep]).size:  # two classes of one family
        keep = keep[batched_nms(xyxy[keep], candidates.score[keep], families, max(nms_iou, FAMILY_IOU))]
    return Detections(xyxy=xyxy[keep], confidence=candidates.score[keep], class_id=candidates.class_id[keep])
