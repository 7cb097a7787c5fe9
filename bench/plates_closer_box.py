"""The box a closer read reports: the row that led to it (before) or the text line it read (now,
``CLOSER_LINE_BOX``). Every US scene read by the default reader both ways, interleaved per scene in
one process, at full size and optionally scaled (the same scenes further away); exact and found
(IoU > 0.4 with the labelled box) per half (even / odd scenes in label order). Nothing here is
used by the product.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_closer_box.py [SCALE ...] [--ppocr]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchlib import SHARED_DATA, models_dir
from plates_chosen_rectify import scaled_scene
from vigil.config.plates import PlatesConfig
from vigil.plates import reader as reader_mod
from vigil.plates.eval import FOUND_IOU, load_labels
from vigil.plates.localise import box_iou
from vigil.workers.plates_stage import build_plate_reader


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    scales = [float(a) for a in args] or [1.0]
    cfg = PlatesConfig(recogniser="ppocr") if "--ppocr" in sys.argv else PlatesConfig()
    reader = build_plate_reader(cfg, models_dir())
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    for scale in scales:
        exact = {w: np.zeros(len(scenes), bool) for w in (False, True)}
        found = {w: np.zeros(len(scenes), bool) for w in (False, True)}
        changed: list[str] = []
        t0 = time.perf_counter()
        for k, item in enumerate(scenes):
            image, label = scaled_scene(item, scale)
            texts = {}
            for way in (False, True):
                reader_mod.CLOSER_LINE_BOX = way
                reads = reader.read_scene(image)
                read = reads[0] if reads else None
                exact[way][k] = read is not None and read.text == item.plate
                found[way][k] = read is not None and box_iou(read.box, label) > FOUND_IOU
                texts[way] = (read.text if read else "", found[way][k])
            if texts[False] != texts[True]:
                changed.append(f"#{k} {item.image.name} {item.plate}: {texts[False]} -> {texts[True]}")
        half = np.arange(len(scenes)) % 2
        print(f"scale {scale} ({time.perf_counter() - t0:.0f} s)")
        for way, name in ((False, "row box (before)"), (True, "line box (now)")):
            e, f = exact[way], found[way]
            print(
                f"  {name:18s} exact {e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()})"
                f"  found {f.sum()} ({f[half == 0].sum()} + {f[half == 1].sum()})"
            )
        for line in changed:
            print("   ", line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
