"""Choose the crowd counting rule by cross-validation on the training splits (issue 22).

Reads the cache of bench/crowd_cache.py (run that first) and scores, per set and fold:

* ``today``: the rule before issue 22 (tiled detections + CSRNet 384 px outside the boxes);
* ``density``: CSRNet at the frame's own width, summed;
* ``combined``: the combination rule with that density map;
Parameters are chosen by the mean over sets of MAE / mean true count.

* ``blend``: Vigil's rule (:mod:`vigil.crowd.counter`): frames of near people (median box height
  above ``a`` of the frame height, or the full-resolution CSRNet sum over ``R`` times the combined
  count) count as ``today``; the others move from ``combined`` to ``density`` linearly between
  two density sums ``lo``/``hi``. ``(a, R)`` and ``(lo, hi)`` are chosen on the training folds.

Folds (5 each, fixed): ShanghaiTech B and the sparse photos by image index mod 5; Mall by five
contiguous blocks of frames (neighbouring frames are nearly the same picture, so interleaved folds
would leak). Each validation fold is scored with the parameters chosen on the other four folds of
*all* sets pooled (mean of per-set MAE), so the figures are held-out; train-fold figures are the
same parameters scored on their own training folds.

    nice -n 10 .venv/bin/python bench/crowd_cv.py [--json OUT]
"""

# ruff: noqa: B023  (each lambda is called at once, inside its loop)
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import DEFAULT_DENSITY_FLOOR, DEFAULT_HIDDEN_HEADS_PX
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.counter import CountRule, FrameCount, count_from_map
from vigil.crowd.density import DensityMap

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "crowd-cache"
SETS = ("train", "shanghaitech_b_train", "mall_dev")
FOLDS = 5
_EDGES = (0, 20, 40, 60, 80, 120, 150, 200, 300)
RAMPS = (*((lo, hi) for lo in _EDGES for hi in _EDGES if hi > lo), (1e9, 2e9))
NEAR = tuple((a, r) for a in (0.15, 0.2, 0.25, 0.3, 9.0) for r in (2.0, 2.5, 3.0, 4.0, 1e9))
"""Gates to the near path (CSRNet at 384 px, combined count): ``(a, R)``: the median person-box
height (fraction of the frame height) above ``a``, or CSRNet's native sum more than ``R`` times the
native combined count (it fires on large people and texture)."""


@dataclass
class Item:
    set: str
    name: str
    truth: int
    fold: int
    frame: tuple[int, int]
    d384: NDArray[np.float32]
    dnat: NDArray[np.float32]
    boxes: NDArray[np.float32]
    points: NDArray[np.float32]
    ms: NDArray[np.float64]


def load(sets: Sequence[str]) -> list[Item]:
    items: list[Item] = []
    for name in sets:
        files = sorted((CACHE / name).glob("*.npz"), key=lambda p: (len(p.stem), p.stem))
        files = [f for f in files if not f.name.endswith(".tmp.npz")]
        for i, f in enumerate(files):
            z = np.load(f)
            fold = (i * FOLDS) // len(files) if name == "mall_dev" else i % FOLDS
            w, h = (int(v) for v in z["frame"])
            items.append(
                Item(
                    name,
                    f.stem,
                    int(z["points"].shape[0]),
                    fold,
                    (w, h),
                    z["d384"],
                    z["dnat"],
                    z["boxes"],
                    z["points"],
                    z["ms"],
                )
            )
    return items


def rule_counts(it: Item, dens: NDArray[np.float32]) -> tuple[float, float]:
    """(density sum, combined count) of one image with density map ``dens`` (frame-scale)."""
    w, h = it.frame
    dmap = DensityMap(dens, w, h, 0.0)
    comb = combined_count(len(it.boxes), split_density(dmap, it.boxes, DEFAULT_DENSITY_FLOOR, DEFAULT_HIDDEN_HEADS_PX))
    return dmap.count, comb


def count_cached(it: Item, rule: CountRule) -> FrameCount:
    """What :func:`vigil.crowd.counter.count_frame` counts, from the cached maps and boxes."""
    w, h = it.frame
    counted = count_from_map(DensityMap(it.dnat, w, h, 0.0), it.boxes, rule, input_width=w)
    if rule.people_are_near(it.boxes, h) or rule.density_disagrees(counted.density, counted.combined):
        counted = count_from_map(DensityMap(it.d384, w, h, 0.0), it.boxes, rule, near=True, input_width=384)
    return counted


