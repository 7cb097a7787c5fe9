"""Reading one plate crop under a few cheap variants and voting: data for a 2-fold choice.

``read_crop`` (cropped plates; detector boxes) reads a crop once with v2 + v1 averaged, and asks
PP-OCR when the least sure character is below ``SECOND_OPINION``. This reads every US crop and
every labelled US scene box (10 % margin, as the plate-trained recogniser reads a found plate)
under each variant in ``VARIANTS`` (border added or trimmed, a small rotation, contrast), keeps
v2's and v1's per-slot probabilities and v2's country scores for each, and PP-OCR's read of the
crop as it is. ``--analyse`` combines them offline: for each rule (which variants, v1 or not,
the second-opinion threshold) the read as ``read_crop`` would make it; a rule is chosen on one
fold (even / odd images in label order, crops and boxes pooled: most exact) and scored on the
other. ``--scenes`` reads every US scene with the default reader and keeps the probabilities of
its chosen plate's read box under each of ``SCENE_VIEWS`` (margins, a turn, contrast);
``--analyse-scenes`` chooses the views averaged for the chosen plate the same 2-fold way (today:
``CHOSEN_VIEWS``); ``--refine`` tries cutting them around the morphological row that best overlaps the
read instead (crop refinement). ``--speed`` times a plate read each way in one process. Nothing here is used
by the product.

    .venv/bin/python bench/plates_crop_views.py [OUT]
    .venv/bin/python bench/plates_crop_views.py --analyse [OUT] [MAX_VIEWS]
    .venv/bin/python bench/plates_crop_views.py --scenes [OUT] ; --analyse-scenes [OUT] ; --refine [OUT]
    .venv/bin/python bench/plates_crop_views.py --speed [N]
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.core.frame import BGRImage
from vigil.plates.eval import load_labels, read_image
from vigil.plates.reader import CCT_MARGIN, PlateReader, _clip, _expand
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_crop_views.pkl")


def _border(img: BGRImage, f: float) -> BGRImage:
    h, w = img.shape[:2]
    py, px = max(1, round(f * h)), max(1, round(f * w))
    return np.asarray(cv2.copyMakeBorder(img, py, py, px, px, cv2.BORDER_REPLICATE), dtype=np.uint8)


def _trim(img: BGRImage, f: float) -> BGRImage:
    h, w = img.shape[:2]
    py, px = round(f * h), round(f * w)
    return img[py : h - py, px : w - px]


def _rotate(img: BGRImage, deg: float) -> BGRImage:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return np.asarray(cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def _clahe(img: BGRImage) -> BGRImage:
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(2, 4)).apply(lab[:, :, 0])
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), dtype=np.uint8)


def _stretch(img: BGRImage) -> BGRImage:
    lo, hi = np.percentile(img, (2, 98))
    if hi - lo < 8:
        return img
    return np.asarray(np.clip((img.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255), dtype=np.uint8)


VARIANTS: dict[str, Any] = {
    "base": lambda im: im,
    "border5": lambda im: _border(im, 0.05),
    "border10": lambda im: _border(im, 0.10),
    "trim4": lambda im: _trim(im, 0.04),
    "rot+3": lambda im: _rotate(im, 3.0),
    "rot-3": lambda im: _rotate(im, -3.0),
    "clahe": _clahe,
    "stretch": _stretch,
}


def _items() -> list[tuple[str, str, BGRImage]]:
    """(set, truth, crop) for every US crop and every labelled US scene box with the reader's margin."""
    out: list[tuple[str, str, BGRImage]] = []
    _, crops = load_labels(SHARED_DATA / "plates" / "crops")
    out += [("crops", c.plate, read_image(c.image)) for c in crops]
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    for s in scenes:
        image = read_image(s.image)
        assert s.box is not None
        x1, y1, x2, y2 = _clip(_expand(s.box, *CCT_MARGIN), image.shape[1], image.shape[0])
        out.append(("boxes", s.plate, image[y1:y2, x1:x2].copy()))
    return out


