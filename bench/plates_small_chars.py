"""Small stacked or side characters left out before a plate crop is read (issue 21, twelfth round,
second part).

Eight of the 27 US crop misses are small characters stacked beside the serial (`US5555`, `R72LY`,
Wyoming's county …) that the labels, and the plate's registration, leave out but the plate-trained
recogniser reads as part of the serial. The rule here finds the characters themselves (character
blobs, as ``vigil.plates.localise.count_characters`` counts them), takes the serial as the largest
group of even-height blobs on one row, and paints the blobs under ``ratio`` x its height that sit in
the serial's band beside it with the plate's background before ``read_crop`` reads the crop; where
no such blob is found the read is today's. Grid (ratio x stacked-only), folds (even / odd index
within each set, pooled) and bar were written in the notes before any score (docs/plates.md).

    .venv/bin/python bench/plates_small_chars.py [CACHE]             # read and cache (~1 min)
    .venv/bin/python bench/plates_small_chars.py --analyse [CACHE]   # the grid, both folds
    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_small_chars.py --speed RATIO,STACKED [N]
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchlib import models_dir
from plates_crop_gate import labelled_plates
from vigil.config.plates import PlatesConfig
from vigil.workers.plates_stage import build_plate_reader

RATIOS = (0.5, 0.6, 0.7)
STACKED = (True, False)
GRID = [(r, s) for r in RATIOS for s in STACKED]

Blob = tuple[int, int, int, int]  # x, y, w, h


def _blobs(mask: Any, img_h: int) -> list[Blob]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i, :5])
        if 0.08 * img_h <= h <= 0.98 * img_h and w <= 1.2 * h and area >= 0.05 * w * h:
            out.append((x, y, w, h))
    return out


MAIN = "tallest"
"""The serial's group: the tallest even-height one-row group of at least :data:`MIN_MAIN` blobs.
``--largest`` is round 1's: the largest group, which on most plates is the state name's small
letters, not the serial."""

MIN_MAIN = 3


def _main_group(blobs: list[Blob], main: str = MAIN) -> list[Blob]:
    best: list[Blob] = []
    for _, yb, _, hb in blobs:
        cy = yb + hb / 2
        group = [b for b in blobs if abs(b[3] - hb) <= 0.2 * hb and abs(b[1] + b[3] / 2 - cy) <= 0.3 * hb]
        if main == "largest":
            if len(group) > len(best) or (len(group) == len(best) and best and hb > max(b[3] for b in best)):
                best = group
        elif len(group) >= MIN_MAIN and (
            not best or np.median([b[3] for b in group]) > np.median([b[3] for b in best])
        ):
            best = group
    return best


def small_characters(plate: Any, ratio: float, stacked_only: bool, main: str = MAIN) -> list[Blob]:
    """Boxes (pixels of ``plate``) of small characters beside a plate's serial, [] where none."""
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY) if plate.ndim == 3 else plate
    h0 = grey.shape[0]
    if h0 < 8 or grey.shape[1] < 16:
        return []
    scale = 1.0
    if h0 < 60:
        scale = 60.0 / h0
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    best: tuple[list[Blob], list[Blob]] = ([], [])
    for mask in (binary, 255 - binary):
        blobs = _blobs(mask, grey.shape[0])
        group = _main_group(blobs, main)
        if len(group) > len(best[0]):
            best = (group, blobs)
    serial, blobs = best
    if len(serial) < (4 if main == "largest" else MIN_MAIN):
        return []
    tall = float(np.median([b[3] for b in serial]))
    top = float(np.median([b[1] for b in serial]))
    bottom = float(np.median([b[1] + b[3] for b in serial]))
    left = min(b[0] for b in serial) - 1.5 * tall
    right = max(b[0] + b[2] for b in serial) + 1.5 * tall
    small = []
    for b in blobs:
        x, y, w, h = b
        if not 0.25 * tall <= h < ratio * tall or not top <= y + h / 2 <= bottom or not left <= x + w / 2 <= right:
            continue
        if any(min(x + w, m[0] + m[2]) - max(x, m[0]) > 0.3 * min(w, m[2]) for m in serial):
            continue  # a piece of a serial character (split by a bolt, a shadow)
        small.append(b)

    def stacked(a: Blob, b: Blob) -> bool:
        overlap = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        apart = a[1] + a[3] <= b[1] + 0.1 * b[3] or b[1] + b[3] <= a[1] + 0.1 * a[3]
        return overlap >= 0.5 * min(a[2], b[2]) and apart

    if stacked_only:
        small = [a for a in small if any(stacked(a, b) for b in small if b is not a)]
    elif len(small) < 2:
        small = []
    return [
        (int(x / scale), int(y / scale), int(np.ceil(w / scale)) + 1, int(np.ceil(h / scale)) + 1)
        for x, y, w, h in small
    ]


