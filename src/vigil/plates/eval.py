"""Scoring the plate reader on a labelled folder (two layouts).

* scenes (the openalpr benchmark layout): ``IMAGE`` with ``IMAGE-stem.txt`` holding
  ``image<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE``; scored on found-rate (IoU > 0.4), exact, CER.
* crops: ``groundtruth.csv`` with rows ``file,region,plate`` (no header) beside the images.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from vigil.core.errors import InputError
from vigil.core.frame import BGRImage
from vigil.plates.localise import box_iou
from vigil.plates.reader import PlateReader
from vigil.plates.text import PLATE_ALPHABET, char_error_rate, levenshtein

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
FOUND_IOU = 0.4

Layout = Literal["scenes", "crops"]


@dataclass(frozen=True, slots=True)
class LabelledPlate:
    image: Path
    plate: str
    box: tuple[float, float, float, float] | None = None
    region: str | None = None


@dataclass(slots=True)
class EvalReport:
    layout: Layout
    n: int = 0
    exact: float = 0.0
    cer: float = 0.0
    found_rate: float | None = None
    ms_per_image: float = 0.0
    ocr_calls_per_image: float = 0.0
    misses: list[dict[str, str]] = field(default_factory=list)
    by_region: dict[str, list[int]] = field(default_factory=dict)
    """Labelled region (where the labels give one) → [n, exact]."""
    by_country: dict[str, list[int]] = field(default_factory=dict)
    """Plate country the reader's region head gave (``none`` without one) → [n, exact]."""
    miss_categories: dict[str, int] = field(default_factory=dict)
    """Misses by :func:`miss_category`."""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "layout": self.layout,
            "n": self.n,
            "exact": round(self.exact, 4),
            "cer": round(self.cer, 4),
            "ms_per_image": round(self.ms_per_image, 1),
            "ocr_calls_per_image": round(self.ocr_calls_per_image, 2),
        }
        if self.found_rate is not None:
            out["found_rate"] = round(self.found_rate, 4)
        if self.by_region:
            out["by_region"] = {k: {"n": n, "exact": round(e / n, 4)} for k, (n, e) in sorted(self.by_region.items())}
        if self.miss_categories:
            out["misses_by_category"] = dict(sorted(self.miss_categories.items(), key=lambda kv: -kv[1]))
        if self.by_country:
            out["by_country"] = {k: {"n": n, "exact": round(e / n, 4)} for k, (n, e) in sorted(self.by_country.items())}
        return out


MissCategory = Literal[
    "no read",
    "not found",
    "read elsewhere",
    "extra characters",
    "missing characters",
    "one character",
    "several characters",
]


def miss_category(truth: str, read: str, found: bool | None) -> MissCategory:
    """Why a read missed, as far as the label tells: where it looked, then what it read.

    ``found`` is None for crops (no box to compare). ``read elsewhere``: the chosen box is not the
    labelled plate (another text won); ``extra``/``missing characters``: the right characters with
    more (stacked small characters, a frame's text) or fewer; otherwise how many positions differ.
    """
    if not read:
        return "no read"
    if found is False:
        return "read elsewhere" if levenshtein(read, truth) > len(truth) // 2 else "not found"
    if len(read) > len(truth):
        return "extra characters"
    if len(read) < len(truth):
        return "missing characters"
    wrong = sum(a != b for a, b in zip(read, truth, strict=True))
    return "one character" if wrong == 1 else "several characters"


def _check_plate(plate: str, where: str) -> str:
    plate = plate.strip().upper()
    if not plate or any(c not in PLATE_ALPHABET for c in plate):
        raise InputError(f"{where}: plate {plate!r} has illegal characters; expected A–Z and 0–9 only")
    return plate


