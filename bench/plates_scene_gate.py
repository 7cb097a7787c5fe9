"""When may a scene skip the 960-px scene text detector? Data for a 2-fold choice.

The default reader (``scene_text: fallback``) runs the scene text detector (3/4 of a scene's
time, ``bench/plates_scene_profile.py``) whenever the morphological rows gave no read scoring
``STRONG_READ``; with the plate-trained recogniser a US read that fits no listed layout scores at
most 0.85 × its confidence, so it runs on most scenes. This reads every US scene twice with the
default reader, interleaved: rows only (``never``) and rows + scene text (``always``, which is
what ``fallback`` gives when it runs), and records the best read of each with the rows-only
read's score and least sure character, and each mode's time. It also reads the labelled plate
box (10 % margin) with ``read_crop``: what the recogniser does with no localisation at all.

Writes one JSON record per scene to OUT (default /tmp/plates_scene_gate.json); ``--analyse``
then chooses a gate (skip the detector when the rows' best read has least ≥ t, or score ≥ t) on
one fold (even / odd scenes in label order) and scores it on the other, both ways.

    .venv/bin/python bench/plates_scene_gate.py [N] [OUT]
    .venv/bin/python bench/plates_scene_gate.py --analyse [OUT]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.reader import PlateRead
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_scene_gate.json")


def _read(read: PlateRead | None, truth: str, box: tuple[float, float, float, float] | None) -> dict[str, Any]:
    if read is None:
        return {"text": "", "exact": False, "found": False, "score": 0.0, "least": 0.0}
    return {
        "text": read.text,
        "exact": read.text == truth,
        "found": box is not None and box_iou(read.box, box) > FOUND_IOU,
        "score": round(read.score, 4),
        # PP-OCR's closer reads carry no per-character certainty: never sure enough to skip.
        "least": round(read.least, 4) if read.reader != "ppocr" else 0.0,
        "reader": read.reader,
    }


def collect(n: int | None, out: Path) -> None:
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    never = build_plate_reader(PlatesConfig(scene_text="never"), models_dir())
    always = build_plate_reader(PlatesConfig(scene_text="always"), models_dir())
    records = []
    for i, item in enumerate(items):
        image = read_image(item.image)
        t0 = time.perf_counter()
        rows = next(iter(never.read_scene(image)), None)
        t1 = time.perf_counter()
        full = next(iter(always.read_scene(image)), None)
        t2 = time.perf_counter()
        assert item.box is not None
        x1, y1, x2, y2 = item.box
        mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        h, w = image.shape[:2]
        crop = image[max(0, int(y1 - my)) : min(h, int(y2 + my)), max(0, int(x1 - mx)) : min(w, int(x2 + mx))]
        boxed = never.read_crop(crop)
        records.append(
            {
                "image": item.image.name,
                "truth": item.plate,
                "rows": _read(rows, item.plate, item.box) | {"ms": round(1000 * (t1 - t0), 1)},
                "full": _read(full, item.plate, item.box) | {"ms": round(1000 * (t2 - t1), 1)},
                "box": {"text": boxed.text if boxed else "", "exact": bool(boxed and boxed.text == item.plate)},
            }
        )
        print(i, json.dumps(records[-1]), file=sys.stderr, flush=True)
        out.write_text(json.dumps(records))


def _score(records: list[dict[str, Any]], key: str, t: float) -> tuple[int, int, int]:
    """(exact, found, scenes that skip the detector) with the gate ``rows[key] >= t``."""
    exact = found = skipped = 0
    for r in records:
        use = r["rows"] if r["rows"][key] >= t else r["full"]
        skipped += use is r["rows"]
        exact += use["exact"]
        found += use["found"]
    return exact, found, skipped


def limits(records: list[dict[str, Any]], key: str, t: float) -> dict[str, int]:
    """The scenes read wrong with the gate ``rows[key] >= t``, by what limits them."""
    out: dict[str, int] = {}
    for r in records:
        use = r["rows"] if r["rows"][key] >= t else r["full"]
        if use["exact"]:
            continue
        if not r["box"]["exact"]:
            why = "the labelled box itself reads wrong (recogniser)"
        elif use["found"]:
            why = "labelled box reads right, the localiser's box of it wrong (crop)"
        elif use["text"]:
            why = "labelled box reads right, other text ranked first (localisation)"
        else:
            why = "labelled box reads right, nothing read (localisation)"
        out[why] = out.get(why, 0) + 1
    return out


def analyse(out: Path) -> None:
    records = json.loads(out.read_text())
    folds = [records[0::2], records[1::2]]
    n = len(records)
    print(f"{n} scenes; rows only: {sum(r['rows']['exact'] for r in records)} exact, "
          f"{sum(r['rows']['found'] for r in records)} found; rows + scene text: "
          f"{sum(r['full']['exact'] for r in records)} exact, {sum(r['full']['found'] for r in records)} found; "
          f"labelled boxes read: {sum(r['box']['exact'] for r in records)} exact")  # fmt: skip
    ms_rows = sum(r["rows"]["ms"] for r in records) / n
    ms_full = sum(r["full"]["ms"] for r in records) / n
    print(f"ms / scene (this run, same process): rows only {ms_rows:.0f}, rows + scene text {ms_full:.0f}")
    grid = {"least": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01], "score": [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 1.01]}
    for key, ts in grid.items():
        for k in (0, 1):
            train, test = folds[k], folds[1 - k]
            # Choose on the training fold: most exact, then most found, then most skipped.
            best = max(ts, key=lambda t: _score(train, key, t))
            e, f, s = _score(test, key, best)
            print(f"gate {key} >= t: chosen on fold {k}: t={best}; held-out fold {1 - k}: "
                  f"{e} exact, {f} found, {s} of {len(test)} skip the detector")  # fmt: skip
        for t in ts:
            e, f, s = _score(records, key, t)
            print(f"  {key} >= {t}: whole set {e} exact, {f} found, {s} skip; misses: {limits(records, key, t)}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--analyse":
        analyse(Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
    else:
        collect(int(args[0]) if args else None, Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
