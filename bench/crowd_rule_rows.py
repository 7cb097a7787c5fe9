"""The far-path rule (frames off the near path) by CV on the product's rows, measured only (issue 22).

Reads the rows of ``bench/crowd_gate_rows.py collect`` (``build/crowd-gate/SET.npz``: each image's
combined count ``comb`` and CSRNet's own-width sum ``dens`` on the product's own path). The near
path (size or ratio test, today's gate ``near_few_people`` 5 / ``near_min_people`` 15) is left as
it is; only frames off it are recounted. Today's far path is the ``blend_people`` ramp (0, 40):
``(1 - w) * comb + w * dens`` with ``w = clip(dens / 40, 0, 1)``. Two families, fixed before any
score (notes/issue-22-crowd-rule.md, 12:05 UTC):

* ``S`` (scaled ramp): ``(1 - w) * s * comb + w * dens``, ``w = clip(dens / T, 0, 1)``, s in
  :data:`S_GRID`, T in :data:`T_GRID` (``inf``: ``s * comb`` alone); chosen per fold on the four
  training folds, ties to today's (1, 40), then the smaller s, then the smaller T;
* ``L`` (linear): ``a * comb + b * dens`` (a, b >= 0, no intercept), fitted per fold on the
  training folds of the four sets pooled by minimising the criterion itself on a 0.01 grid
  (a <= 2, b <= 1.5; ties to the smaller a + b).

Folds and criterion as ``crowd_gate_rows.py band``: five contiguous blocks of each set in natural
(time) order; on the four training folds, the mean over the four sets (30 sparse photos, 400 Part B
training photos, 400 Mall dev frames, 40 people-clip frames) of MAE / the set's mean true count.
Row arithmetic only, no model runs (< 10 s).

    .venv/bin/python bench/crowd_rule_rows.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from benchlib import machine_info
from crowd_gate_rows import ALL_SETS, FOLDS, load
from vigil.config.crowd import CrowdConfig
from vigil.crowd.counter import CountRule

Rows = dict[str, NDArray[np.float64]]
Rule = Callable[[Rows], NDArray[np.float64]]
"""rows -> every image's count (near-path frames as today)."""

S_GRID = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
T_GRID = (40.0, 80.0, 120.0, 200.0, float("inf"))
TODAY = (1.0, 40.0)
A_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.01), 2)
B_GRID = np.round(np.arange(0.0, 1.5 + 1e-9, 0.01), 2)


def near_mask(r: Rows) -> NDArray[np.bool_]:
    """Frames the default gate sends to the near path (they keep today's count)."""
    rule = CountRule.from_config(CrowdConfig())
    return np.array(
        [
            (s > rule.near_height) or rule.density_disagrees(d, k)
            for s, d, k in zip(r["size"], r["dens"], r["comb"], strict=True)
        ],
        bool,
    )


def scaled(s: float, t: float) -> Rule:
    def count(r: Rows) -> NDArray[np.float64]:
        w = np.zeros_like(r["dens"]) if np.isinf(t) else np.clip(r["dens"] / t, 0.0, 1.0)
        far = (1.0 - w) * s * r["comb"] + w * r["dens"]
        return np.where(r["near_path"] > 0, r["near"], far)

    return count


def linear(a: float, b: float) -> Rule:
    def count(r: Rows) -> NDArray[np.float64]:
        return np.where(r["near_path"] > 0, r["near"], a * r["comb"] + b * r["dens"])

    return count


def fit_linear(data: dict[str, Rows], train: dict[str, NDArray[np.bool_]]) -> tuple[float, float]:
    """(a, b) minimising the criterion on the training folds (every grid point scored)."""
    scale = {s: float(r["truth"].mean()) for s, r in data.items()}
    aa, bb = np.meshgrid(A_GRID, B_GRID, indexing="ij")
    total = np.zeros(aa.shape)
    for s, r in data.items():
        m = train[s]
        far = m & (r["near_path"] == 0)
        fixed = float(np.abs(r["near"] - r["truth"])[m & (r["near_path"] > 0)].sum())
        err = np.zeros(aa.shape)
        for c, d, t in zip(r["comb"][far], r["dens"][far], r["truth"][far], strict=True):
            err += np.abs(aa * c + bb * d - t)
        total += (err + fixed) / m.sum() / scale[s]
    total /= len(data)
    key = np.round(total, 9) + 1e-12 * (aa + bb)
    i, j = np.unravel_index(int(np.argmin(key)), key.shape)
    return float(A_GRID[i]), float(B_GRID[j])