def load_labels(folder: Path) -> tuple[Layout, list[LabelledPlate]]:
    """The labelled plates of ``folder`` and its layout.

    Raises:
        InputError: not a folder, no labels, or a label file with wrong columns.
    """
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    gt = folder / "groundtruth.csv"
    if gt.exists():
        items: list[LabelledPlate] = []
        with gt.open(newline="", encoding="utf-8") as fh:
            for number, row in enumerate(csv.reader(fh), start=1):
                if not any(c.strip() for c in row):
                    continue
                if len(row) != 3:
                    raise InputError(f"{gt} row {number}: {len(row)} columns; expected file,region,plate")
                plate = _check_plate(row[2], f"{gt} row {number}")
                items.append(LabelledPlate(folder / row[0].strip(), plate, region=row[1].strip().lower() or None))
        if not items:
            raise InputError(f"{gt} has no rows; expected file,region,plate")
        return "crops", items
    items = []
    for label in sorted(folder.glob("*.txt")):
        fields = label.read_text(encoding="utf-8", errors="replace").strip().split("\t")
        if len(fields) != 6:
            raise InputError(f"{label}: {len(fields)} tab-separated columns; expected image, x, y, w, h, plate")
        try:
            x, y, w, h = (float(v) for v in fields[1:5])
        except ValueError as exc:
            raise InputError(f"{label}: x, y, w, h must be numbers, got {fields[1:5]}") from exc
        image = next((label.with_suffix(s) for s in IMAGE_SUFFIXES if label.with_suffix(s).exists()), None)
        if image is None:
            image = folder / fields[0]
        items.append(LabelledPlate(image, _check_plate(fields[5], str(label)), (x, y, x + w, y + h)))
    if not items:
        raise InputError(
            f"{folder} holds no labelled plates; expected groundtruth.csv (crops) or IMAGE + IMAGE-stem.txt (scenes)"
        )
    return "scenes", items


def read_image(path: Path) -> BGRImage:
    """Raises InputError when the file is missing or not an image."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read image {path} (missing, or not an image)")
    return np.asarray(image, dtype=np.uint8)


def check_folder(folder: Path, limit: int | None = None) -> None:
    """Check a labelled folder before any model is loaded: its labels parse and every image it
    names is a file OpenCV can decode (by its signature, without decoding it), so bad input is
    named before a missing model or an hour of reading.

    Raises:
        InputError: the first problem, in one line.
    """
    _, items = load_labels(folder)
    for item in items[:limit] if limit is not None else items:
        if not item.image.is_file() or not cv2.haveImageReader(str(item.image)):
            raise InputError(f"cannot read image {item.image} (missing, or not an image)")


def evaluate(
    folder: Path, reader: PlateReader, progress: Callable[[int, int], None] | None = None, limit: int | None = None
) -> EvalReport:
    """Read every labelled plate of ``folder`` and score the reads."""
    layout, items = load_labels(folder)
    if limit is not None:
        items = items[:limit]
    report = EvalReport(layout=layout, n=len(items))
    exact = found = 0
    cer = 0.0
    elapsed = 0.0
    calls0 = reader.ocr_calls
    for i, item in enumerate(items):
        image = read_image(item.image)
        t0 = time.perf_counter()
        hit: bool | None = None
        if layout == "crops":
            read = reader.read_crop(image)
        else:
            reads = reader.read_scene(image)
            read = reads[0] if reads else None
            hit = read is not None and item.box is not None and box_iou(read.box, item.box) > FOUND_IOU
            found += hit
        text = read.text if read else ""
        elapsed += time.perf_counter() - t0
        exact += text == item.plate
        for table, key in ((report.by_region, item.region), (report.by_country, read.country if read else None)):
            if key is None and table is report.by_region:
                continue
            row = table.setdefault(key or "none", [0, 0])
            row[0] += 1
            row[1] += text == item.plate
        cer += char_error_rate(text, item.plate)
        if text != item.plate:
            category = miss_category(item.plate, text, hit)
            report.miss_categories[category] = report.miss_categories.get(category, 0) + 1
            report.misses.append({"image": item.image.name, "truth": item.plate, "read": text, "category": category})
        if progress is not None:
            progress(i + 1, len(items))
    n = max(1, len(items))
    report.exact = exact / n
    report.cer = cer / n
    report.ms_per_image = 1000.0 * elapsed / n
    report.ocr_calls_per_image = (reader.ocr_calls - calls0) / n
    if layout == "scenes":
        report.found_rate = found / n
    return report
