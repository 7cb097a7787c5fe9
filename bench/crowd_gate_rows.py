"""Per-image quantities of the near-people gate on the product's own path, then the gate's C by CV (issue 22).

``collect`` runs, once per image, what :func:`vigil.crowd.counter.count_frame` runs with the default
config (tiled int8 YOLOv4-tiny person boxes, the installed int8 CSRNet at the frame's own width up to
``crowd.density_input_width`` and at ``crowd.near_width``), and keeps every quantity the gate reads
or counts with, so any gate setting can be scored later without a model:

* ``truth`` (labelled heads), ``size`` (median person-box height / frame height),
* ``dens`` and ``comb`` (the stock map's full-resolution sum, what the near-people gate reads, and
  the combined count there),
* ``tail`` (the sum of the map counted with off the near path: the tuned tail's with
  ``crowd.density_tail: tuned``, the default since the eighth round; else ``dens``),
* ``full`` (the count off the near path, :meth:`CountRule.count`: with the tuned tail
  ``tail_far_weights`` of ``comb`` and ``tail``, with the stock tail the ``blend_people`` ramp),
* ``near`` (the near path's count: the combined count with CSRNet at ``near_width``),
* ``ms`` (the whole collection per image, both CSRNet runs included),
* ``nbox`` (person boxes), ``hpx`` (median box height in frame pixels), ``hmax`` (tallest box /
  frame height), ``width`` and ``height`` (the frame's), for gates on box size (sixth round).

``people_clip`` is the bundled ``samples/people.mp4`` (768x432, one or two people near the camera):
frames listed with their hand counts in ``bench/data/people_clip_counts.csv`` (the sixth round).

Unlike ``bench/crowd_gate_cv.py`` (fp32 front end, the full-resolution map standing in on the near
path for Part B and Mall), these are the product's numbers: the rule's count here is what
``vigil crowd eval`` prints for each image (``collect --check N`` compares the first N).

``cv`` chooses ``crowd.near_min_people`` (C: the ratio test applies only from C combined people) from
a grid fixed before the rows were collected, per fold on the other four folds (five contiguous blocks
of each set in natural order, as ``scripts/train_crowd_density.folds_of``; sets pooled, each set's
MAE over its mean true count, ties to the smaller C), the rest of the rule at its defaults, and
reports train and validation MAE per fold and set beside today's rule (C = 0).

    P="nice -n 10 .venv/bin/python bench/crowd_gate_rows.py"
    OMP_NUM_THREADS=1 $P collect --threads 1 --sets train mall_dev     # beside the next one: two cores
    OMP_NUM_THREADS=1 $P collect --threads 1 --sets shanghaitech_b_train
    .venv/bin/python bench/crowd_gate_rows.py cv [--json]
    OMP_NUM_THREADS=1 $P collect --threads 1 --check 5 --sets people_clip
    .venv/bin/python bench/crowd_gate_rows.py band [--json]       # sixth round: (near_few_people, near_min_people)

``band`` chooses the pair by the same CV on the four sets, the people clip included (its five blocks
of 8 frames in time order); the grids were fixed before any score (notes/issue-22-crowd-gate.md).

Rows go to ``build/crowd-gate/SET.npz`` (saved every 20 images; a rerun resumes); ``collect`` also
keeps each image's counted people by row on the path ``count_frame`` takes (``FrameCount.placed``:
what a calibration of several bands reads), in ``build/crowd-gate/SET-placed.npz`` (:func:`load_placed`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cache, partial
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from benchlib import REPO_ROOT, SHARED_DATA, machine_info, models_dir
from vigil.config import VigilConfig
from vigil.config.crowd import CrowdConfig
from vigil.core.frame import BGRImage
from vigil.crowd.calibration import PlacedCount
from vigil.crowd.counter import CountRule, count_frame, count_from_map
from vigil.crowd.dataset import LabelledImage, head_points, list_images
from vigil.crowd.density import DensityMap
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.workers.crowd_stage import build_density, build_tile_detector

OUT = REPO_ROOT / "build" / "crowd-gate"
SETS = ("train", "shanghaitech_b_train", "mall_dev")
ALL_SETS = (*SETS, "people_clip")
COLUMNS = ("truth", "size", "dens", "comb", "tail", "full", "near", "ms", "nbox", "hpx", "hmax", "width", "height")
PEOPLE_CSV = REPO_ROOT / "bench" / "data" / "people_clip_counts.csv"
C_GRID = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
"""Fixed on 2026-12-07 07:31 UTC, before any row of this bench existed (notes/issue-22-crowd.md)."""
FOLDS = 5


def collect(sets: list[str], check: int, threads: int) -> None:
    cfg = VigilConfig(models_dir=models_dir(), crowd=CrowdConfig(threads=threads))
    rule = CountRule.from_config(cfg.crowd)
    detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
    density = build_density(cfg, required=True)
    assert density is not None
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sets:
        out = OUT / f"{name}.npz"
        items = _items(name)
        placed_out = OUT / f"{name}-placed.npz"
        rows: dict[str, list[float]] = {k: [] for k in COLUMNS}
        placed: list[PlacedCount] = []
        if out.exists():
            with np.load(out) as z:
                rows = {k: [float(v) for v in z[k]] for k in COLUMNS}
            placed = _read_placed(placed_out)
        for i in range(len(rows["truth"]), len(items)):
            image, truth = items[i]()
            started = time.perf_counter()
            h, w = int(image.shape[0]), int(image.shape[1])
            boxes = np.asarray(detector(image), np.float32).reshape(-1, 4)
            full_w = min(w, density.input_width)
            full = count_from_map(density.estimate(image, input_width=full_w), boxes, rule, input_width=full_w)
            near_w = min(w, rule.near_width)
            near = count_from_map(
                density.estimate(image, input_width=near_w), boxes, rule, near=True, input_width=near_w
            )
            ms = (time.perf_counter() - started) * 1000.0
            heights = boxes[:, 3] - boxes[:, 1]
            hpx = float(np.median(heights)) if len(boxes) else 0.0
            # The gate reads the stock map's sum (count_frame: counted.stock_density), tuned tail or not.
            values = (truth, hpx / h, full.stock_density, full.combined, full.density, full.count, near.combined, ms)
            more = (float(len(boxes)), hpx, float(heights.max()) / h if len(boxes) else 0.0, float(w), float(h))
            for key, value in zip(COLUMNS, (*values, *more), strict=True):
                rows[key].append(value)
            on_near = rule.people_are_near(boxes, h) or rule.density_disagrees(full.stock_density, full.combined)
            placed.append(near.placed if on_near else full.placed)  # count_frame's path
            if i < check:  # the rows must reproduce the product's count
                product = count_frame(image, detector, density, rule).count
                mine = float(predict(_arrays(rows), rule.near_min_people, rule, rule.near_few_people)[-1])
                if abs(product - mine) > 1e-3:
                    raise SystemExit(f"{name} #{i}: rows give {mine}, count_frame {product}")
            if i % 20 == 19 or i == len(items) - 1:
                np.savez(out, **{k: np.asarray(v) for k, v in rows.items()})
                _write_placed(placed_out, placed)
                print(f"{name}: {i + 1}/{len(items)}, {ms:.0f} ms", flush=True)


def derive(sets: list[str], threads: int, check: int) -> None:
    """``collect``'s rows without its two most costly runs (seventh round, to fit a session): the
    full-width map from the int8 cache (``scripts/train_crowd_density.py cache --front int8``: the
    installed graph's ``density`` output on the product's tensor) and the person boxes from
    ``bench/crowd_tail_eval.py boxes --stride 1`` (the same tiled detector); only the near-width CSRNet
    runs here. Near counts are computed first (they need neither input), then each image waits for its
    cache and boxes. ``ms`` is NaN (no whole step is timed). The cache has no tuned map, so ``tail`` and
    ``full`` are the stock tail's (``bench/crowd_far_weights_cv.py`` runs the tails on the cache); the
    check compares the near count, or off the near path the stock sum and combined count, with
    ``count_frame``. ``shanghaitech_a_train`` is accepted too (ninth round)."""
    cfg = VigilConfig(models_dir=models_dir(), crowd=CrowdConfig(threads=threads))
    rule = CountRule.from_config(cfg.crowd)
    density = build_density(cfg, required=True)
    assert density is not None
    cache = REPO_ROOT / "build" / "crowd-train"
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sets:
        items = list_images(SHARED_DATA / "crowd" / name)
        near_rows = []
        for i, item in enumerate(items):
            image = _read(item.image)
            h, w = int(image.shape[0]), int(image.shape[1])
            near_rows.append((image.shape, density.estimate(image, input_width=min(w, rule.near_width))))
            if i % 50 == 49:
                print(f"{name}: near {i + 1}/{len(items)}", flush=True)
        rows: dict[str, list[float]] = {k: [] for k in COLUMNS}
        for item, (shape, near_map) in zip(items, near_rows, strict=True):
            feat = cache / "w1024-int8" / name / f"{item.image.stem}.npz"
            box_file = cache / "boxes" / name / f"{item.image.stem}.npy"
            while not (feat.exists() and box_file.exists()):
                time.sleep(20)
            h, w = int(shape[0]), int(shape[1])
            boxes = np.load(box_file).astype(np.float32).reshape(-1, 4)
            with np.load(feat) as z:
                dmap = np.asarray(z["density"], np.float32)
                if tuple(int(v) for v in z["frame"]) != (w, h):
                    raise SystemExit(f"{feat}: cached for another frame size")
            full_w = min(w, density.input_width)
            full = count_from_map(DensityMap(dmap, w, h, 0.0), boxes, rule, input_width=full_w)
            near_w = min(w, rule.near_width)
            near = count_from_map(near_map, boxes, rule, near=True, input_width=near_w)
            truth = float(head_points(item.truth).shape[0])
            heights = boxes[:, 3] - boxes[:, 1]
            hpx = float(np.median(heights)) if len(boxes) else 0.0
            values = (
                truth,
                hpx / h,
                full.stock_density,
                full.combined,
                full.density,
                full.count,
                near.combined,
                float("nan"),
            )
            more = (float(len(boxes)), hpx, float(heights.max()) / h if len(boxes) else 0.0, float(w), float(h))
            for key, value in zip(COLUMNS, (*values, *more), strict=True):
                rows[key].append(value)
        np.savez(OUT / f"{name}.npz", **{k: np.asarray(v) for k, v in rows.items()})
        print(f"{name}: {len(items)} rows derived", flush=True)
        if check:  # the derived rows must reproduce the product's count (detector and both runs live)
            detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
            arrays = _arrays(rows)
            near_rows = predict(
                {**arrays, "full": np.full_like(arrays["full"], np.nan)},
                rule.near_min_people,
                rule,
                rule.near_few_people,
            )
            for i in np.linspace(0, len(items) - 1, check).astype(int):
                got = count_frame(_read(items[i].image), detector, density, rule)
                # Off the near path the derived rows hold the stock map's quantities only (the cache has no
                # tuned map): there the product's stock sum and combined count must match them.
                if np.isnan(near_rows[i]):
                    mine, product = (arrays["dens"][i], arrays["comb"][i]), (got.stock_density, got.combined)
                else:
                    mine, product = (float(near_rows[i]),), (got.count,)
                if max(abs(a - b) for a, b in zip(mine, product, strict=True)) > 1e-3:
                    raise SystemExit(f"{name} #{i}: derived rows give {mine}, count_frame {product}")
            print(f"{name}: {check} images checked against count_frame", flush=True)


def _items(name: str) -> list[Callable[[], tuple[BGRImage, float]]]:
    """Loaders of each image of a set and its true count, in natural (time) order."""
    if name == "people_clip":
        return [partial(_clip_frame, frame, count) for frame, count in people_clip_counts()]
    return [partial(_labelled, item) for item in list_images(SHARED_DATA / "crowd" / name)]


def _labelled(item: LabelledImage) -> tuple[BGRImage, float]:
    return _read(item.image), float(head_points(item.truth).shape[0])


def people_clip_counts() -> list[tuple[int, float]]:
    """(frame index, people counted by eye) of the bundled clip's labelled frames."""
    with PEOPLE_CSV.open(newline="") as f:
        return [(int(r["frame"]), float(r["people"])) for r in csv.DictReader(f)]


