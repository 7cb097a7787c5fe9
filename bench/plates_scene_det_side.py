"""The scene text detector's resolution, and why scenes are missed: data for a 2-fold choice.

The default reader runs PP-OCR's text detector over the whole frame (or a vehicle's search
region) at up to ``scene_det_max_side`` = 960 px on the long side; it is most of a scene's time
(``bench/plates_scene_profile.py``). This reads every US scene with the default reader at each
side in ``SIDES``, interleaved per image in one process (the order rotated from image to image,
so that the machine's load falls on each alike), and records each read, its time and the
detector's own time. It also reads the labelled plate box (10 % margin) with ``read_crop``, so
that each miss of the baseline (960 px) can be put in one class: where it went wrong (nothing
read, other text first, the found plate's crop, the recogniser on the labelled box itself) and
what the read looks like (a confusable glyph, another character, characters missing or extra, a
right raw read changed after: a character dropped as absent, or a format fix).

Writes one JSON record per scene to OUT; ``--analyse`` chooses the side on one fold (even / odd
scenes in label order: most exact, then most found, then the fastest) and scores it on the other,
both ways, prints whole-set figures and ms ratios against 960 px, and the miss classes.

    .venv/bin/python bench/plates_scene_det_side.py [N] [OUT]
    .venv/bin/python bench/plates_scene_det_side.py --analyse [OUT]
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates import ocr
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.reader import PlateRead, PlateReader
from vigil.plates.text import normalise
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_scene_det_side.json")
SIDES = (960, 800, 640, 480)
BASELINE = 960

CONFUSABLE = {frozenset(p) for p in ("O0", "D0", "Q0", "I1", "L1", "T1", "B8", "S5", "Z2", "G6", "A4", "U0", "UV")}

DET_MS = [0.0]


def _timed_detector() -> None:
    inner = ocr.RapidTextEngine.detect_scene_lines

    def wrapper(self: ocr.RapidTextEngine, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(self, *args, **kwargs)
        finally:
            DET_MS[0] += 1000 * (time.perf_counter() - t0)

    ocr.RapidTextEngine.detect_scene_lines = wrapper  # type: ignore[method-assign]


def _reader(side: int) -> PlateReader:
    plate_reader = build_plate_reader(PlatesConfig(), models_dir())
    engine = plate_reader._ocr
    assert isinstance(engine, ocr.RapidTextEngine)
    engine._scene_side = side
    return plate_reader


def _record(read: PlateRead | None, truth: str, box: tuple[float, float, float, float]) -> dict[str, Any]:
    if read is None:
        return {"text": "", "raw": "", "exact": False, "found": False}
    return {
        "text": read.text,
        "raw": normalise(read.raw),
        "exact": read.text == truth,
        "found": box_iou(read.box, box) > FOUND_IOU,
        "reader": read.reader,
        "closer": read.closer,
    }


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    return platform.machine()


def collect(n: int | None, out: Path) -> None:
    _timed_detector()
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    readers = {side: _reader(side) for side in SIDES}
    warm = read_image(items[0].image)
    for plate_reader in readers.values():
        plate_reader.read_scene(warm)  # load every model once
    records = []
    for i, item in enumerate(items):
        image = read_image(item.image)
        assert item.box is not None
        rec: dict[str, Any] = {"image": item.image.name, "truth": item.plate}
        order = SIDES[i % len(SIDES) :] + SIDES[: i % len(SIDES)]
        for side in order:
            DET_MS[0] = 0.0
            t0 = time.perf_counter()
            read = next(iter(readers[side].read_scene(image)), None)
            ms = 1000 * (time.perf_counter() - t0)
            rec[str(side)] = _record(read, item.plate, item.box) | {"ms": round(ms, 1), "det_ms": round(DET_MS[0], 1)}
        x1, y1, x2, y2 = item.box
        mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        h, w = image.shape[:2]
        crop = image[max(0, int(y1 - my)) : min(h, int(y2 + my)), max(0, int(x1 - mx)) : min(w, int(x2 + mx))]
        boxed = readers[BASELINE].read_crop(crop)
        rec["box"] = {"text": boxed.text if boxed else "", "exact": bool(boxed and boxed.text == item.plate)}
        records.append(rec)
        print(i, json.dumps(rec), file=sys.stderr, flush=True)
        out.write_text(json.dumps(records))
    meta = {
        "cpu": _cpu(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average_end": round(os.getloadavg()[0], 1),
    }
    out.with_suffix(".meta.json").write_text(json.dumps(meta))


def _score(records: list[dict[str, Any]], side: int) -> tuple[int, int, float]:
    """(exact, found, -ms) at ``side``: larger is better on each, in that order."""
    key = str(side)
    return (
        sum(r[key]["exact"] for r in records),
        sum(r[key]["found"] for r in records),
        -sum(r[key]["ms"] for r in records) / max(1, len(records)),
    )


def what(truth: str, read: dict[str, Any]) -> str:
    """What a wrong read looks like."""
    text = read["text"]
    if read["raw"] == truth:
        return "raw read right, changed after (a character dropped as absent, or a format fix)"
    if len(text) != len(truth):
        return "characters missing or extra"
    diff = [(a, b) for a, b in zip(text, truth, strict=True) if a != b]
    if all(frozenset(d) in CONFUSABLE for d in diff):
        return "confusable glyph (O/0, I/1, B/8 …)"
    return "other character(s)"


def where(rec: dict[str, Any], read: dict[str, Any]) -> str:
    """Where a miss went wrong: localisation, the found plate's crop, or the recogniser itself."""
    if not read["text"]:
        return "detection: nothing read"
    if not read["found"]:
        return "detection: other text ranked first"
    if rec["box"]["exact"]:
        return "crop/rotation: labelled box reads right, the found plate's crop wrong"
    return "recogniser: the labelled box itself reads wrong"


