"""How wide a localiser's character row is cut out for the plate-trained recogniser: a 2-fold choice.

The scene path widens each morphological row by ``ROW_TO_PLATE`` (per side, fraction of the row's
width and height) to the plate it stands for, and the recogniser's read adds ``CCT_MARGIN``.
Localisation runs once per scene (cached); each margin setting then reads the same rows with the
recogniser (v2, as the scene path does) and ranks them as the reader does (taller rows first).
No closer reads and no scene text detector: this isolates the crop. Folds are the even and odd
scenes in label order; a setting is chosen on one fold (most exact, then most found) and scored on
the other, both ways.

    .venv/bin/python bench/plates_row_margin.py [N] [--tighter]
"""

from __future__ import annotations

import json
import sys
from typing import Any

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates import reader as reader_module
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.workers.plates_stage import build_plate_reader

SETTINGS = [(x, y) for x in (0.0, 0.06, 0.12) for y in (0.15, 0.25, 0.4)]
if "--tighter" in sys.argv:  # the second grid, after the first chose its corner (0, 0.15)
    SETTINGS = [(-0.03, 0.1), (-0.03, 0.15), (0.0, 0.05), (0.0, 0.1), (0.0, 0.15), (0.06, 0.25)]


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else None
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    find = reader_module.find_plate_candidates
    cache: dict[Any, Any] = {}

    def cached(search: Any, *args: Any) -> Any:
        key = (search.ctypes.data, search.shape, args)
        if key not in cache:
            cache.clear()
            cache[key] = find(search, *args)
        return cache[key]

    reader_module.find_plate_candidates = cached  # type: ignore[assignment]
    plate_reader = build_plate_reader(PlatesConfig(scene_text="never"), models_dir())
    plate_reader.closer_reads = 0
    results: dict[str, list[tuple[bool, bool]]] = {f"{x},{y}": [] for x, y in SETTINGS}
    for i, item in enumerate(items):
        image = read_image(item.image)
        for x, y in SETTINGS:
            reader_module.ROW_TO_PLATE = (x, y)
            reads = plate_reader.read_scene(image)
            read = reads[0] if reads else None
            exact = read is not None and read.text == item.plate
            found = read is not None and item.box is not None and box_iou(read.box, item.box) > FOUND_IOU
            results[f"{x},{y}"].append((exact, found))
        print(i, file=sys.stderr, flush=True)

    def score(name: str, fold: int | None) -> tuple[int, int]:
        rows = results[name] if fold is None else results[name][fold::2]
        return sum(e for e, _ in rows), sum(f for _, f in rows)

    out: dict[str, Any] = {"n": len(items), "whole": {k: score(k, None) for k in results}}
    for k in (0, 1):
        chosen = max(results, key=lambda name: score(name, k))
        out[f"chosen_on_fold{k}"] = {"setting": chosen, "held_out": score(chosen, 1 - k)}
        out[f"default_held_out_fold{1 - k}"] = score("0.06,0.25", 1 - k)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