def _clip_frame(index: int, count: float) -> tuple[BGRImage, float]:
    return _clip_frames()[index], count


@cache
def _clip_frames() -> dict[int, BGRImage]:
    """The labelled frames of the clip, decoded in order (no seeking: the index is exact)."""
    wanted = {frame for frame, _ in people_clip_counts()}
    frames: dict[int, BGRImage] = {}
    cap = cv2.VideoCapture(str(REPO_ROOT / "samples" / "people.mp4"))
    try:
        index = 0
        while len(frames) < len(wanted):
            ok, frame = cap.read()
            if not ok:
                raise SystemExit(f"samples/people.mp4: ends at frame {index}, before {max(wanted)}")
            if index in wanted:
                frames[index] = np.asarray(frame, np.uint8)
            index += 1
    finally:
        cap.release()
    return frames


def _write_placed(path: Path, placed: list[PlacedCount]) -> None:
    ends = np.cumsum([len(p.y) for p in placed], dtype=np.int64)
    y = np.concatenate([p.y for p in placed]) if placed else np.zeros(0)
    people = np.concatenate([p.people for p in placed]) if placed else np.zeros(0)
    np.savez(path, y=y, people=people, ends=ends)


def _read_placed(path: Path) -> list[PlacedCount]:
    if not path.exists():
        return []
    with np.load(path) as z:
        bounds = zip([0, *z["ends"][:-1]], z["ends"], strict=True)
        return [PlacedCount(np.asarray(z["y"][a:b]), np.asarray(z["people"][a:b])) for a, b in bounds]


