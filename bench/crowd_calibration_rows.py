"""Per-camera calibration from 20 frames on the product's rows, over many draws of the 20 (issue 22).

Reads the rows of ``bench/crowd_gate_rows.py collect`` (``build/crowd-gate/SET.npz``: each image's
count on the product's own path, the default rule applied by :func:`crowd_gate_rows.predict`) and
fits what ``vigil crowd calibrate CAMERA FRAMES`` fits (:func:`vigil.crowd.calibration.fit_calibration`,
one band, the default: one band reads only frame totals, so a frame's count placed at one row is
exact) on 20 frames, scoring every other frame of the set, for four ways of choosing the 20:
``first`` (frames 0-19 in time), ``every20`` (0, 20, ..., 380), ``window`` (20 consecutive frames from
0, 20, ..., 380: 20 draws) and ``random`` (200 draws without replacement, seed 22). Beside it, two
richer per-camera fits fixed before any score (notes/issue-22-crowd-calib.md, 12:01 UTC):

* ``linear``: off the near path, ``a * combined + b * tail sum`` (a, b >= 0, least squares on the
  fit frames off the near path; fewer than 10 of them: today's factor); near-path frames get today's
  factor fitted on all 20 (the tail sum is the map counted with: the tuned tail's by default since
  the eighth round, the stock map's with ``density_tail: stock``, as in the sixth round);
* ``ramp``: the stock tail's blend ramp end (``crowd.blend_people[1]``) per camera from
  :data:`RAMP_GRID` by MAE on the 20 frames, then today's factor on the recounted frames (a recount
  with the stock map's sum: with the tuned tail it also changes the tail).

``--bands 2 3`` adds ``bands2``, ``bands3``: ``vigil crowd calibrate --bands N``'s fit on each
frame's counted people by row (``collect``'s ``SET-placed.npz``) and its labelled head rows,
applied by :meth:`CameraCalibration.apply` (eighth round, for information).

``ceiling`` is each fit made and scored on every frame (in-sample bounds, e.g. the best single
factor: no 20 frames can do better than it). ShanghaiTech Part B is scored the same way as a stress
test only (400 street photos, not one camera).

    .venv/bin/python bench/crowd_calibration_rows.py [--sets mall_dev shanghaitech_b_train] [--bands 2 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import nnls

from benchlib import SHARED_DATA, machine_info
from crowd_gate_rows import load, load_placed, predict
from vigil.config.crowd import CrowdConfig
from vigil.crowd.calibration import LabelledCount, PlacedCount, fit_calibration
from vigil.crowd.counter import CountRule
from vigil.crowd.dataset import head_points, list_images

Rows = dict[str, NDArray[np.float64]]
Fit = Callable[[Rows, NDArray[np.int64]], NDArray[np.float64]]
"""(rows, fit indices) -> every frame's calibrated count."""

FIT_FRAMES = 20
RANDOM_DRAWS = 200
SEED = 22
RAMP_GRID = (10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0)
MIN_OFF_NEAR = 10


def rule() -> CountRule:
    return CountRule.from_config(CrowdConfig())


def near_mask(r: Rows) -> NDArray[np.bool_]:
    ru = rule()
    return np.array(
        [
            (s > ru.near_height) or ru.density_disagrees(d, k)
            for s, d, k in zip(r["size"], r["dens"], r["comb"], strict=True)
        ],
        bool,
    )


def counts(r: Rows) -> NDArray[np.float64]:
    """Each image's count under today's default rule (``vigil crowd eval``'s figure)."""
    ru = rule()
    return predict(r, ru.near_min_people, ru, ru.near_few_people)


def product_factor(count: NDArray[np.float64], truth: NDArray[np.float64], idx: NDArray[np.int64]) -> float:
    """The factor ``vigil crowd calibrate`` stores for these frames (one band)."""
    frames = [
        LabelledCount(PlacedCount(np.array([0.5]), np.array([count[i]])), np.full(int(truth[i]), 0.5)) for i in idx
    ]
    return fit_calibration(frames, bands=1).factors[0]


def fit_none(r: Rows, idx: NDArray[np.int64]) -> NDArray[np.float64]:
    return counts(r)


def fit_today(r: Rows, idx: NDArray[np.int64]) -> NDArray[np.float64]:
    c = counts(r)
    return c * product_factor(c, r["truth"], idx)


def fit_linear(r: Rows, idx: NDArray[np.int64]) -> NDArray[np.float64]:
    c = counts(r)
    factor = product_factor(c, r["truth"], idx)
    near = near_mask(r)
    off = idx[~near[idx]]
    if len(off) < MIN_OFF_NEAR:
        return c * factor
    (a, b), _ = nnls(np.stack([r["comb"][off], r["tail"][off]], axis=1), r["truth"][off])
    return np.where(near, c * factor, a * r["comb"] + b * r["tail"])


def recount(r: Rows, blend_to: float) -> NDArray[np.float64]:
    w = np.clip(r["dens"] / blend_to, 0.0, 1.0)
    return np.where(near_mask(r), r["near"], (1.0 - w) * r["comb"] + w * r["dens"])


