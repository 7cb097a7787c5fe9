"""COCO class names Vigil cares about, and the groups later stages use."""

from __future__ import annotations

COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

PERSON_CLASSES: frozenset[str] = frozenset({"person"})
VEHICLE_CLASSES: frozenset[str] = frozenset({"bicycle", "car", "motorcycle", "bus", "truck"})
DEFAULT_CLASSES: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
FAMILIES: tuple[frozenset[str], ...] = (frozenset({"car", "bus", "truck"}),)
"""Classes one object is often called by in turn: detectors waver between car, bus and truck for
one vehicle (a van, a car seen from above), so within a family boxes suppress each other (one box
per vehicle) and one track follows the vehicle, labelled with the class it was most often called."""


def class_id(name: str) -> int:
    """Return the COCO id of ``name``; the error lists the valid names."""
    try:
        return COCO_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown class {name!r}; expected one of: {', '.join(COCO_NAMES)}") from None


def family_id(cid: int) -> int:
    """The smallest COCO id of ``cid``'s family (:data:`FAMILIES`), or ``cid`` itself."""
    name = COCO_NAMES[cid] if 0 <= cid < len(COCO_NAMES) else None
    for family in FAMILIES:
        if name in family:
            return min(COCO_NAMES.index(n) for n in family)
    return cid
