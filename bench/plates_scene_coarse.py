"""The scene text detector looking only where text can be: data for a 2-fold choice, and the ratio.

The default reader's scene text pass (PP-OCR's detector at 960 px, 640 where the morphological rows
are already sure) was about 60 % of a scene's time. Compared here, interleaved per scene in one
process (the order rotated from scene to scene; one reader and one engine reconfigured per read,
so that the same sessions serve every read):

* ``before``: rapidocr's own scene pipeline (``coarse=None``; one detector engine per side);
* ``own_full``: Vigil's own pass over the same graph (``coarse=0``, the product now): the same
  resize, the normalisation by a lookup table (the same float32 values), no crops of the boxes,
  one session for every side;
* ``t…_g…_m…`` (tried, not adopted): the detector first at half its side over the whole frame,
  pixels with text probability above ``t`` marked, each marked region grown by ``g`` of its
  heights (and at least ``m`` pixels of the full pass's input), the morphological rows added as
  seeds (grown by one height), and the full-resolution pass only on those windows (the whole
  frame where they cover ≥ 60 % of it).

Each top read is recorded: exact, found, its time and the detector's time.

Writes one JSON object to OUT after every scene; ``--analyse`` chooses (t, g) on one fold (even /
odd scenes in label order: most exact, then most found, then least time) and scores it on the
other, both ways, and prints whole-set figures and time ratios against the reader before.

    .venv/bin/python bench/plates_scene_coarse.py [N] [OUT]
    .venv/bin/python bench/plates_scene_coarse.py --analyse [OUT]
    .venv/bin/python bench/plates_scene_coarse.py --rss before|now [N]   # peak RSS of one reader alone
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import SHARED_DATA, models_dir
from plates_scene_det_side import _cpu, _record
from vigil.config.plates import PlatesConfig
from vigil.plates import ocr
from vigil.plates.eval import load_labels, read_image
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_scene_coarse.json")
BEFORE = "before"
GRID = [(0.03, 2.0, 128)]
OWN = "own_full"
DET_MS = [0.0]


def _name(t: float, g: float, m: int) -> str:
    return f"t{t}_g{g}_m{m}"


def _timed_detector() -> None:
    inner = ocr.RapidTextEngine.detect_scene_lines

    def wrapper(self: ocr.RapidTextEngine, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(self, *args, **kwargs)
        finally:
            DET_MS[0] += 1000 * (time.perf_counter() - t0)

    ocr.RapidTextEngine.detect_scene_lines = wrapper  # type: ignore[method-assign]


def collect(n: int | None, out: Path) -> None:
    _timed_detector()
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    plate_reader = build_plate_reader(PlatesConfig(), models_dir())
    engine = plate_reader._ocr
    assert isinstance(engine, ocr.RapidTextEngine)
    configs: dict[str, tuple[float | None, float, float, int]] = {BEFORE: (None, 0.0, 0.0, 0)}
    configs[OWN] = (0.0, 0.0, 0.0, 0)  # Vigil's own full pass (the product now)
    configs |= {_name(t, g, m): (0.5, t, g, m) for t, g, m in GRID}

    def use(name: str) -> None:
        engine._coarse, engine.coarse_threshold, engine.coarse_grow, engine.coarse_margin = configs[name]

    warm = read_image(items[0].image)
    for name in configs:  # load every session once (the reader before keeps one per side)
        use(name)
        plate_reader.read_scene(warm)
    names = list(configs)
    records = []
    load = [os.getloadavg()[0]]
    for i, item in enumerate(items):
        image = read_image(item.image)
        assert item.box is not None
        rec: dict[str, Any] = {"image": item.image.name, "truth": item.plate}
        for name in names[i % len(names) :] + names[: i % len(names)]:
            use(name)
            DET_MS[0] = 0.0
            t0 = time.perf_counter()
            read = next(iter(plate_reader.read_scene(image)), None)
            ms = 1000 * (time.perf_counter() - t0)
            rec[name] = _record(read, item.plate, item.box) | {"ms": round(ms, 1), "det_ms": round(DET_MS[0], 1)}
        records.append(rec)
        load.append(os.getloadavg()[0])
        print(i, json.dumps({k: (v["exact"], v["found"], v["ms"]) for k, v in rec.items() if isinstance(v, dict)}),
              file=sys.stderr, flush=True)  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.write_text(json.dumps({"cpu": _cpu(), "load": [min(load), max(load)], "peak_rss_mib": round(peak),
                                   "records": records}))  # fmt: skip


def _score(records: list[dict[str, Any]], name: str) -> tuple[int, int, float, float]:
    """(exact, found, mean ms, mean detector ms) of one reader over ``records``."""
    n = max(1, len(records))
    return (
        sum(r[name]["exact"] for r in records),
        sum(r[name]["found"] for r in records),
        sum(r[name]["ms"] for r in records) / n,
        sum(r[name]["det_ms"] for r in records) / n,
    )


def analyse(out: Path) -> None:
    data = json.loads(out.read_text())
    records = data["records"]
    folds = [records[0::2], records[1::2]]
    print(f"{len(records)} scenes, {data['cpu']}, load average {data['load']}, peak RSS {data['peak_rss_mib']} MiB")
    names = [n for n in [BEFORE, OWN] + [_name(*g) for g in GRID] if n in records[0]]
    base = _score(records, BEFORE)
    for name in names:
        e, f, ms, det = _score(records, name)
        halves = [_score(fold, name)[0] for fold in folds]
        print(f"  {name}: {e} exact ({halves[0]} + {halves[1]}), {f} found, {ms:.0f} ms / scene "
              f"(ratio {ms / base[2]:.3f}), detector {det:.0f} ms (ratio {det / max(base[3], 1e-9):.3f})")  # fmt: skip
    for k in (0, 1):
        train, test = folds[k], folds[1 - k]
        best = max(names[1:], key=lambda m: (_score(train, m)[0], _score(train, m)[1], -_score(train, m)[2]))
        e, f, ms, _ = _score(test, best)
        e0, f0, ms0, _ = _score(test, BEFORE)
        print(f"chosen on fold {k}: {best}; held-out fold {1 - k}: {e} exact, {f} found, {ms:.0f} ms / scene "
              f"(the reader before: {e0} exact, {f0} found, {ms0:.0f} ms; ratio {ms / ms0:.3f})")  # fmt: skip


def rss(which: str, n: int) -> None:
    """Peak RSS of a process holding one reader (the reader before keeps a detector per side)."""
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    plate_reader = build_plate_reader(PlatesConfig(), models_dir())
    engine = plate_reader._ocr
    assert isinstance(engine, ocr.RapidTextEngine)
    if which == "before":
        engine._coarse = None
    for item in items[:n]:
        plate_reader.read_scene(read_image(item.image))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"reader": which, "scenes": n, "peak_rss_mib": round(peak)}))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--rss":
        rss(args[1], int(args[2]) if len(args) > 2 else 20)
    elif args and args[0] == "--analyse":
        analyse(Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
    else:
        collect(int(args[0]) if args else None, Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
