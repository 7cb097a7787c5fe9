"""Off the near path, the stock and the fine-tuned tail together, by CV (issue 22, seventh round).

The sixth round found the fine-tuned tail (``r5m4lr5e12``) better on Part B in every fold but 10.6 %
worse on Mall's first block, and a linear far-path rule on the stock map neutral on Mall. This bench
scores, on the same five contiguous folds per set, two ways of using both maps off the near path
(the gate and the near path read the stock output, exactly as today, so the sparse photos and the
people clip, which all take the near path, cannot change):

* ``blend-count``: ``w * tuned + (1 - w) * stock``, where ``stock`` is today's far-path count (the
  ``blend_people`` ramp (0, 40) on the stock map: the combined count where CSRNet sees few people)
  and ``tuned`` the product's count on the tuned map (``crowd.tail_blend_people`` (0, 1): its sum);
* ``blend-map``: the product's count (tuned rule) on the blended map ``w * T + (1 - w) * S``, i.e.
  about ``w`` of the tuned sum plus ``1 - w`` of the stock sum (the per-cell clip aside);
  for both, ``w`` in :data:`W_GRID` is chosen per fold on the training folds of the four sets pooled,
  ties to the smaller ``w``;
* ``linear``: ``a * comb + b * tdens`` (a, b >= 0, no intercept; ``comb`` the stock combined count,
  ``tdens`` the tuned map's sum) fitted on the pooled training folds as ``bench/crowd_rule_rows.py``
  does on the stock map; ``linear-tc`` (diagnostic, not a candidate) uses the tuned map's combined count.

Fold k is scored with fold k's tail (never trained on fold k); its training-fold figures use the same
tail (in-sample for the tail). Criterion as the gate's CV: on the training folds, the mean over the
four sets of MAE / the set's mean true count. The grid and the bar were fixed before any score
(notes/issue-22-crowd-blend.md, 14:05 UTC). Inputs as ``bench/crowd_tail_int8_cv.py`` plus
``build/crowd-gate/people_clip.npz``; each tail's quantities are kept in ``CV/blend_tail{t}.npz`` (a rerun is
row arithmetic, seconds; ``--tails`` fills them while other folds still train).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/crowd_blend_rows.py \
        --cv build/crowd-train/w1024-int8/cv-r5m4lr5e12 [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import train_crowd_density as tcd

from benchlib import machine_info
from crowd_gate_rows import FOLDS, load
from crowd_rule_rows import fit_linear, near_mask
from vigil.config.crowd import CrowdConfig
from vigil.crowd.counter import CountRule, count_from_map
from vigil.crowd.dataset import list_images
from vigil.crowd.density import DensityMap

Rows = dict[str, NDArray[np.float64]]
W_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
TUNED_RAMP = (0.0, 1.0)
"""The product's ``crowd.tail_blend_people`` default then (retired in the eighth round for the linear rule):
off the near path, the tuned map's sum."""
CACHED = ("shanghaitech_b_train", "mall_dev")
NEAR_ONLY = ("train", "people_clip")
SETS = ("train", "shanghaitech_b_train", "mall_dev", "people_clip")
BAR_WORSE = 1.10
"""The lead's bar: no validation fold of any set more than 10 % worse than today."""
SPARSE_MAX = 4.0