def run(as_json: bool) -> None:
    data = load(ALL_SETS)
    for r in data.values():
        r["near_path"] = near_mask(r).astype(np.float64)
        today = np.where(r["near_path"] > 0, r["near"], r["full"])
        assert np.allclose(scaled(*TODAY)(r), today), "today's ramp must reproduce the rows' count"
    scale = {s: float(r["truth"].mean()) for s, r in data.items()}
    grid = [(s, t) for s in S_GRID for t in T_GRID]
    preds = {g: {s: scaled(*g)(r) for s, r in data.items()} for g in grid}

    def err(p: dict[str, NDArray[np.float64]], s: str, mask: NDArray[np.bool_]) -> float:
        return float(np.abs(p[s] - data[s]["truth"])[mask].mean())

    def crit(p: dict[str, NDArray[np.float64]], train: dict[str, NDArray[np.bool_]]) -> float:
        return float(np.mean([err(p, s, train[s]) / scale[s] for s in data]))

    folds: list[dict[str, object]] = []
    oof = {label: {s: np.zeros_like(r["truth"]) for s, r in data.items()} for label in ("today", "S", "L")}
    for k in range(FOLDS):
        train = {s: r["fold"] != k for s, r in data.items()}
        score = {g: crit(preds[g], train) for g in grid}
        chosen = min(grid, key=lambda g: (round(score[g], 9), g != TODAY, g[0], g[1]))
        a, b = fit_linear(data, train)
        lin = {s: linear(a, b)(r) for s, r in data.items()}
        fold: dict[str, object] = {
            "fold": k,
            "S_choice": chosen,
            "L_fit": (a, b),
            "crit": {"today": score[TODAY], "S": score[chosen], "L": crit(lin, train)},
        }
        for label, p in (("today", preds[TODAY]), ("S", preds[chosen]), ("L", lin)):
            fold[label] = {s: {"train": err(p, s, train[s]), "val": err(p, s, ~train[s])} for s in data}
            for s in data:
                oof[label][s][~train[s]] = p[s][~train[s]]
        folds.append(fold)
    # each image counted by the rule its held-out fold chose: MAE, RMSE, bias, MAE by true count
    bands: dict[str, dict[str, object]] = {}
    for label, p in oof.items():
        bands[label] = {}
        for s, r in data.items():
            e, truth = p[s] - r["truth"], r["truth"]
            by = {
                f"{lo:g}-{hi:g}": (
                    round(float(np.abs(e[(truth >= lo) & (truth < hi)]).mean()), 2),
                    int(((truth >= lo) & (truth < hi)).sum()),
                )
                for lo, hi in ((0, 20), (20, 100), (100, 1e9))
                if ((truth >= lo) & (truth < hi)).any()
            }
            bands[label][s] = {
                "mae": round(float(np.abs(e).mean()), 3),
                "rmse": round(float(np.sqrt((e**2).mean())), 2),
                "bias": round(float(e.mean()), 2),
                "by_count": by,
            }
    every = {s: np.ones(len(r["truth"]), bool) for s, r in data.items()}
    whole = {f"s={g[0]:g},T={g[1]:g}": {s: round(err(preds[g], s, every[s]), 3) for s in data} for g in grid}
    a, b = fit_linear(data, every)
    lin = {s: linear(a, b)(r) for s, r in data.items()}
    bias = {
        label: {s: round(float((p[s] - data[s]["truth"]).mean()), 2) for s in data}
        for label, p in (("today", preds[TODAY]), ("L_all", lin))
    }
    per_set = {}  # diagnostic only: each set's own L fit, made and scored on all of it (a bound)
    for name in data:
        one = {name: data[name]}
        pa, pb = fit_linear(one, {name: every[name]})
        per_set[name] = {"a": pa, "b": pb, "mae": round(err({name: linear(pa, pb)(data[name])}, name, every[name]), 3)}
    report = {
        "grid": grid,
        "per_set_in_sample": per_set,
        "out_of_fold": bands,
        "folds": folds,
        "whole": whole,
        "L_all": {"a": a, "b": b, "mae": {s: round(err(lin, s, every[s]), 3) for s in data}},
        "bias": bias,
        "far_frames": {s: int((r["near_path"] == 0).sum()) for s, r in data.items()},
        "machine": machine_info(),
    }
    print("far-path frames:", report["far_frames"])
    for f in folds:
        line = [f"fold {f['fold']}: S (s, T) = {f['S_choice']}, L (a, b) = {f['L_fit']}"]
        for s in data:
            t, c, lf = f["today"][s], f["S"][s], f["L"][s]  # type: ignore[index]
            line.append(
                f"{s} train {t['train']:.2f}/{c['train']:.2f}/{lf['train']:.2f}"
                f" val {t['val']:.2f}/{c['val']:.2f}/{lf['val']:.2f}"
            )
        print("; ".join(line))
    for s in data:
        for label in ("today", "S", "L"):
            t = np.mean([f[label][s]["train"] for f in folds])  # type: ignore[index]
            v = np.mean([f[label][s]["val"] for f in folds])  # type: ignore[index]
            print(f"mean {s} {label}: train {t:.3f} val {v:.3f}")
    print("L on all:", report["L_all"], "bias:", bias)
    print("each set's own L, in-sample:", per_set)
    for label, by_set in bands.items():
        shown = {s: by_set[s] for s in ("shanghaitech_b_train", "mall_dev")}
        print(f"out of fold {label}:", json.dumps(shown))
    if as_json:
        print(json.dumps(report, default=float))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    run(p.parse_args(argv).json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
