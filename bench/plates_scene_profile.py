"""Where a whole-scene read of the default plate reader spends its time, step by step.

Wraps the steps of ``PlateReader.read_scene`` with timers (the morphological localiser, the
960-px scene text detector, the plate-trained recogniser's batched reads, PP-OCR's closer
reads and their text-line detection) and reads the first N US scenes once with the default
reader. Prints each step's ms per scene, its share, and how many scenes it ran in.

    .venv/bin/python bench/plates_scene_profile.py [N]
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates import cct, ocr, reader
from vigil.plates.eval import load_labels, read_image
from vigil.workers.plates_stage import build_plate_reader

SPENT: dict[str, float] = defaultdict(float)
RAN: dict[str, set[int]] = defaultdict(set)
SCENE = [0]


def timed(owner: Any, name: str, label: str) -> None:
    inner: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - t0
            RAN[label].add(SCENE[0])

    setattr(owner, name, wrapper)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    timed(reader, "find_plate_candidates", "morphological localiser")
    timed(ocr.RapidTextEngine, "detect_scene_lines", "scene text detector (960 px, 640 where the rows are sure)")
    timed(ocr.RapidTextEngine, "detect_lines", "text lines of a closer read (PP-OCR det)")
    timed(ocr.RapidTextEngine, "recognise", "PP-OCR recognition")
    timed(cct.CctRecogniser, "read", "CCT-XS reads (batched)")
    timed(reader.PlateReader, "_closer", "closer reads (PP-OCR, all)")
    plate_reader = build_plate_reader(PlatesConfig(), models_dir())
    plate_reader.read_scene(read_image(items[0].image))  # load every model once
    SPENT.clear()
    RAN.clear()
    total = 0.0
    for i, item in enumerate(items):
        SCENE[0] = i
        image = read_image(item.image)
        t0 = time.perf_counter()
        plate_reader.read_scene(image)
        total += time.perf_counter() - t0
    out = {
        "n": len(items),
        "ms_per_scene": round(1000 * total / len(items), 1),
        "load_average": round(os.getloadavg()[0], 1),
        "steps": {
            label: {
                "ms_per_scene": round(1000 * s / len(items), 1),
                "share": round(s / total, 3),
                "scenes": len(RAN[label]),
            }
            for label, s in sorted(SPENT.items(), key=lambda kv: -kv[1])
        },
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