def tail_rows(cv: Path, t: int, rule: CountRule) -> dict[str, NDArray[np.float64]]:
    """Tail ``t``'s quantities (0: stock, a check; k + 1: fold k's), kept in ``CV/blend_tail{t}.npz``:
    per cached set ``SET/tdens``, ``SET/tcomb`` on the tail's map and ``SET/mcount`` (W_GRID, images),
    the product's far-path count on the blended map ``w * T + (1 - w) * S`` with the tuned rule
    (``crowd.tail_blend_people``)."""
    import torch

    store = cv / f"blend_tail{t}.npz"
    if store.exists():
        with np.load(store) as z:
            return {k: z[k] for k in z.files}
    torch.set_num_threads(1)
    stock_tail = tcd._torch_tail(tcd.stock_tail(tcd.default_model("int8")))
    tail = stock_tail if t == 0 else tcd._torch_tail(dict(np.load(cv / f"fold{t - 1}.npz")))
    tuned_rule = replace(rule, blend_from=TUNED_RAMP[0], blend_to=TUNED_RAMP[1])  # the retired tail_blend_people
    out: dict[str, NDArray[np.float64]] = {}
    for name in CACHED:
        items = list_images(tcd.DATA / name)
        dens, comb = np.zeros(len(items)), np.zeros(len(items))
        mcount = np.zeros((len(W_GRID), len(items)))
        for i, item in enumerate(items):
            path = tcd.cache_dir(1024, "int8") / name / f"{item.image.stem}.npz"
            with np.load(path) as z:
                w, h = (int(v) for v in z["frame"])
            x = torch.from_numpy(np.load(tcd.frozen_path(path, 2)).astype(np.float32))
            boxes = np.load(tcd.CACHE / "boxes" / name / f"{item.image.stem}.npy")
            width = min(w, 1024)
            with torch.no_grad():
                s_map = np.asarray(stock_tail[2:](x)[0, 0].numpy(), np.float32)
                t_map = np.asarray(tail[2:](x)[0, 0].numpy(), np.float32)
            c = count_from_map(DensityMap(t_map, w, h, 0.0), boxes, rule, input_width=width)
            dens[i], comb[i] = c.density, c.combined
            for j, wt in enumerate(W_GRID):
                mixed = (np.float32(wt) * t_map + np.float32(1.0 - wt) * s_map).astype(np.float32)
                m = count_from_map(DensityMap(mixed, w, h, 0.0), boxes, tuned_rule, input_width=width)
                mcount[j, i] = m.count
            if i % 100 == 99:
                print(f"tail {t} {name}: {i + 1}/{len(items)}", flush=True)
        out[f"{name}/tdens"], out[f"{name}/tcomb"], out[f"{name}/mcount"] = dens, comb, mcount
    np.savez(store, **out)
    return out


def map_rows(cv: Path, rule: CountRule) -> dict[str, Rows]:
    """Per cached set: the product's rows plus ``tdens`` / ``tcomb`` (tails, images) and ``mcount``
    (tails, W_GRID, images) of every tail (0: stock; k + 1: fold k's)."""
    tails = [tail_rows(cv, t, rule) for t in range(FOLDS + 1)]
    out = {}
    for name in CACHED:
        r = load((name,))[name]
        for key in ("tdens", "tcomb", "mcount"):
            r[key] = np.stack([tr[f"{name}/{key}"] for tr in tails])
        off = max(float(np.abs(r["tdens"][0] - r["dens"]).max()), float(np.abs(r["tcomb"][0] - r["comb"]).max()))
        if off > 1e-3:
            raise SystemExit(f"{name}: the stock tail on the cache is {off:.4f} off the product's rows")
        out[name] = r
    return out


def rows(cv: Path) -> dict[str, Rows]:
    """Every set's rows with ``near_path`` (today's gate) and the tails' quantities."""
    data = map_rows(cv, CountRule.from_config(CrowdConfig()))
    # the sparse photos and the clip take the near path only (asserted below): no tail runs there
    for name in NEAR_ONLY:
        r = load((name,))[name]
        r["tdens"] = np.tile(r["dens"], (FOLDS + 1, 1))
        r["tcomb"] = np.tile(r["comb"], (FOLDS + 1, 1))
        r["mcount"] = np.zeros((FOLDS + 1, len(W_GRID), len(r["dens"])))
        data[name] = r
    for name, r in data.items():
        r["near_path"] = near_mask(r).astype(np.float64)
        assert np.allclose(np.where(r["near_path"] > 0, r["near"], r["full"]), stock(r)), "rows drifted"
        if name in NEAR_ONLY and not r["near_path"].all():
            raise SystemExit(f"{name}: {int((r['near_path'] == 0).sum())} frames off the near path; cache it")
    return data