def collect(out: Path) -> None:
    reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = reader._cct
    assert cct is not None and cct._partner is not None
    rows: list[dict[str, Any]] = []
    items = _items()
    t0 = time.perf_counter()
    for k, (name, truth, crop) in enumerate(items):
        row: dict[str, Any] = {"set": name, "truth": truth, "views": {}}
        for vname, fn in VARIANTS.items():
            view = fn(crop)
            p2, r2 = cct.probabilities([view])
            p1, _ = cct._partner.probabilities([view])
            row["views"][vname] = (p2[0], None if r2 is None else r2[0], p1[0])
        other = reader._read_crop_ppocr(crop)
        row["ppocr"] = None if other is None else replace(other, crop=None)
        row["shape"] = crop.shape[:2]
        rows.append(row)
        if k % 50 == 0:
            print(f"{k}/{len(items)} {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {len(rows)} rows to {out}")


def _read(reader: PlateReader, row: dict[str, Any], views: tuple[str, ...], v1: bool, second: float) -> str:
    """The text ``read_crop`` would give with ``views`` averaged (v2, and v1 averaged in)."""
    cct = reader._cct
    assert cct is not None
    p2 = np.mean([row["views"][v][0] for v in views], axis=0)
    reg = row["views"][views[0]][1]
    if reg is not None:
        reg = np.mean([row["views"][v][1] for v in views], axis=0)
    slots = p2
    if v1:
        p1 = np.mean([row["views"][v][2] for v in views], axis=0)
        n = min(p2.shape[0], p1.shape[0])
        slots = p2.copy()
        slots[:n] = (p2[:n] + p1[:n]) / 2
    first = cct._decode(slots, reg)
    h, w = row["shape"]
    box = (0.0, 0.0, float(w), float(h))
    read = reader._from_cct(first, np.zeros((1, 1, 3), np.uint8), box) if first.text else None
    if read is None or first.least < second:
        other = row["ppocr"]
        if other is not None and (read is None or other.score > read.score):
            return str(other.text)
    return read.text if read else ""


def analyse(out: Path, max_views: int = 99) -> None:
    rows = pickle.loads(out.read_bytes())
    reader = build_plate_reader(PlatesConfig(), models_dir())
    names = list(VARIANTS)
    rules: list[tuple[tuple[str, ...], bool, float]] = []
    subsets: list[tuple[str, ...]] = []
    for r in (1, 2, 3):
        subsets += [c for c in itertools.combinations(names, r) if r < 3 or "base" in c]
    subsets.append(tuple(names))
    for s in [s for s in subsets if len(s) <= max_views]:
        for v1 in (True, False):
            for second in (0.6, 0.5, 0.7):
                rules.append((s, v1, second))
    # per rule: correct flags per row
    right: dict[int, np.ndarray[Any, Any]] = {}
    for k, rule in enumerate(rules):
        right[k] = np.array([_read(reader, row, *rule) == row["truth"] for row in rows])
    sets = np.array([r["set"] for r in rows])
    index = np.zeros(len(rows), int)
    for name in ("crops", "boxes"):
        m = sets == name
        index[m] = np.arange(m.sum())
    fold = index % 2
    today = rules.index((("base",), True, 0.6))

    def score(k: int, mask: np.ndarray[Any, Any]) -> int:
        return int(right[k][mask].sum())

    crops, boxes = sets == "crops", sets == "boxes"
    print(f"{len(rows)} rows; today's rule: crops {score(today, crops)}, boxes {score(today, boxes)}")
    ranked = sorted(range(len(rules)), key=lambda k: -int(right[k].sum()))
    print("top rules on the whole (for reading only, not for choosing):")
    for k in ranked[:15]:
        s, v1, second = rules[k]
        print(
            f"  {'+'.join(s):45s} v1={v1!s:5s} t={second} crops {score(k, sets == 'crops')}"
            f" boxes {score(k, sets == 'boxes')} f0 {score(k, fold == 0)} f1 {score(k, fold == 1)}"
        )
    for f in (0, 1):
        train, test = fold == f, fold != f
        best = max(range(len(rules)), key=lambda k: (score(k, train), k == today, -len(rules[k][0])))
        s, v1, second = rules[best]
        print(
            f"fold {f} chose {'+'.join(s)} v1={v1} t={second}: train {score(best, train)}"
            f" (today {score(today, train)}); held out {score(best, test)} (today {score(today, test)});"
            f" held-out crops {score(best, test & crops)} (today {score(today, test & crops)}),"
            f" boxes {score(best, test & boxes)} (today {score(today, test & boxes)})"
        )


