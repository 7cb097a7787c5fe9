"""Time per scene image of the plate reader with the scene text detector always on, only as a
fallback (the default) and off, and with the optional platedet localiser (with and
without its whole-frame fallback, when ``vigil models install platedet`` was run), on the same
images in one process (modes interleaved per image, so machine noise falls on all alike).
Prints JSON: ms per image (mean, median), ratios to ``always``, exact and found counts per mode, peak RSS.

    .venv/bin/python bench/plates_scene_speed.py [N]     # first N scenes of ../shared/data/plates/us
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

from benchlib import models_dir
from vigil.config.plates import PlatesConfig
from vigil.core.errors import ModelMissingError
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine
from vigil.plates.reader import PlateReader, SceneText
from vigil.workers.plates_stage import build_plate_reader

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "plates" / "us"
MODES: tuple[SceneText, ...] = ("always", "fallback", "never")


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: no labelled scenes at {DATA}", file=sys.stderr)
        return 0
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    _, items = load_labels(DATA)
    engine = RapidTextEngine(threads=2)
    readers = {str(m): PlateReader(engine, ("us",), scene_text=m) for m in MODES}
    try:
        for name, fallback in (("platedet", True), ("platedet_no_fallback", False)):
            cfg = PlatesConfig(localiser="platedet", detector_fallback=fallback)
            readers[name] = build_plate_reader(cfg, models_dir())
    except ModelMissingError as exc:
        print(f"platedet modes skipped: {exc}", file=sys.stderr)
    modes = list(readers)
    for reader in readers.values():
        reader.read_scene(read_image(items[0].image))  # load every model once
    ms: dict[str, list[float]] = {m: [] for m in modes}
    exact = dict.fromkeys(modes, 0)
    found = dict.fromkeys(modes, 0)
    for item in items[:n]:
        image = read_image(item.image)
        for mode in modes:
            t0 = time.perf_counter()
            reads = readers[mode].read_scene(image)
            ms[mode].append(1000.0 * (time.perf_counter() - t0))
            exact[mode] += bool(reads) and reads[0].text == item.plate
            found[mode] += bool(reads) and item.box is not None and box_iou(reads[0].box, item.box) > FOUND_IOU
    base = statistics.fmean(ms["always"])
    out = {
        m: {
            "ms_mean": round(statistics.fmean(ms[m]), 1),
            "ms_median": round(statistics.median(ms[m]), 1),
            "ratio_to_always": round(statistics.fmean(ms[m]) / base, 3),
            "exact": exact[m],
            "found": found[m],
        }
        for m in modes
    }
    out["n"] = min(n, len(items))  # type: ignore[assignment]
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # type: ignore[assignment]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