def stock(r: Rows) -> NDArray[np.float64]:
    """Today's count: the near path, else the ramp (0, 40) on the stock map."""
    g = np.clip(r["dens"] / 40.0, 0.0, 1.0)
    return np.where(r["near_path"] > 0, r["near"], (1.0 - g) * r["comb"] + g * r["dens"])


def tuned_far(r: Rows, t: int) -> NDArray[np.float64]:
    """The product's far-path count on tail ``t``'s map (``density_tail: tuned``)."""
    d, c = r["tdens"][t], r["tcomb"][t]
    g = np.clip((d - TUNED_RAMP[0]) / (TUNED_RAMP[1] - TUNED_RAMP[0]), 0.0, 1.0)
    return (1.0 - g) * c + g * d


def blend(w: float, t: int) -> Callable[[Rows], NDArray[np.float64]]:
    def count(r: Rows) -> NDArray[np.float64]:
        return np.where(r["near_path"] > 0, r["near"], w * tuned_far(r, t) + (1.0 - w) * stock(r))

    return count


def blend_map(j: int, t: int) -> Callable[[Rows], NDArray[np.float64]]:
    """The product's count on the blended map ``W_GRID[j] * T + (1 - W_GRID[j]) * S`` off the near path."""

    def count(r: Rows) -> NDArray[np.float64]:
        return np.where(r["near_path"] > 0, r["near"], r["mcount"][t, j])

    return count


def linear(a: float, b: float, t: int, tuned_comb: bool) -> Callable[[Rows], NDArray[np.float64]]:
    def count(r: Rows) -> NDArray[np.float64]:
        c = r["tcomb"][t] if tuned_comb else r["comb"]
        return np.where(r["near_path"] > 0, r["near"], a * c + b * r["tdens"][t])

    return count


def bar(folds: list[dict[str, object]], label: str) -> dict[str, object]:
    """The lead's bar against ``stock`` on the validation folds."""
    worst = {
        s: max(f[label][s]["val"] / max(f["stock"][s]["val"], 1e-9) for f in folds)  # type: ignore[index]
        for s in SETS
    }
    mean = {s: float(np.mean([f[label][s]["val"] for f in folds])) for s in SETS}  # type: ignore[index]
    base = {s: float(np.mean([f["stock"][s]["val"] for f in folds])) for s in SETS}  # type: ignore[index]
    ok = (
        mean["shanghaitech_b_train"] < base["shanghaitech_b_train"]
        and mean["mall_dev"] < base["mall_dev"]
        and all(v <= BAR_WORSE + 1e-9 for v in worst.values())
        and mean["train"] <= SPARSE_MAX
    )
    return {"passes": ok, "worst_fold_ratio": worst, "val_mean": mean}