# Scenes: the chosen plate's read box cut with a margin (per side, fractions of the box), then a
# transform; the first three are today's CHOSEN_VIEWS.
SCENE_VIEWS: dict[str, tuple[tuple[float, float], str]] = {
    "m10": ((0.1, 0.1), "base"),
    "m05": ((0.05, 0.05), "base"),
    "m15x20": ((0.15, 0.2), "base"),
    "m10 rot+3": ((0.1, 0.1), "rot+3"),
    "m10 rot-3": ((0.1, 0.1), "rot-3"),
    "m10 clahe": ((0.1, 0.1), "clahe"),
    "m20x30": ((0.2, 0.3), "base"),
    "m00": ((0.0, 0.0), "base"),
    "m25x10": ((0.25, 0.1), "base"),
}
TODAY_SCENE = ("m10", "m05", "m15x20")  # CHOSEN_VIEWS before the turned view was added (2026-12-07)


def collect_scenes(out: Path) -> None:
    """Every US scene read by the default reader; its chosen plate's views' probabilities kept."""
    reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = reader._cct
    assert cct is not None and cct._partner is not None
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for k, item in enumerate(scenes):
        image = read_image(item.image)
        read = next(iter(reader.read_scene(image)), None)
        row: dict[str, Any] = {"truth": item.plate, "text": read.text if read else "", "views": {}}
        row["image"], row["label_box"] = item.image.name, item.box
        row["read_box"] = read.read_box if read else None
        row["box"] = read.box if read else None
        if read is not None and read.read_box is not None and read.reader != "ppocr":
            ih, iw = image.shape[:2]
            for vname, (margin, how) in SCENE_VIEWS.items():
                x1, y1, x2, y2 = _clip(_expand(read.read_box, *margin), iw, ih)
                view = VARIANTS[how](image[y1:y2, x1:x2])
                p2, r2 = cct.probabilities([view])
                p1, _ = cct._partner.probabilities([view])
                row["views"][vname] = (p2[0], None if r2 is None else r2[0], p1[0])
        rows.append(row)
        if k % 20 == 0:
            print(f"{k}/{len(scenes)} {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {len(rows)} scenes to {out}")


def _scene_text(reader: PlateReader, row: dict[str, Any], views: tuple[str, ...]) -> str:
    if not row["views"]:
        return str(row["text"])
    cct = reader._cct
    assert cct is not None
    p2 = np.mean([row["views"][v][0] for v in views], axis=0)
    reg = np.mean([row["views"][v][1] for v in views], axis=0)
    p1 = np.mean([row["views"][v][2] for v in views], axis=0)
    n = min(p2.shape[0], p1.shape[0])
    slots = p2.copy()
    slots[:n] = (p2[:n] + p1[:n]) / 2
    again = cct._decode(slots, reg)
    return reader._cct_fit(again).text if again.text else str(row["text"])


