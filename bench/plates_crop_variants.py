"""Reading the chosen plate of a scene again from a few crops around it: data for a 2-fold choice.

Most scenes the default reader misses are plates it found whose crop reads wrong while the
labelled box (10 % margin) reads right (``bench/plates_scene_det_side.py --analyse``). The
plate-trained recogniser costs a few ms a crop, so the chosen plate can be read again from
crops a little wider, taller or shifted, and the per-slot probabilities averaged. This reads
every US scene once with the default reader, remembers the plate box the recogniser read for
its best read, reads that box again with each crop variant in ``VARIANTS`` (v2 and v1), and
records, for each way of combining them in ``RULES``, the fitted text. ``--analyse`` chooses a
rule on one fold (even / odd scenes in label order: most exact) and scores it on the other.
The rule "today (v2, base crop)" is the reader before ``CHOSEN_VIEWS`` (2026-12-06): the rules
are computed from the plate box, so the comparison holds on a reader that already re-reads.

    .venv/bin/python bench/plates_crop_variants.py [N] [OUT]
    .venv/bin/python bench/plates_crop_variants.py --analyse [OUT]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates import reader as reader_mod
from vigil.plates.cct import CctRecogniser
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.reader import CCT_MARGIN, Box, PlateReader, _clip, _expand
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_crop_variants.json")

# (margin x, margin y, shift x, shift y), fractions of the plate box; the first is today's crop.
VARIANTS: list[tuple[float, float, float, float]] = [
    (CCT_MARGIN[0], CCT_MARGIN[1], 0.0, 0.0),
    (0.05, 0.05, 0.0, 0.0),
    (0.15, 0.2, 0.0, 0.0),
    (0.1, 0.25, 0.0, 0.0),
    (0.1, 0.1, 0.0, -0.08),
    (0.1, 0.1, 0.0, 0.08),
    (0.1, 0.1, -0.03, 0.0),
    (0.1, 0.1, 0.03, 0.0),
]

RULES: dict[str, tuple[list[int], bool]] = {
    "today (v2, base crop)": ([0], False),
    "v2 + v1, base crop": ([0], True),
    "v2, 3 sizes": ([0, 1, 2], False),
    "v2 + v1, 3 sizes": ([0, 1, 2], True),
    "v2, sizes + vertical shifts": ([0, 1, 2, 3, 4, 5], False),
    "v2 + v1, sizes + vertical shifts": ([0, 1, 2, 3, 4, 5], True),
    "v2, all 8": (list(range(8)), False),
    "v2 + v1, all 8": (list(range(8)), True),
}

PLATE_BOX: dict[tuple[float, ...], Box] = {}


def _remember_boxes() -> None:
    """Remember, for each read the recogniser makes in a scene, the plate box it read."""
    inner = PlateReader._cct_boxes

    def wrapper(self: PlateReader, image: Any, boxes: list[tuple[Box, Box, float]]) -> Any:
        for plate, shown, _ in boxes:
            PLATE_BOX[tuple(shown)] = plate
        return inner(self, image, boxes)

    PlateReader._cct_boxes = wrapper  # type: ignore[method-assign]


def _crop(image: Any, plate: Box, v: tuple[float, float, float, float]) -> Any:
    ih, iw = image.shape[:2]
    w, h = plate[2] - plate[0], plate[3] - plate[1]
    moved = (plate[0] + v[2] * w, plate[1] + v[3] * h, plate[2] + v[2] * w, plate[3] + v[3] * h)
    x1, y1, x2, y2 = _clip(_expand(moved, v[0], v[1]), iw, ih)
    return image[y1:y2, x1:x2]


def collect(n: int | None, out: Path) -> None:
    _remember_boxes()
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    plate_reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = plate_reader._cct
    assert isinstance(cct, CctRecogniser) and cct._partner is not None
    records = []
    for i, item in enumerate(items):
        PLATE_BOX.clear()
        image = read_image(item.image)
        assert item.box is not None
        read = next(iter(plate_reader.read_scene(image)), None)
        rec: dict[str, Any] = {"image": item.image.name, "truth": item.plate, "text": read.text if read else ""}
        rec["exact"] = bool(read and read.text == item.plate)
        rec["found"] = bool(read and box_iou(read.box, item.box) > FOUND_IOU)
        plate = PLATE_BOX.get(tuple(read.box)) if read else None
        rec["reader"] = read.reader if read else ""
        rec["closer"] = bool(read and read.closer)
        if read is not None and plate is not None:
            crops = [_crop(image, plate, v) for v in VARIANTS]
            t0 = time.perf_counter()
            p2, regions = cct.probabilities(crops)
            p1, _ = cct._partner.probabilities(crops)
            rec["variants_ms"] = round(1000 * (time.perf_counter() - t0), 1)
            k = min(p2.shape[1], p1.shape[1])
            rules: dict[str, str] = {}
            for name, (use, partner) in RULES.items():
                probs = p2[use].mean(axis=0)
                if partner:
                    probs = probs.copy()
                    probs[:k] = (probs[:k] + p1[use, :k].mean(axis=0)) / 2
                region = None if regions is None else np.asarray(regions[use].mean(axis=0))
                cread = cct._decode(probs, region)
                rules[name] = plate_reader._cct_fit(cread).text if cread.text else ""
            rec["rules"] = rules
        records.append(rec)
        print(i, json.dumps(rec), file=sys.stderr, flush=True)
        out.write_text(json.dumps(records))


def _exact(records: list[dict[str, Any]], rule: str, keep_closer: bool) -> int:
    total = 0
    for r in records:
        text = r["text"]
        if "rules" in r and not (keep_closer and r["reader"] == "ppocr"):
            text = r["rules"][rule]
        total += text == r["truth"]
    return total


def analyse(out: Path) -> None:
    records = json.loads(out.read_text())
    print(f"{len(records)} scenes; today's reader {sum(r['exact'] for r in records)} exact; "
          f"{sum('rules' in r for r in records)} best reads traced to their plate box, "
          f"{sum(r['reader'] == 'ppocr' for r in records)} of them PP-OCR's")  # fmt: skip
    options = [(rule, keep) for rule in RULES for keep in (True, False)]
    for rule, keep in options:
        halves = [_exact(records[k::2], rule, keep) for k in (0, 1)]
        print(f"  {rule}{'' if keep else ', also over PP-OCR reads'}: {sum(halves)} ({halves[0]} + {halves[1]})")
    folds = [records[0::2], records[1::2]]
    for k in (0, 1):
        best = max(options, key=lambda o: _exact(folds[k], *o))
        print(f"chosen on fold {k}: {best}; held-out fold {1 - k}: {_exact(folds[1 - k], *best)} exact "
              f"(today: {_exact(folds[1 - k], 'today (v2, base crop)', True)})")  # fmt: skip
    ms = [r["variants_ms"] for r in records if "variants_ms" in r]
    if ms:
        print(f"reading the 8 variants with v2 and v1: {sum(ms) / len(ms):.1f} ms mean")


if __name__ == "__main__":
    _ = reader_mod
    args = sys.argv[1:]
    if args and args[0] == "--analyse":
        analyse(Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
    else:
        collect(int(args[0]) if args else None, Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