def run(cv: Path, as_json: bool) -> None:
    data = rows(cv)
    scale = {s: float(r["truth"].mean()) for s, r in data.items()}

    def err(p: dict[str, NDArray[np.float64]], s: str, m: NDArray[np.bool_]) -> float:
        return float(np.abs(p[s] - data[s]["truth"])[m].mean())

    def crit(p: dict[str, NDArray[np.float64]], train: dict[str, NDArray[np.bool_]]) -> float:
        return float(np.mean([err(p, s, train[s]) / scale[s] for s in data]))

    labels = ("stock", "tuned", "blend-count", "blend-map", "linear", "linear-tc")
    folds: list[dict[str, object]] = []
    for k in range(FOLDS):
        t = k + 1
        train = {s: r["fold"] != k for s, r in data.items()}
        preds = {w: {s: blend(w, t)(r) for s, r in data.items()} for w in W_GRID}
        score = {w: crit(preds[w], train) for w in W_GRID}
        w = min(W_GRID, key=lambda v: (round(score[v], 9), v))
        mpreds = {j: {s: blend_map(j, t)(r) for s, r in data.items()} for j in range(len(W_GRID))}
        mscore = {j: crit(mpreds[j], train) for j in mpreds}
        wm = min(mscore, key=lambda j: (round(mscore[j], 9), j))
        fits = {}
        for label, tc in (("linear", False), ("linear-tc", True)):
            # fit_linear reads comb/dens: hand it the tuned map's sum (and combined count for -tc)
            view = {
                s: {**r, "dens": r["tdens"][t], "comb": r["tcomb"][t] if tc else r["comb"]} for s, r in data.items()
            }
            fits[label] = fit_linear(view, train)
        p = {
            "stock": {s: stock(r) for s, r in data.items()},
            "tuned": preds[1.0],
            "blend-count": preds[w],
            "blend-map": mpreds[wm],
            "linear": {s: linear(*fits["linear"], t, False)(r) for s, r in data.items()},
            "linear-tc": {s: linear(*fits["linear-tc"], t, True)(r) for s, r in data.items()},
        }
        fold: dict[str, object] = {
            "fold": k,
            "w_count": w,
            "w_map": W_GRID[wm],
            "w_crit": {"count": score, "map": {W_GRID[j]: v for j, v in mscore.items()}},
            "fit": fits,
            "crit": {label: crit(p[label], train) for label in labels},
        }
        for label in labels:
            fold[label] = {s: {"train": err(p[label], s, train[s]), "val": err(p[label], s, ~train[s])} for s in data}
        folds.append(fold)
        cells = [f"fold {k}: w count {w} map {W_GRID[wm]}, linear {fits['linear']}, linear-tc {fits['linear-tc']}"]
        for s in SETS:
            cells.append(
                f"  {s}: "
                + "  ".join(
                    f"{lab} {fold[lab][s]['train']:.2f}/{fold[lab][s]['val']:.2f}"  # type: ignore[index]
                    for lab in labels
                )
            )
        print("\n".join(cells), flush=True)
    for s in SETS:
        for label in labels:
            tr = np.mean([f[label][s]["train"] for f in folds])  # type: ignore[index]
            va = np.mean([f[label][s]["val"] for f in folds])  # type: ignore[index]
            print(f"mean {s} {label}: train {tr:.3f} val {va:.3f}")
    print("\n| fold | set | stock | tuned | blend-count | blend-map | linear | linear-tc |")
    print("|---|---|---|---|---|---|---|---|")
    for f in folds:
        for s in SETS:
            cells = [f"{f[lab][s]['train']:.2f} / {f[lab][s]['val']:.2f}" for lab in labels]  # type: ignore[index]
            print(f"| {f['fold']} | {s} | " + " | ".join(cells) + " |")
    for s in SETS:
        cells = [
            f"{np.mean([f[lab][s]['train'] for f in folds]):.2f} / "  # type: ignore[index]
            f"{np.mean([f[lab][s]['val'] for f in folds]):.2f}"  # type: ignore[index]
            for lab in labels
        ]
        print(f"| mean | {s} | " + " | ".join(cells) + " |")
    print()
    verdict = {label: bar(folds, label) for label in labels[1:]}
    for label, v in verdict.items():
        print(f"bar {label}: {json.dumps(v)}")
    if as_json:
        print(json.dumps({"folds": folds, "bar": verdict, "machine": machine_info()}, default=float))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cv", type=Path, required=True, help="a cv output folder (fold*.npz)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--tails", type=int, nargs="+", default=None, help="only run these tails (0: stock) and stop")
    args = p.parse_args(argv)
    if args.tails is not None:  # fill the per-tail stores while other folds still train
        for t in args.tails:
            tail_rows(args.cv, t, CountRule.from_config(CrowdConfig()))
        return 0
    run(args.cv, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