def analyse_scenes(out: Path) -> None:
    rows = pickle.loads(out.read_bytes())
    reader = build_plate_reader(PlatesConfig(), models_dir())
    extra = [v for v in SCENE_VIEWS if v not in TODAY_SCENE]
    subsets: list[tuple[str, ...]] = [TODAY_SCENE, ("m10",)]
    subsets += [TODAY_SCENE + c for r in (1, 2) for c in itertools.combinations(extra, r)]
    subsets += [("m10", v) for v in extra] + [tuple(SCENE_VIEWS)]
    right = {s: np.array([_scene_text(reader, r, s) == r["truth"] for r in rows]) for s in subsets}
    fold = np.arange(len(rows)) % 2
    same = sum(_scene_text(reader, r, TODAY_SCENE) == r["text"] for r in rows)
    print(f"{len(rows)} scenes; today's rule reproduces the reader's text in {same}; exact {right[TODAY_SCENE].sum()}")
    for s in sorted(subsets, key=lambda s: -int(right[s].sum()))[:12]:
        print(f"  {' + '.join(s):55s} {right[s].sum()} ({right[s][fold == 0].sum()} + {right[s][fold == 1].sum()})")
    for f in (0, 1):
        best = max(subsets, key=lambda s: (int(right[s][fold == f].sum()), s == TODAY_SCENE, -len(s)))
        held = right[best][fold != f].sum()
        print(f"fold {f} chose {' + '.join(best)}; held out {held} (today {right[TODAY_SCENE][fold != f].sum()})")


def refine_scenes(out: Path) -> None:
    """Crop refinement before the chosen plate is read again: the morphological localiser run
    on the chosen read's neighbourhood, its row that best overlaps the read's box taken as the
    new row (when the overlap is at least ``t``), and the chosen views cut around it instead of
    (or as well as) the read box. Uses the scenes collected by ``--scenes``; 2-fold as above."""
    from vigil.plates.localise import box_iou, find_plate_candidates
    from vigil.plates.reader import CHOSEN_VIEWS, ROW_TO_PLATE, _turned

    rows = pickle.loads(out.read_bytes())
    reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = reader._cct
    assert cct is not None
    folder = SHARED_DATA / "plates" / "us"

    def views_of(image: BGRImage, box: Any) -> list[BGRImage]:
        ih, iw = image.shape[:2]
        out_views = []
        for mx, my, deg in CHOSEN_VIEWS:
            x1, y1, x2, y2 = _clip(_expand(box, mx, my), iw, ih)
            out_views.append(_turned(image[y1:y2, x1:x2], deg))
        return out_views

    def text_of(views: list[BGRImage], fallback: str) -> str:
        again = cct.read_views(views)
        return reader._cct_fit(again).text if again.text else fallback

    rules = ["today", *[f"{how} t{t}" for how in ("replace", "add") for t in (0.2, 0.4, 0.6)]]
    right: dict[str, list[bool]] = {r: [] for r in rules}
    for row in rows:
        truth = row["truth"]
        if row["read_box"] is None or not row["views"]:
            for r in rules:
                right[r].append(row["text"] == truth)
            continue
        image = read_image(folder / row["image"])
        ih, iw = image.shape[:2]
        base_views = views_of(image, row["read_box"])
        today = text_of(base_views, row["text"])
        right["today"].append(today == truth)
        ox, oy, x2, y2 = _clip(_expand(row["read_box"], 0.1, 0.3), iw, ih)
        cands = find_plate_candidates(image[oy:y2, ox:x2], 8, 8)
        best, best_iou = None, 0.0
        for c in cands:
            frame_row = (c.box[0] + ox, c.box[1] + oy, c.box[2] + ox, c.box[3] + oy)
            iou = box_iou(frame_row, row["box"])
            if iou > best_iou:
                best, best_iou = frame_row, iou
        refined = views_of(image, _expand(best, *ROW_TO_PLATE)) if best is not None else None
        for how in ("replace", "add"):
            for t in (0.2, 0.4, 0.6):
                if refined is None or best_iou < t:
                    text = today
                else:
                    text = text_of(refined if how == "replace" else base_views + refined, row["text"])
                right[f"{how} t{t}"].append(text == truth)
    fold = np.arange(len(rows)) % 2
    arr = {r: np.array(v) for r, v in right.items()}
    for r in rules:
        print(f"  {r:14s} {arr[r].sum()} ({arr[r][fold == 0].sum()} + {arr[r][fold == 1].sum()})")
    for f in (0, 1):
        best_rule = max(rules, key=lambda r: (int(arr[r][fold == f].sum()), r == "today"))
        held, today_held = arr[best_rule][fold != f].sum(), arr["today"][fold != f].sum()
        print(f"fold {f} chose {best_rule}; held out {held} (today {today_held})")


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--scenes":
        collect_scenes(Path(args[1]) if len(args) > 1 else Path("/tmp/plates_scene_views.pkl"))
    elif args and args[0] == "--analyse-scenes":
        analyse_scenes(Path(args[1]) if len(args) > 1 else Path("/tmp/plates_scene_views.pkl"))
    elif args and args[0] == "--refine":
        refine_scenes(Path(args[1]) if len(args) > 1 else Path("/tmp/plates_scene_views.pkl"))
    elif args and args[0] == "--speed":
        speed(int(args[1]) if len(args) > 1 else 376)
    elif args and args[0] == "--analyse":
        views = int(args[2]) if len(args) > 2 else 99
        analyse(Path(args[1]) if len(args) > 1 else DEFAULT_OUT, views)
    else:
        collect(Path(args[0]) if args else DEFAULT_OUT)