def analyse(out: Path) -> None:
    records = json.loads(out.read_text())
    sides = [int(k) for k in records[0] if k.isdigit()]
    n = len(records)
    base_ms = sum(r[str(BASELINE)]["ms"] for r in records) / n
    print(f"{n} scenes; labelled boxes read: {sum(r['box']['exact'] for r in records)} exact")
    for side in sides:
        key = str(side)
        ms = sorted(r[key]["ms"] for r in records)
        det = sum(r[key]["det_ms"] for r in records) / n
        e, f, _ = _score(records, side)
        halves = [sum(r[key]["exact"] for r in records[k::2]) for k in (0, 1)]
        ratio = sum(ms) / n / base_ms
        print(f"side {side}: {e} exact ({halves[0]} + {halves[1]}), {f} found; ms / scene mean {sum(ms) / n:.0f}, "
              f"median {ms[n // 2]:.0f}, detector {det:.0f}; ratio to {BASELINE} px {ratio:.2f}")  # fmt: skip
    folds = [records[0::2], records[1::2]]
    for k in (0, 1):
        train, test = folds[k], folds[1 - k]
        best = max(sides, key=lambda s: _score(train, s))
        e, f, ms = _score(test, best)
        be, bf, bms = _score(test, BASELINE)
        print(f"chosen on fold {k}: side {best}; held-out fold {1 - k}: {e} exact, {f} found, {-ms:.0f} ms "
              f"(960 px: {be} exact, {bf} found, {-bms:.0f} ms)")  # fmt: skip
    for side in sides:
        key = str(side)
        table: dict[str, dict[str, int]] = {}
        for r in records:
            read = r[key]
            if read["exact"]:
                continue
            row = table.setdefault(where(r, read), {})
            kind = what(r["truth"], read) if read["text"] else "no read"
            row[kind] = row.get(kind, 0) + 1
        total = sum(sum(v.values()) for v in table.values())
        print(f"misses at {side} px ({total}):")
        for w, kinds in sorted(table.items(), key=lambda kv: -sum(kv[1].values())):
            print(f"  {w}: {sum(kinds.values())}  {kinds}")
    meta = out.with_suffix(".meta.json")
    if meta.exists():
        print(meta.read_text())


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--analyse":
        analyse(Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
    else:
        collect(int(args[0]) if args else None, Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