def fit_ramp(r: Rows, idx: NDArray[np.int64]) -> NDArray[np.float64]:
    t = r["truth"]
    default = rule().blend_to
    by = {g: recount(r, g) for g in RAMP_GRID}
    best = min(RAMP_GRID, key=lambda g: (round(float(np.abs(by[g][idx] - t[idx]).mean()), 9), abs(g - default)))
    c = by[best]
    return c * product_factor(c, t, idx)


FITS: dict[str, Fit] = {"none": fit_none, "today": fit_today, "linear": fit_linear, "ramp": fit_ramp}


def head_rows(name: str) -> list[NDArray[np.float64]]:
    """Each image's labelled heads' rows as a fraction of its height (natural order, as the rows)."""
    out = []
    for item in list_images(SHARED_DATA / "crowd" / name):
        image = cv2.imread(str(item.image), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise SystemExit(f"{item.image}: not a readable image")
        height = int(image.shape[0])
        out.append(np.asarray(head_points(item.truth), np.float64).reshape(-1, 2)[:, 1] / height)
    return out


def fit_bands(placed: list[PlacedCount], truth_y: list[NDArray[np.float64]], bands: int) -> Fit:
    """``vigil crowd calibrate --bands N`` on the fit frames, applied to every frame's placed count."""

    def fit(r: Rows, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        cal = fit_calibration([LabelledCount(placed[i], truth_y[i]) for i in idx], bands=bands)
        return np.array([cal.apply(p) for p in placed])

    return fit


def draws(n: int) -> dict[str, list[NDArray[np.int64]]]:
    rng = np.random.default_rng(SEED)
    return {
        "first": [np.arange(FIT_FRAMES)],
        "every20": [np.arange(0, n, n // FIT_FRAMES)[:FIT_FRAMES]],
        "window": [np.arange(s, s + FIT_FRAMES) for s in range(0, n - FIT_FRAMES + 1, FIT_FRAMES)],
        "random": [np.sort(rng.choice(n, FIT_FRAMES, replace=False)) for _ in range(RANDOM_DRAWS)],
    }


def held_out(r: Rows, fit: Fit, idx: NDArray[np.int64]) -> tuple[float, float]:
    rest = np.setdiff1d(np.arange(len(r["truth"])), idx)
    err = fit(r, idx)[rest] - r["truth"][rest]
    return float(np.abs(err).mean()), float(err.mean())


def evaluate(name: str, r: Rows, bands: tuple[int, ...] = ()) -> dict[str, object]:
    out: dict[str, object] = {"n": len(r["truth"]), "near_path": int(near_mask(r).sum())}
    fits = dict(FITS)
    if bands:
        placed, truth_y = load_placed(name), head_rows(name)
        # The placed rows are the product's count, so their totals must be the rows' counts.
        gap = float(np.abs(np.array([p.total for p in placed]) - counts(r)).max())
        if gap > 1e-3:
            raise SystemExit(f"{name}: placed totals differ from the rows' counts by up to {gap:.4f}")
        if [len(y) for y in truth_y] != [int(t) for t in r["truth"]]:
            raise SystemExit(f"{name}: head rows do not match the rows' true counts")
        fits |= {f"bands{k}": fit_bands(placed, truth_y, k) for k in bands}
    every = np.arange(len(r["truth"]))
    # In-sample bounds (fitted and scored on every frame; no choice is made from them).
    out["ceiling"] = {f: round(float(np.abs(fit(r, every) - r["truth"]).mean()), 3) for f, fit in fits.items()}
    c, t = counts(r), r["truth"]
    grid = np.linspace(0.5, 2.0, 1501)
    out["ceiling"]["best_factor"] = round(float(min(np.abs(f * c - t).mean() for f in grid)), 3)  # type: ignore[index]
    print(f"{name} in-sample bounds (all frames fitted and scored): {out['ceiling']}", file=sys.stderr)
    for scheme, ds in draws(len(r["truth"])).items():
        maes = {f: np.array([held_out(r, fit, d)[0] for d in ds]) for f, fit in fits.items()}
        bias = {f: float(np.mean([held_out(r, fit, d)[1] for d in ds])) for f, fit in fits.items()}
        out[scheme] = {
            f: {
                "mean": round(float(m.mean()), 3),
                "median": round(float(np.median(m)), 3),
                "p10": round(float(np.percentile(m, 10)), 3),
                "p90": round(float(np.percentile(m, 90)), 3),
                "bias": round(bias[f], 3),
                "beats_none": round(float((m < maes["none"]).mean()), 3),
                "beats_today": round(float((m < maes["today"]).mean()), 3),
            }
            for f, m in maes.items()
        }
        for f in fits:
            s = out[scheme][f]  # type: ignore[index]
            print(
                f"{name} {scheme:8s} ({len(ds):3d}) {f:6s}: MAE mean {s['mean']:.2f} median {s['median']:.2f}"
                f" p10-p90 {s['p10']:.2f}-{s['p90']:.2f} bias {s['bias']:+.2f};"
                f" beats none {s['beats_none']:.0%}, today {s['beats_today']:.0%}",
                file=sys.stderr,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["mall_dev", "shanghaitech_b_train"])
    parser.add_argument("--bands", nargs="*", type=int, default=[], help="also N-band fits (collect's placed rows)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = load(tuple(args.sets))
    report = {s: evaluate(s, r, tuple(args.bands)) for s, r in data.items()}
    report["machine"] = machine_info()  # type: ignore[assignment]
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