def blend(density: float, combined: float, lo: float, hi: float) -> float:
    g = float(np.clip((density - lo) / (hi - lo), 0.0, 1.0))
    return (1.0 - g) * combined + g * density


def mae(pred: Sequence[float], truth: Sequence[float]) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(truth)))) if len(pred) else float("nan")


def per_set_mae(items: Sequence[Item], idx: Sequence[int], pred: Callable[[int], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in sorted({items[i].set for i in idx}):
        sel = [i for i in idx if items[i].set == s]
        out[s] = mae([pred(i) for i in sel], [items[i].truth for i in sel])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    items = load(args.sets)
    print({s: sum(1 for it in items if it.set == s) for s in args.sets}, file=sys.stderr)
    n = len(items)
    # Sets weigh alike: each set's MAE relative to its mean true count (Part B's 124 people would
    # otherwise outweigh Mall's 30 and the sparse photos' 15).
    mean_truth = {s: float(np.mean([it.truth for it in items if it.set == s])) for s in args.sets}
    base = [rule_counts(it, it.dnat) for it in items]
    # Near people: CSRNet at 384 px and the combined count only (detection is sure of large people).
    low = [(c, c) for _, c in (rule_counts(it, it.d384) for it in items)]
    today = [c[1] for c in low]
    size = [float(np.median(it.boxes[:, 3] - it.boxes[:, 1])) / it.frame[1] if len(it.boxes) else 0.0 for it in items]

    def switched(
        near: tuple[float, float], native: Sequence[tuple[float, float]], reduced: Sequence[tuple[float, float]] = low
    ) -> list[tuple[float, float]]:
        a, r = near
        return [reduced[i] if size[i] > a or base[i][0] > r * max(base[i][1], 1.0) else native[i] for i in range(n)]

    report: dict[str, object] = {"folds": FOLDS, "n": {s: sum(1 for it in items if it.set == s) for s in args.sets}}
    rows: dict[str, dict[str, list[float]]] = {}

    def add(method: str, split: str, figures: dict[str, float]) -> None:
        for s, v in figures.items():
            rows.setdefault(f"{method} {split}", {}).setdefault(s, []).append(v)

    chosen: list[dict[str, object]] = []
    for k in range(FOLDS):
        tr = [i for i in range(n) if items[i].fold != k]
        va = [i for i in range(n) if items[i].fold == k]
        for split, idx in (("train", tr), ("val", va)):
            add("today", split, per_set_mae(items, idx, lambda i: today[i]))
            add("density", split, per_set_mae(items, idx, lambda i: base[i][0]))
            add("combined", split, per_set_mae(items, idx, lambda i: base[i][1]))

        def pick(
            native: Sequence[tuple[float, float]], idx: Sequence[int], reduced: Sequence[tuple[float, float]] = low
        ) -> tuple[tuple[float, float], float, float]:
            scores: dict[tuple[tuple[float, float], float, float], float] = {}
            for near in NEAR:
                counts = switched(near, native, reduced)
                for r in RAMPS:
                    maes = per_set_mae(items, idx, lambda i: blend(*counts[i], *r))
                    scores[(near, *r)] = float(np.mean([m / mean_truth[s] for s, m in maes.items()]))
            return min(scores, key=lambda r: scores[r])

        near, *ramp = pick(base, tr)
        sw = switched(near, base)
        for split, idx in (("train", tr), ("val", va)):
            add("blend", split, per_set_mae(items, idx, lambda i: blend(*sw[i], *ramp)))
        fold_choice: dict[str, object] = {"fold": k, "near": near, "ramp": ramp}
        chosen.append(fold_choice)
        print(f"fold {k}: {fold_choice}", file=sys.stderr)
        if k == 0:
            final = pick(base, list(range(n)))  # the default: chosen on every fold together
    table = {name: {s: round(float(np.mean(v)), 3) for s, v in per.items()} for name, per in rows.items()}
    report |= {"mae_mean_over_folds": table, "chosen": chosen, "chosen_on_all": final}
    print(f"chosen on all folds (the default): near {final[0]}, ramp {final[1:]}", file=sys.stderr)
    for name, per in table.items():
        print(f"{name:24s} " + "  ".join(f"{s} {v:7.2f}" for s, v in per.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