def load_placed(name: str) -> list[PlacedCount]:
    """Each image's counted people by row (``collect``'s; ``derive`` keeps none)."""
    placed = _read_placed(OUT / f"{name}-placed.npz")
    n = len(_items(name))
    if len(placed) != n:
        raise SystemExit(f"{name}: placed rows of {len(placed)} of {n} images; run collect (derive keeps none)")
    return placed


def _arrays(rows: dict[str, list[float]]) -> dict[str, NDArray[np.float64]]:
    return {k: np.asarray(v, np.float64) for k, v in rows.items()}


def predict(
    r: dict[str, NDArray[np.float64]], c: float, rule: CountRule | None = None, few: float = 0.0
) -> NDArray[np.float64]:
    """Each image's count under the default rule with ``near_min_people = c`` and ``near_few_people =
    few`` (CountRule's own tests)."""
    rule = replace(rule or CountRule(), near_min_people=c, near_few_people=few)
    near = np.array(
        [
            (s > rule.near_height) or rule.density_disagrees(d, k)
            for s, d, k in zip(r["size"], r["dens"], r["comb"], strict=True)
        ],
        bool,
    )
    return np.where(near, r["near"], r["full"])


def load(sets: tuple[str, ...] = SETS) -> dict[str, dict[str, NDArray[np.float64]]]:
    out = {}
    for name in sets:
        with np.load(OUT / f"{name}.npz") as z:
            # Rows from before the eighth round have no ``tail``: they were collected with the stock tail.
            r = {k: np.asarray(z[k if k in z or k != "tail" else "dens"], np.float64) for k in COLUMNS}
        n = len(_items(name))
        if len(r["truth"]) != n:
            raise SystemExit(f"{name}: {len(r['truth'])} of {n} images collected; run collect first")
        r["fold"] = np.minimum(FOLDS - 1, np.arange(n) * FOLDS // n).astype(np.float64)
        out[name] = r
    return out


def mae(r: dict[str, NDArray[np.float64]], c: float, mask: NDArray[np.bool_]) -> float:
    return float(np.abs(predict(r, c) - r["truth"])[mask].mean())


def cv(as_json: bool) -> None:
    data = load()
    scale = {s: float(r["truth"].mean()) for s, r in data.items()}
    report: dict[str, object] = {"grid": C_GRID, "folds": []}
    for k in range(FOLDS):
        train = {s: r["fold"] != k for s, r in data.items()}
        score = {c: float(np.mean([mae(r, c, train[s]) / scale[s] for s, r in data.items()])) for c in C_GRID}
        chosen = min(C_GRID, key=lambda c: (score[c], c))
        fold: dict[str, object] = {"fold": k, "c": chosen, "score": score}
        for label, c in (("default", 0.0), ("chosen", chosen)):
            fold[label] = {s: {"train": mae(r, c, train[s]), "val": mae(r, c, ~train[s])} for s, r in data.items()}
        report["folds"].append(fold)  # type: ignore[attr-defined]
    everything = {s: np.ones(len(r["truth"]), bool) for s, r in data.items()}
    report["whole"] = {str(c): {s: round(mae(r, c, everything[s]), 3) for s, r in data.items()} for c in C_GRID}
    report["ratio_test_sends"] = {
        s: {
            "n": len(r["truth"]),
            "by_size": int((r["size"] > 0.25).sum()),
            "by_ratio_comb": sorted(
                round(float(x), 1) for x in r["comb"][(r["size"] <= 0.25) & (r["dens"] > 2 * np.maximum(r["comb"], 1))]
            ),
        }
        for s, r in data.items()
    }
    report["ms_per_image"] = {s: round(float(np.median(r["ms"])), 1) for s, r in data.items()}
    report["machine"] = machine_info()
    for f in report["folds"]:  # type: ignore[attr-defined]
        line = [f"fold {f['fold']}: C={f['c']:g}"]
        for s in SETS:
            d, c = f["default"][s], f["chosen"][s]
            line.append(f"{s} train {d['train']:.2f}->{c['train']:.2f} val {d['val']:.2f}->{c['val']:.2f}")
        print("; ".join(line))
    for s in SETS:
        for label in ("default", "chosen"):
            t = np.mean([f[label][s]["train"] for f in report["folds"]])  # type: ignore[attr-defined]
            v = np.mean([f[label][s]["val"] for f in report["folds"]])  # type: ignore[attr-defined]
            print(f"mean {s} {label}: train {t:.3f} val {v:.3f}")
    print("whole set by C:", json.dumps(report["whole"]))
    if as_json:
        print(json.dumps(report, default=float))


BAND_L = (0.0, 1.0, 2.0, 3.0, 5.0)
"""``near_few_people`` grid of the sixth round, fixed 2026-12-07 11:10 UTC before any score
(notes/issue-22-crowd-gate.md); with :data:`C_GRID` for ``near_min_people``."""
BAND_GRID = tuple((few, c) for few in BAND_L for c in C_GRID)
SIZE_H = (40.0, 80.0, 160.0)
"""Diagnostic only (not chosen): the ratio test skipped under C combined people only with a box whose
median height in CSRNet input pixels is under H."""


def predict_size(r: dict[str, NDArray[np.float64]], c: float, h_px: float) -> NDArray[np.float64]:
    rule = CountRule()
    full_w = np.minimum(r["width"], CrowdConfig().density_input_width)
    small = (r["nbox"] >= 1) & (r["hpx"] * full_w / r["width"] < h_px)
    ratio = r["dens"] > rule.near_ratio * np.maximum(r["comb"], 1.0)
    near = (r["size"] > rule.near_height) | (ratio & ~(small & (r["comb"] < c)))
    return np.where(near, r["near"], r["full"])


def band(as_json: bool) -> None:
    """Sixth round: (near_few_people, near_min_people) chosen by CV on four sets, the people clip included."""
    data = load(ALL_SETS)
    scale = {s: float(r["truth"].mean()) for s, r in data.items()}
    preds = {g: {s: predict(r, g[1], few=g[0]) for s, r in data.items()} for g in BAND_GRID}

    def err(g: tuple[float, float], s: str, mask: NDArray[np.bool_]) -> float:
        return float(np.abs(preds[g][s] - data[s]["truth"])[mask].mean())

    today = (0.0, 0.0)
    report: dict[str, object] = {"grid": BAND_GRID, "folds": []}
    folds: list[dict[str, object]] = []
    for k in range(FOLDS):
        train = {s: r["fold"] != k for s, r in data.items()}
        score = {g: float(np.mean([err(g, s, train[s]) / scale[s] for s in data])) for g in BAND_GRID}
        chosen = min(BAND_GRID, key=lambda g: (round(score[g], 9), max(0.0, g[1] - g[0]), g[1]))
        fold: dict[str, object] = {
            "fold": k,
            "choice": chosen,
            "score_chosen": score[chosen],
            "score_today": score[today],
        }
        for label, g in (("today", today), ("fifth", (0.0, 15.0)), ("chosen", chosen)):
            fold[label] = {s: {"train": err(g, s, train[s]), "val": err(g, s, ~train[s])} for s in data}
        folds.append(fold)
    report["folds"] = folds
    every = {s: np.ones(len(r["truth"]), bool) for s, r in data.items()}
    report["whole"] = {f"{g[0]:g},{g[1]:g}": {s: round(err(g, s, every[s]), 3) for s in data} for g in BAND_GRID}
    report["size_diagnostic"] = {
        f"C={c:g},H={h:g}": {
            s: round(float(np.abs(predict_size(r, c, h) - r["truth"]).mean()), 3) for s, r in data.items()
        }
        for c in (10.0, 15.0, 20.0)
        for h in SIZE_H
    }
    report["ratio_test_sends"] = {
        s: sorted(
            round(float(x), 2) for x in r["comb"][(r["size"] <= 0.25) & (r["dens"] > 2 * np.maximum(r["comb"], 1))]
        )
        for s, r in data.items()
    }
    report["ms_per_image"] = {s: round(float(np.median(r["ms"])), 1) for s, r in data.items()}
    report["machine"] = machine_info()
    for f in folds:
        line = [f"fold {f['fold']}: (L, C) = {f['choice']}"]
        for s in data:
            t, c = f["today"][s], f["chosen"][s]  # type: ignore[index]
            line.append(f"{s} train {t['train']:.2f}->{c['train']:.2f} val {t['val']:.2f}->{c['val']:.2f}")
        print("; ".join(line))
    for s in data:
        for label in ("today", "fifth", "chosen"):
            t = np.mean([f[label][s]["train"] for f in folds])  # type: ignore[index]
            v = np.mean([f[label][s]["val"] for f in folds])  # type: ignore[index]
            print(f"mean {s} {label}: train {t:.3f} val {v:.3f}")
    if as_json:
        print(json.dumps(report, default=float))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--sets", nargs="+", default=list(SETS), choices=ALL_SETS)
    c.add_argument("--check", type=int, default=3, help="compare the first N images with count_frame")
    c.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (crowd.threads; default 2)")
    d = sub.add_parser("derive", help="collect's rows from the int8 cache and the boxes (seventh round)")
    d.add_argument(
        "--sets", nargs="+", default=["shanghaitech_b_train", "mall_dev"], choices=(*SETS, "shanghaitech_a_train")
    )
    d.add_argument("--threads", type=int, default=1)
    d.add_argument("--check", type=int, default=4, help="compare N images spread over the set with count_frame")
    v = sub.add_parser("cv")
    v.add_argument("--json", action="store_true")
    b = sub.add_parser("band", help="sixth round: (near_few_people, near_min_people) by CV, people clip included")
    b.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "collect":
        collect(args.sets, args.check, args.threads)
    elif args.cmd == "derive":
        derive(args.sets, args.threads, args.check)
    elif args.cmd == "band":
        band(args.json)
    else:
        cv(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