def speed(limit: int) -> None:
    """Per-plate time, interleaved per crop in one process: the CCT graphs (v2 + v1) on 1, 2 and 3
    views of a crop; ``read_crop`` as before (one view) and now (``CROP_BORDERS``), PP-OCR's second
    opinion included; and a scene's chosen plate read from 3 views (before) and 4 (``CHOSEN_VIEWS``)."""
    import platform
    import resource

    from vigil.plates import reader as reader_mod

    reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = reader._cct
    assert cct is not None
    items = _items()
    crops = [crop for name, _, crop in items if name == "crops"][:limit]
    boxes = [crop for name, _, crop in items if name == "boxes"][:limit]
    ways = {
        "CCT, 1 view (before)": ("base",),
        "CCT, 2 views (base + border5, now)": ("base", "border5"),
        "CCT, 3 views (base + border10 + rot+3)": ("base", "border10", "rot+3"),
    }
    times: dict[str, list[float]] = {k: [] for k in [*ways, "read_crop before", "read_crop now"]}
    for crop in crops * 2:
        for way, names in ways.items():
            t0 = time.perf_counter()
            cct.read_views([VARIANTS[n](crop) for n in names])
            times[way].append(1000 * (time.perf_counter() - t0))
        for label, borders in (("read_crop before", (0.0,)), ("read_crop now", (0.0, 0.05))):
            reader_mod.CROP_BORDERS = borders
            t0 = time.perf_counter()
            reader.read_crop(crop)
            times[label].append(1000 * (time.perf_counter() - t0))
    chosen: dict[str, list[float]] = {"chosen plate, 3 views (before)": [], "chosen plate, 4 views (now)": []}
    for box in boxes * 2:
        for label, views in zip(chosen, (3, 4), strict=True):
            t0 = time.perf_counter()
            cct.read_views([box, VARIANTS["trim4"](box), VARIANTS["border5"](box), VARIANTS["rot+3"](box)][:views])
            chosen[label].append(1000 * (time.perf_counter() - t0))
    print(f"CPU {platform.processor() or platform.machine()}; load {os.getloadavg()}")
    for table in (times, chosen):
        base = float(np.median(next(iter(table.values()))))
        for way, ts in table.items():
            med = float(np.median(ts))
            print(
                f"{way:42s} mean {np.mean(ts):6.1f}  median {med:6.1f}  p95 {np.percentile(ts, 95):6.1f} ms"
                f"  ratio (median) {med / base:.2f}  (mean) {np.mean(ts) / np.mean(next(iter(table.values()))):.2f}"
            )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
