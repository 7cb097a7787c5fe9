"""COCO-style average precision of a detector on a folder of YOLO-labelled images.

How it scores (as ``../shared/data/detection/coco128/README.md`` asks): per class and IoU
threshold (0.50, 0.55, … 0.95), every detection of that class over all images, best score first,
is matched greedily to the still unmatched ground-truth box of its class in its image with which
it has the highest IoU, if that IoU reaches the threshold; precision is made non-increasing from
the right and read at 101 recall points (0, 0.01, … 1), 0 past the last recall reached. No area
ranges, no crowd regions (the labels have none). AP50 is the 0.50 threshold, AP50-95 the mean
over the ten; a class set's figure is the mean over its classes. At most 100 detections an image
(COCO's ``maxDets``), the best-scoring ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vigil.core.detections import Detections
from vigil.core.geometry import box_iou

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image's ground truth: ``(N, 4)`` xyxy pixel boxes and their ``(N,)`` COCO class ids."""

    path: Path
    xyxy: NDArray[np.float32]
    class_id: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ClassAP:
    """AP of one class: ground-truth objects, AP50 and AP50-95 in percent."""

    gt: int
    ap50: float
    ap50_95: float


def read_yolo_labels(label_file: Path, width: int, height: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """``class cx cy w h`` lines, normalised to the image → xyxy pixel boxes and class ids.

    Raises:
        ValueError: a line that is not five numbers (the file and line are named).
    """
    boxes: list[list[float]] = []
    classes: list[int] = []
    text = label_file.read_text(encoding="utf-8") if label_file.is_file() else ""
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise ValueError(f"{label_file}:{number}: expected 'class cx cy w h', got {line!r}")
        cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:])
        boxes.append([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
        classes.append(cls)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(classes, dtype=np.int64)


def average_precision(
    detections: Sequence[Detections], truth: Sequence[LabelledImage], class_ids: Iterable[int]
) -> dict[int, ClassAP]:
    """AP50 and AP50-95 per class; ``detections[i]`` belongs to ``truth[i]``."""
    if len(detections) != len(truth):
        raise ValueError(f"{len(detections)} detection sets for {len(truth)} images")
    kept = [_best(d) for d in detections]
    return {c: _class_ap(kept, truth, c) for c in class_ids}


def mean_ap(per_class: Mapping[int, ClassAP], class_ids: Iterable[int]) -> tuple[float, float]:
    """The mean AP50 and AP50-95 over ``class_ids``."""
    chosen = [per_class[c] for c in class_ids]
    return float(np.mean([a.ap50 for a in chosen])), float(np.mean([a.ap50_95 for a in chosen]))


def _best(found: Detections) -> Detections:
    if len(found) <= MAX_DETECTIONS:
        return found
    top = np.argsort(-found.confidence, kind="stable")[:MAX_DETECTIONS]
    return Detections(xyxy=found.xyxy[top], confidence=found.confidence[top], class_id=found.class_id[top])


def _class_ap(detections: Sequence[Detections], truth: Sequence[LabelledImage], cls: int) -> ClassAP:
    gts = [t.xyxy[t.class_id == cls] for t in truth]
    total = sum(g.shape[0] for g in gts)
    scores: list[float] = []
    owners: list[int] = []
    boxes: list[NDArray[np.float32]] = []
    for index, found in enumerate(detections):
        mine = found.class_id == cls
        scores += found.confidence[mine].tolist()
        owners += [index] * int(mine.sum())
        boxes.append(found.xyxy[mine])
    if total == 0:
        return ClassAP(0, float("nan"), float("nan"))
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    flat = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
    ious = [box_iou(flat[np.asarray(owners) == i], gts[i]) if gts[i].shape[0] else None for i in range(len(gts))]
    # Position of each detection inside its image's block of ``flat`` (owners are in image order).
    first = {i: owners.index(i) for i in set(owners)}
    aps: list[float] = []
    for threshold in IOU_THRESHOLDS:
        taken = [np.zeros(g.shape[0], dtype=bool) for g in gts]
        hits = np.zeros(order.size, dtype=bool)
        for rank, det in enumerate(order):
            image = owners[det]
            table = ious[image]
            if table is None:
                continue
            row = table[det - first[image]].copy()
            row[taken[image]] = -1.0
            best = int(row.argmax())
            if row[best] >= threshold:
                taken[image][best] = True
                hits[rank] = True
        aps.append(_ap_from_hits(hits, total))
    return ClassAP(total, 100.0 * aps[0], 100.0 * float(np.mean(aps)))


def _ap_from_hits(hits: NDArray[np.bool_], total: int) -> float:
    if hits.size == 0:
        return 0.0
    tp = np.cumsum(hits)
    recall = tp / total
    precision = tp / np.arange(1, hits.size + 1)
    # Non-increasing from the right: the best precision at this recall or beyond.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(at < precision.size, precision[np.minimum(at, precision.size - 1)], 0.0)
    return float(sampled.mean())


def load_labelled_folder(root: Path, read_size: Callable[[Path], tuple[int, int]]) -> list[LabelledImage]:
    """Every ``images/*.jpg`` under ``root`` with its ``labels/*.txt``, in name order.

    Args:
        root: a folder with ``images/`` and ``labels/`` (YOLO format).
        read_size: ``path → (width, height)`` of an image.
    """
    out: list[LabelledImage] = []
    for image in sorted((root / "images").glob("*.jpg")):
        width, height = read_size(image)
        xyxy, classes = read_yolo_labels(root / "labels" / f"{image.stem}.txt", width, height)
        out.append(LabelledImage(image, xyxy, classes))
    return out


VIGIL_CLASSES = (0, 1, 2, 3, 5, 7)
"""COCO ids of the six classes Vigil tracks by default: person, bicycle, car, motorcycle, bus, truck."""


def score_detector(
    detect: Callable[[NDArray[np.uint8]], Detections],
    images: Sequence[LabelledImage],
    read_image: Callable[[Path], NDArray[np.uint8]],
    class_ids: Sequence[int] = VIGIL_CLASSES,
) -> dict[str, object]:
    """Run ``detect`` on every image and score it.

    Returns:
        ``{"AP50", "AP50_95"}`` over ``class_ids`` and ``"classes"``: per class name-less id
        ``{"gt", "AP50", "AP50_95"}``, every figure in percent rounded to 0.1.
    """
    found = [detect(read_image(image.path)) for image in images]
    per_class = average_precision(found, images, class_ids)
    ap50, ap50_95 = mean_ap(per_class, class_ids)
    return {
        "AP50": round(ap50, 1),
        "AP50_95": round(ap50_95, 1),
        "classes": {
            str(c): {"gt": a.gt, "AP50": round(a.ap50, 1), "AP50_95": round(a.ap50_95, 1)} for c, a in per_class.items()
        },
    }
