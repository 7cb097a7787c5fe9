"""Choose the crowd counting rule by cross-validation on the training splits (issue 22).

Reads the cache of bench/crowd_cache.py (run that first) and scores, per set and fold:

* ``today``: the rule before issue 22 (tiled detections + CSRNet 384 px outside the boxes);
* ``density``: CSRNet at the frame's own width, summed;
* ``combined``: the combination rule with that density map;
* ``blend``: combined where CSRNet finds a sparse scene, density where it finds a crowd, with a
  linear ramp between two density sums ``lo``/``hi`` chosen on the training folds;
* the same with CSRNet's 1x1 output layer refitted (ridge towards the stock weights, ``lambda``
  chosen on the training folds) to the training folds' heads: ``*_tuned``.

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
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import DEFAULT_DENSITY_FLOOR, DEFAULT_HIDDEN_HEADS_PX
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.density import DensityMap

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "crowd-cache"
SETS = ("train", "shanghaitech_b_train", "mall_dev")
FOLDS = 5
LAMBDAS = (1e2, 1e3, 1e4, 1e5)
_EDGES = (0, 20, 40, 60, 80, 120, 150, 200, 300)
RAMPS = (*((lo, hi) for lo in _EDGES for hi in _EDGES if hi > lo), (1e9, 2e9))
NEAR = (0.15, 0.2, 0.25, 0.3, 0.4, 9.0)
"""Median person-box height (fraction of the frame height) above which CSRNet runs at 384 px."""


@dataclass
class Item:
    set: str
    name: str
    truth: int
    fold: int
    frame: tuple[int, int]
    d384: NDArray[np.float32]
    dnat: NDArray[np.float32]
    feat: NDArray[np.float16]
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
                    z["feat"],
                    z["boxes"],
                    z["points"],
                    z["ms"],
                )
            )
    return items


def cell_targets(item: Item) -> NDArray[np.float32]:
    """Heads binned into the native density map's cells (people per cell)."""
    h, w = item.dnat.shape
    s = w / item.frame[0]
    target = np.zeros((h, w), dtype=np.float32)
    if item.points.size:
        c = np.clip((item.points[:, 0] * s / 8).astype(int), 0, w - 1)
        r = np.clip((item.points[:, 1] * s / 8).astype(int), 0, h - 1)
        np.add.at(target, (r, c), 1.0)
    return target


def stock_head() -> NDArray[np.float64]:
    import onnx
    from onnx import numpy_helper

    from vigil.config import VigilConfig
    from vigil.config.load import apply_env

    cfg = apply_env(VigilConfig())
    model = onnx.load(str(cfg.resolved_models_dir / "csrnet" / "model.onnx"))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return np.concatenate([arrays["output_layer_w"].reshape(-1), arrays["output_layer_b"].reshape(-1)]).astype(
        np.float64
    )


class Gram:
    """Per-item X^T X and X^T y of the cell-level regression (features + 1 → heads per cell)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.xtx: list[NDArray[np.float64]] = []
        self.xty: list[NDArray[np.float64]] = []
        for it in items:
            x = it.feat.reshape(64, -1).astype(np.float32).T
            x = np.concatenate([x, np.ones((x.shape[0], 1), np.float32)], axis=1)
            y = cell_targets(it).reshape(-1)
            self.xtx.append((x.T @ x).astype(np.float64))
            self.xty.append((x.T @ y).astype(np.float64))

    def fit(self, idx: Sequence[int], lam: float, w0: NDArray[np.float64]) -> NDArray[np.float64]:
        a = sum(self.xtx[i] for i in idx) + lam * np.eye(65)
        b = sum(self.xty[i] for i in idx) + lam * w0
        return np.linalg.solve(a, b)


def tuned_map(it: Item, head: NDArray[np.float64]) -> NDArray[np.float32]:
    f = it.feat.astype(np.float32)
    return (np.tensordot(head[:64].astype(np.float32), f, axes=(0, 0)) + np.float32(head[64])).astype(np.float32)


def rule_counts(it: Item, dens: NDArray[np.float32]) -> tuple[float, float]:
    """(density sum, combined count) of one image with density map ``dens`` (frame-scale)."""
    w, h = it.frame
    dmap = DensityMap(dens, w, h, 0.0)
    comb = combined_count(len(it.boxes), split_density(dmap, it.boxes, DEFAULT_DENSITY_FLOOR, DEFAULT_HIDDEN_HEADS_PX))
    return dmap.count, comb


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
    parser.add_argument("--no-tune", action="store_true")
    args = parser.parse_args(argv)
    items = load(args.sets)
    print({s: sum(1 for it in items if it.set == s) for s in args.sets}, file=sys.stderr)
    n = len(items)
    base = [rule_counts(it, it.dnat) for it in items]
    low = [rule_counts(it, it.d384) for it in items]
    today = [c[1] for c in low]
    size = [float(np.median(it.boxes[:, 3] - it.boxes[:, 1])) / it.frame[1] if len(it.boxes) else 0.0 for it in items]

    def switched(near: float, native: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [low[i] if size[i] > near else native[i] for i in range(n)]

    w0 = stock_head()
    gram = None if args.no_tune else Gram(items)
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

        def pick(native: Sequence[tuple[float, float]], idx: Sequence[int]) -> tuple[float, float, float]:
            scores = {}
            for near in NEAR:
                counts = switched(near, native)
                for r in RAMPS:
                    scores[(near, *r)] = float(
                        np.mean(list(per_set_mae(items, idx, lambda i: blend(*counts[i], *r)).values()))
                    )
            return min(scores, key=lambda r: scores[r])

        near, *ramp = pick(base, tr)
        sw = switched(near, base)
        for split, idx in (("train", tr), ("val", va)):
            add("blend", split, per_set_mae(items, idx, lambda i: blend(*sw[i], *ramp)))
        fold_choice: dict[str, object] = {"fold": k, "near": near, "ramp": ramp}
        if gram is not None:
            best: tuple[float, float, list[tuple[float, float]], tuple[float, float, float]] | None = None
            # lambda and ramp chosen on the training folds only (inner: fit on them, score on them).
            for lam in LAMBDAS:
                head = gram.fit(tr, lam, w0)
                tuned = [rule_counts(it, tuned_map(it, head)) for it in items]
                near_t, *r = pick(tuned, tr)
                tuned = switched(near_t, tuned)
                score = float(np.mean(list(per_set_mae(items, tr, lambda i: blend(*tuned[i], *r)).values())))
                if best is None or score < best[0]:
                    best = (score, lam, tuned, (near_t, *r))
            assert best is not None
            _, lam, tuned, r = best
            fold_choice |= {"lambda": lam, "ramp_tuned": r}
            for split, idx in (("train", tr), ("val", va)):
                add("density_tuned", split, per_set_mae(items, idx, lambda i: tuned[i][0]))
                add("combined_tuned", split, per_set_mae(items, idx, lambda i: tuned[i][1]))
                add("blend_tuned", split, per_set_mae(items, idx, lambda i: blend(*tuned[i], *r[1:])))
        chosen.append(fold_choice)
        print(f"fold {k}: {fold_choice}", file=sys.stderr)
    table = {name: {s: round(float(np.mean(v)), 3) for s, v in per.items()} for name, per in rows.items()}
    report |= {"mae_mean_over_folds": table, "chosen": chosen}
    for name, per in table.items():
        print(f"{name:24s} " + "  ".join(f"{s} {v:7.2f}" for s, v in per.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    _ = itertools
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