def paint_out(plate: Any, boxes: list[Blob]) -> Any:
    """``plate`` with ``boxes`` (grown by 2 px) painted with the plate's background (the median
    colour of the crop's lighter or darker half, whichever is the larger)."""
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    back = binary > 0 if (binary > 0).mean() >= 0.5 else binary == 0
    colour = np.median(plate[back], axis=0).astype(np.uint8)
    out = plate.copy()
    ih, iw = plate.shape[:2]
    for x, y, w, h in boxes:
        out[max(0, y - 2) : min(ih, y + h + 2), max(0, x - 2) : min(iw, x + w + 2)] = colour
    return out


def _text(read: Any) -> str:
    return "" if read is None else str(read.text)


def collect(path: Path, main: str) -> None:
    reader = build_plate_reader(PlatesConfig(text_detector_runtime="onnxruntime"), models_dir())
    rows = []
    for name, i, label, plate in labelled_plates():
        row: dict[str, Any] = {"set": name, "i": i, "label": label, "today": _text(reader.read_crop(plate))}
        seen: dict[tuple[Blob, ...], str] = {}
        for r, s in GRID:
            boxes = tuple(small_characters(plate, r, s, main))
            if not boxes:
                row[f"{r}/{s}"] = row["today"]
                continue
            if boxes not in seen:
                seen[boxes] = _text(reader.read_crop(paint_out(plate, list(boxes))))
            row[f"{r}/{s}"] = seen[boxes]
            row[f"{r}/{s}/n"] = len(boxes)
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rows))
    print(f"{len(rows)} plates read in {path}", file=sys.stderr)


def analyse(path: Path) -> None:
    rows = pickle.loads(path.read_bytes())
    keys = ["today"] + [f"{r}/{s}" for r, s in GRID]

    def exact(part: list[dict[str, Any]], key: str) -> int:
        return sum(r[key] == r["label"] for r in part)

    out: dict[str, Any] = {"n": len(rows)}
    folds = [[r for r in rows if r["i"] % 2 == k] for k in (0, 1)]
    for k in (0, 1):
        train, held = folds[k], folds[1 - k]
        ranked = sorted(keys, key=lambda key: (-exact(train, key), key != "today", key))
        chosen = ranked[0]
        out[f"fold{k}"] = {
            "train": {key: exact(train, key) for key in keys},
            "held_out": {key: exact(held, key) for key in keys},
            "chosen": chosen,
            "held_out_chosen": exact(held, chosen),
            "held_out_today": exact(held, "today"),
        }
    for name in ("crops", "boxes"):
        part = [r for r in rows if r["set"] == name]
        out[name] = {key: exact(part, key) for key in keys}
    changed = {}
    for key in keys[1:]:
        changed[key] = [(r["set"], r["i"], r["label"], r["today"], r[key]) for r in rows if r[key] != r["today"]]
    out["changed"] = changed
    print(json.dumps(out, indent=1))


def speed(setting: str, n: int) -> None:
    """``read_crop`` today and with the rule (find, paint where found, read), interleaved per plate."""
    r, s = setting.split(",")
    ratio, stacked_only = float(r), s.lower() in ("1", "true", "yes")
    reader = build_plate_reader(PlatesConfig(text_detector_runtime="onnxruntime"), models_dir())
    plates = [p for _, _, _, p in labelled_plates()][:n]
    reader.read_crop(plates[0])
    times: dict[str, list[float]] = {"today": [], "rule": []}
    load = os.getloadavg()[0]
    for k, plate in enumerate(plates):
        order = ("today", "rule") if k % 2 == 0 else ("rule", "today")
        for way in order:
            time.sleep(0.01)
            t = time.perf_counter()
            if way == "rule":
                boxes = small_characters(plate, ratio, stacked_only)
                reader.read_crop(paint_out(plate, boxes) if boxes else plate)
            else:
                reader.read_crop(plate)
            times[way].append(1000 * (time.perf_counter() - t))
    out: dict[str, Any] = {"n": len(plates), "load_before_after": [load, os.getloadavg()[0]]}
    for way, ts in times.items():
        out[way] = {"mean": round(float(np.mean(ts)), 2), "median": round(float(np.median(ts)), 2)}
    out["ratio_mean"] = round(out["rule"]["mean"] / out["today"]["mean"], 3)
    out["ratio_median"] = round(out["rule"]["median"] / out["today"]["median"], 3)
    print(json.dumps(out, indent=1))


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--speed" in sys.argv:
        speed(args[0], int(args[1]) if len(args) > 1 else 598)
        return 0
    path = Path(args[0]) if args else Path("/work/cache/plates-small-chars/reads.pkl")
    if "--analyse" in sys.argv:
        analyse(path)
    else:
        collect(path, "largest" if "--largest" in sys.argv else MAIN)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
