"""The full-resolution second look where a scene gave no read (``SCENE_TEXT_FULL_RESOLUTION``):
every US scene, and street photos without a readable plate (ShanghaiTech Part B, where most
frames read nothing and so pay the second look), read with and without it, interleaved per image
in one process. Prints exact and found per half (US), how many images took the second look, and
the time ratio. Nothing here is used by the product.

    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_full_resolution.py [N_STREET] [STREET_SCALE]
    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_full_resolution.py --gate

``STREET_SCALE`` (default 1.25) enlarges the 1024 x 768 street photos (to 1280 x 960 by default),
so that they are large enough for the second look, as a 720p or larger camera frame is.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.workers.plates_stage import build_plate_reader


def gate() -> None:
    """The second look also where the best read scores below t (``full_resolution_below``): every
    US scene read with the look only where nothing was read (today) and with it wherever the frame
    is large enough; the rule for each t applied afterwards from the best score before the look.
    t chosen on one half (most exact, then found, then the fewest looks), scored on the other."""
    reader = build_plate_reader(PlatesConfig(), models_dir())
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    inner = reader._read_region_cct
    seen: list[float] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        reads = inner(*args, **kwargs)
        seen.append(max((r.score for r in reads if r.text), default=-1.0))
        return reads

    reader._read_region_cct = spy  # type: ignore[method-assign]
    rows = []
    for item in scenes:
        image = read_image(item.image)
        out = {}
        for name, below in (("today", 0.0), ("always", 1.01)):
            reader.full_resolution_below = below
            seen.clear()
            reads = reader.read_scene(image)
            read = reads[0] if reads else None
            assert item.box is not None
            out[name] = (
                read is not None and read.text == item.plate,
                read is not None and box_iou(read.box, item.box) > FOUND_IOU,
            )
        large = max(image.shape[:2]) >= 1.25 * 960
        rows.append((seen[0], large, out))
    half = np.arange(len(rows)) % 2
    grid = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
    res: dict[float, tuple[Any, Any, Any]] = {}
    for t in grid:
        use = [large and score < t for score, large, _ in rows]
        e = np.array([o["always" if u else "today"][0] for u, (_, _, o) in zip(use, rows, strict=True)])
        f = np.array([o["always" if u else "today"][1] for u, (_, _, o) in zip(use, rows, strict=True)])
        res[t] = (e, f, np.array(use))
        print(
            f"  t {t}: exact {e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()})"
            f" found {f.sum()} looks {int(np.sum(use))}"
        )
    for h in (0, 1):
        best = max(grid, key=lambda t: (int(res[t][0][half == h].sum()), int(res[t][1][half == h].sum()), -t))
        e, f, _ = res[best]
        print(
            f"half {h} chose t {best}: held out exact {e[half != h].sum()} (today {res[0.0][0][half != h].sum()}), "
            f"found {f[half != h].sum()} (today {res[0.0][1][half != h].sum()})"
        )


def main() -> None:
    if "--gate" in sys.argv:
        gate()
        return
    n_street = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    street_scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.25
    reader = build_plate_reader(PlatesConfig(), models_dir())
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    street = sorted((SHARED_DATA / "crowd" / "shanghaitech_b_train" / "images").glob("*.jpg"))[:n_street]
    load0 = os.getloadavg()[0]
    for name, items in (
        ("US scenes", [(s.image, s.plate, s.box) for s in scenes]),
        ("street, no plate", [(p, None, None) for p in street]),
    ):
        times: dict[bool, list[float]] = {False: [], True: []}
        exact = {w: np.zeros(len(items), bool) for w in times}
        found = {w: np.zeros(len(items), bool) for w in times}
        second = 0
        for k, (path, plate, box) in enumerate(items):
            image = read_image(Path(path))
            if plate is None and street_scale != 1.0:
                image = np.asarray(cv2.resize(image, None, fx=street_scale, fy=street_scale), np.uint8)
            for way in (False, True):
                time.sleep(0.05)
                t0 = time.perf_counter()
                reads = reader.read_scene(image, full_resolution=way)
                times[way].append(1000 * (time.perf_counter() - t0))
                read = reads[0] if reads else None
                exact[way][k] = read is not None and read.text == plate
                found[way][k] = read is not None and box is not None and box_iou(read.box, box) > FOUND_IOU
                # The second look runs where nothing was read and the image is large enough.
                second += not way and not reads and max(image.shape[:2]) >= 1.25 * 960
        half = np.arange(len(items)) % 2
        print(f"{name}: {len(items)} images; the second look ran in {second}")
        for way, label in ((False, "without"), (True, "with (now)")):
            a, e, f = np.array(times[way]), exact[way], found[way]
            ratio = a.mean() / np.mean(times[False])
            print(
                f"  {label:11s} mean {a.mean():6.1f} median {np.median(a):6.1f} ms ratio {ratio:.3f}"
                f"  exact {e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()})  found {f.sum()}"
            )
    print(f"{platform.machine()}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
