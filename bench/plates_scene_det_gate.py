"""A smaller scene text detector pass where the rows are already sure? Data for a 2-fold choice.

Skipping the 960-px scene text detector when the morphological rows gave a strong read lost
plates (``bench/plates_scene_gate.py``), and running it smaller on every scene lost plates too
(``bench/plates_scene_det_side.py``). In between: run it at a smaller side only on the scenes
whose rows' best read (after its closer read) already scores ≥ t, at 960 px on the rest. Each
US scene is read by the default reader with rows only (``scene_text: never``, for the gate's
score) and with the detector at 960 (today), 640 and 480 px, interleaved per scene in one
process; the gate is applied afterwards.

Writes one JSON record per scene to OUT (default /tmp/plates_scene_det_gate.json); ``--analyse``
chooses (side, t) on one fold (even / odd scenes in label order) by most exact, then most found,
then least time, and scores it on the other, both ways.

    .venv/bin/python bench/plates_scene_det_gate.py [N] [OUT]
    .venv/bin/python bench/plates_scene_det_gate.py --analyse [OUT]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import SHARED_DATA, models_dir
from plates_scene_det_side import _cpu, _reader, _record
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import load_labels, read_image
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_scene_det_gate.json")
SIDES = (960, 640, 480)
GATES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01)


def collect(n: int | None, out: Path) -> None:
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:n]
    rows = build_plate_reader(PlatesConfig(scene_text="never"), models_dir())
    # The gate's value is what the reader has when it would run the detector: the best score
    # of the rows after their closer reads (before ranking taller rows first and reading again).
    gate = [0.0]
    closer = rows._cct_closer

    def captured(*args: Any) -> Any:
        reads = closer(*args)
        gate[0] = max((r.score for r in reads), default=0.0)
        return reads

    rows._cct_closer = captured  # type: ignore[method-assign]
    readers = {side: _reader(side) for side in SIDES}
    warm = read_image(items[0].image)
    for plate_reader in (rows, *readers.values()):
        plate_reader.read_scene(warm)  # load every model once
    records = []
    load = [os.getloadavg()[0]]
    for i, item in enumerate(items):
        image = read_image(item.image)
        assert item.box is not None
        gate[0] = 0.0
        t0 = time.perf_counter()
        best = next(iter(rows.read_scene(image)), None)
        rec: dict[str, Any] = {
            "image": item.image.name,
            "truth": item.plate,
            "rows": _record(best, item.plate, item.box)
            | {"score": round(gate[0], 4), "ms": round(1000 * (time.perf_counter() - t0), 1)},
        }
        order = SIDES[i % len(SIDES) :] + SIDES[: i % len(SIDES)]
        for side in order:
            t0 = time.perf_counter()
            read = next(iter(readers[side].read_scene(image)), None)
            rec[str(side)] = _record(read, item.plate, item.box) | {"ms": round(1000 * (time.perf_counter() - t0), 1)}
        records.append(rec)
        load.append(os.getloadavg()[0])
        print(i, json.dumps(rec), file=sys.stderr, flush=True)
        out.write_text(json.dumps({"cpu": _cpu(), "load": [min(load), max(load)], "records": records}))


def _score(records: list[dict[str, Any]], side: int, t: float) -> tuple[int, int, float]:
    """(exact, found, mean ms) reading at ``side`` px where the rows' best scores ≥ t, else 960."""
    exact = found = 0
    ms = 0.0
    for r in records:
        use = r[str(side)] if r["rows"]["score"] >= t else r["960"]
        exact += use["exact"]
        found += use["found"]
        ms += use["ms"]
    return exact, found, ms / max(1, len(records))


def analyse(out: Path) -> None:
    data = json.loads(out.read_text())
    records = data["records"]
    folds = [records[0::2], records[1::2]]
    print(f"{len(records)} scenes, {data['cpu']}, load average {data['load']}")
    for side in SIDES:
        e, f, ms = _score(records, side, -1.0)
        print(f"  {side} px on every scene: {e} exact, {f} found, {ms:.0f} ms / scene")
    grid = [(side, t) for side in SIDES[1:] for t in GATES]
    for k in (0, 1):
        train, test = folds[k], folds[1 - k]
        best = max(grid, key=lambda g: (_score(train, *g)[0], _score(train, *g)[1], -_score(train, *g)[2]))
        e, f, ms = _score(test, *best)
        e0, f0, ms0 = _score(test, 960, -1.0)
        print(
            f"chosen on fold {k}: side {best[0]}, t={best[1]}; held-out fold {1 - k}: {e} exact, {f} found, "
            f"{ms:.0f} ms / scene (960 everywhere: {e0} exact, {f0} found, {ms0:.0f} ms)"
        )
    for side, t in grid:
        e, f, ms = _score(records, side, t)
        halves = [_score(fold, side, t)[0] for fold in folds]
        gated = sum(r["rows"]["score"] >= t for r in records)
        print(f"  {side} px where rows >= {t}: {e} exact ({halves[0]} + {halves[1]}), {f} found, "
              f"{ms:.0f} ms / scene, {gated} scenes at {side} px")  # fmt: skip


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--analyse":
        analyse(Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
    else:
        collect(int(args[0]) if args else None, Path(args[1]) if len(args) > 1 else DEFAULT_OUT)
