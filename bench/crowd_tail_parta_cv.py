"""The tuned tail trained with ShanghaiTech Part A in it, by 5-fold CV (issue 22, eleventh round).

The ninth and tenth rounds (``bench/crowd_far_weights_cv.py``, ``bench/crowd_dense_gate_cv.py``) found
that the default's over-count on Part A train (MAE 73.29, bias +47.7) is the tuned tail's, not the far
weights' or a size gate's. This bench asks whether a tail trained with Part A's training folds in it
(``scripts/train_crowd_density.py cv --front int8 --sets B Mall A --train-sets B Mall A``, the same
hyper-parameters ``r5m4lr5e12`` and seeds 22 + fold), with the far weights refitted per fold as today,
removes the over-count without losing Part B or Mall. Fixed before any score
(notes/issue-22-crowda.md, 00:14 UTC):

* ``today`` (T0): the fold tails trained on Part B + Mall folds != k (the ninth round's, retrained in the
  same run); Part A is out of sample for them (tail k scores it all; its fold k is the validation rows);
* candidates (at most two): ``V1`` Part A in the tail's training at weight 1; ``V2`` at weight 0.25;
* the far weights of every family, per fold, "as today" (the seventh round's linear rule): (a, b) on the
  0.01 grid minimising, on the training folds, the mean over the four old sets (sparse photos, Part B,
  Mall, people clip) of MAE / the set's mean true count (Part A not in the rule's fit); ties to the
  smaller a + b, then a;
* bar, validation folds, against today's same-run figures: Part B and Mall means <= 1.02 x today's; no
  fold of Part B or Mall > 1.10 x today's same fold; Part A's mean < 73.29 (the eighth round's figure);
  sparse <= 4. If two pass: the lower mean over Part B, Mall and Part A of validation MAE / mean count.

The near path reads the stock map and is untouched: the sparse photos and the people clip cannot change
(asserted). Inputs as ``bench/crowd_far_weights_cv.py`` (rows from ``bench/crowd_gate_rows.py derive`` /
``collect``; each family's tails' sums kept in ``CV/far_tails.npz``).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/crowd_tail_parta_cv.py \\
        --today build/crowd-train/w1024-int8/cv-r5m4lr5e12 \\
        --cand V1=build/crowd-train/w1024-int8/cv-r5m4lr5e12pa1 [--cand V2=...pa025] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchlib import machine_info
from crowd_far_weights_cv import (
    MEAN_SLACK,
    NEAR_ONLY,
    OLD_SETS,
    PART_A,
    SETS,
    SPARSE_MAX,
    WORSE_FOLD,
    Rows,
    fit,
    linear,
    rows,
    stock,
)
from crowd_gate_rows import FOLDS

PART_B, MALL = "shanghaitech_b_train", "mall_dev"
PART_A_TODAY = 73.29
"""The default's Part A MAE (``vigil crowd eval``, eighth round): the bar's Part A line."""
BARRED = (PART_B, MALL)


def score(data: dict[str, Rows]) -> dict[str, object]:
    """Per fold: the far-weights fit as today's and every set's train / validation MAE with it."""
    folds: list[dict[str, object]] = []
    oof = {s: np.zeros_like(r["truth"]) for s, r in data.items()}
    for k in range(FOLDS):
        t = k + 1
        train = {s: r["fold"] != k for s, r in data.items()}
        ab = fit(data, train, t, OLD_SETS, cap=False)
        cells: dict[str, dict[str, float]] = {}
        for s, r in data.items():
            p = linear(r, t, ab)
            e = p - r["truth"]
            val = ~train[s]
            oof[s][val] = p[val]
            far = (r["near_path"] == 0) & val
            cells[s] = {
                "train": float(np.abs(e[train[s]]).mean()),
                "val": float(np.abs(e[val]).mean()),
                "val_bias": float(e[val].mean()),
                # The fold tail's sum alone off the near path (no rule): the tail's own bias.
                "val_tail_bias": float((r["tdens"][t] - r["truth"])[far].mean()) if far.any() else 0.0,
            }
        for s in NEAR_ONLY:
            assert np.array_equal(linear(data[s], t, ab), data[s]["near"]), f"{s} left the near path"
        folds.append({"fold": k, "fit": ab, "cells": cells})
    whole = {}
    for s, r in data.items():
        e = oof[s] - r["truth"]
        whole[s] = [float(np.abs(e).mean()), float(np.sqrt((e**2).mean())), float(e.mean())]
    return {"folds": folds, "oof": whole}


def cell(fam: dict[str, object], k: int, s: str, key: str) -> float:
    return float(fam["folds"][k]["cells"][s][key])  # type: ignore[index]


def mean_val(fam: dict[str, object], s: str) -> float:
    return float(np.mean([cell(fam, k, s, "val") for k in range(FOLDS)]))


def bar(fam: dict[str, object], today: dict[str, object], scale: dict[str, float]) -> dict[str, object]:
    worst = {s: max(cell(fam, k, s, "val") / cell(today, k, s, "val") for k in range(FOLDS)) for s in BARRED}
    checks = {
        "partb_mean": mean_val(fam, PART_B) <= MEAN_SLACK * mean_val(today, PART_B),
        "mall_mean": mean_val(fam, MALL) <= MEAN_SLACK * mean_val(today, MALL),
        "worst_fold": all(v <= WORSE_FOLD + 1e-9 for v in worst.values()),
        "parta_better": mean_val(fam, PART_A) < PART_A_TODAY,
        "sparse": mean_val(fam, "train") <= SPARSE_MAX,
    }
    crit = float(np.mean([mean_val(fam, s) / scale[s] for s in (PART_B, MALL, PART_A)]))
    return {"passes": all(checks.values()), "checks": checks, "worst_ratio": worst, "crit_val": crit}


def run(today_cv: Path, cands: dict[str, Path], as_json: bool) -> None:
    fams: dict[str, dict[str, object]] = {}
    data0: dict[str, Rows] = {}
    for lab, cv in {"today": today_cv, **cands}.items():
        data = rows(cv)
        data0 = data0 or data
        fams[lab] = score(data)
        if lab == "today":
            fams["stock"] = {"folds": [{"cells": {s: _stock_cells(r, k) for s, r in data.items()}} for k in range(5)]}
    scale = {s: float(r["truth"].mean()) for s, r in data0.items()}
    labels = ["stock", "today", *cands]
    print("fits (a, b) per fold: " + "; ".join(f"{lab} {[f['fit'] for f in fams[lab]['folds']]}" for lab in labels[1:]))  # type: ignore[index]
    for s in SETS:
        print(f"\n{s}: MAE train folds / validation fold (validation bias)")
        print("| fold | " + " | ".join(labels) + " |")
        print("|---|" + "---|" * len(labels))
        for k in range(FOLDS):
            row = [
                f"{cell(fams[lab], k, s, 'train'):.2f} / {cell(fams[lab], k, s, 'val'):.2f} "
                f"({cell(fams[lab], k, s, 'val_bias'):+.1f})"
                for lab in labels
            ]
            print(f"| {k} | " + " | ".join(row) + " |")
        means = [
            f"{np.mean([cell(fams[lab], k, s, 'train') for k in range(FOLDS)]):.2f} / {mean_val(fams[lab], s):.2f}"
            for lab in labels
        ]
        print("| mean | " + " | ".join(means) + " |")
    for lab in labels[1:]:
        tb = {
            s: [round(cell(fams[lab], k, s, "val_tail_bias"), 1) for k in range(FOLDS)] for s in (PART_B, MALL, PART_A)
        }
        print(f"{lab}: the fold tail's sum alone off the near path, validation bias per fold: {json.dumps(tb)}")
        print(f"{lab} out of fold (MAE, RMSE, bias): {json.dumps(fams[lab]['oof'])}")
    bars = {lab: bar(fams[lab], fams["today"], scale) for lab in cands}
    for lab, b in bars.items():
        print(f"bar {lab}: {json.dumps(b)}")
    passing = [lab for lab in cands if bars[lab]["passes"]]
    chosen = (
        min(passing, key=lambda lab: (round(float(bars[lab]["crit_val"]), 9), list(cands).index(lab)))
        if passing
        else None
    )  # type: ignore[arg-type]
    mean_fit = {
        lab: [round(float(v), 2) for v in np.mean([f["fit"] for f in fams[lab]["folds"]], axis=0)] for lab in labels[1:]
    }  # type: ignore[index]
    print(f"today's validation means: { {s: round(mean_val(fams['today'], s), 2) for s in SETS} }")
    print(f"passing: {passing}; chosen: {chosen}; mean of the fold fits: {json.dumps(mean_fit)}")
    if as_json:
        out = {"families": fams, "bar": bars, "chosen": chosen, "mean_fit": mean_fit, "machine": machine_info()}
        print(json.dumps(out, default=float))


def _stock_cells(r: Rows, k: int) -> dict[str, float]:
    """Before the eighth round (the stock tail with its ramp), for reference."""
    e = stock(r) - r["truth"]
    val = r["fold"] == k
    return {
        "train": float(np.abs(e[~val]).mean()),
        "val": float(np.abs(e[val]).mean()),
        "val_bias": float(e[val].mean()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--today", type=Path, required=True, help="cv folder of today's fold tails (Part B + Mall)")
    p.add_argument("--cand", action="append", default=[], help="NAME=cv folder of a candidate's fold tails")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    cands = {c.split("=", 1)[0]: Path(c.split("=", 1)[1]) for c in args.cand}
    run(args.today, cands, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
