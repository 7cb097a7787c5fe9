"""Per-camera calibration on Mall: fit on 20 development frames, score on the other frames.

Uses the cache of bench/crowd_cache.py and the product's code for the rest
(:func:`vigil.crowd.counter.count_from_map` with the configured rule,
:func:`vigil.crowd.calibration.fit_calibration`), so it is what ``vigil crowd calibrate mall
FRAMES`` followed by ``vigil crowd eval OTHER --camera mall`` gives, without running the models
again. Two choices of the 20 frames: the first 20 in time (what a site labels first) and every
20th frame (spread over the set); the score is on every cached frame not used for the fit.

    nice -n 10 .venv/bin/python bench/crowd_calibration_eval.py [--bands 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from crowd_cv import count_cached, load
from vigil.config.crowd import CrowdConfig
from vigil.crowd.calibration import LabelledCount, fit_calibration
from vigil.crowd.counter import CountRule
from vigil.crowd.dataset import count_errors, errors_by_band


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="mall_dev")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--bands", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rule = CountRule.from_config(CrowdConfig())
    items = load([args.set])
    counts = [count_cached(it, rule) for it in items]
    truth = [it.truth for it in items]
    n = len(items)
    out: dict[str, object] = {"set": args.set, "frames": n, "rule": rule.to_json_dict(), "bands": args.bands}
    for name, fit_idx in (
        ("first", list(range(args.frames))),
        ("spread", [round(i * n / args.frames) for i in range(args.frames)]),
    ):
        labelled = [
            LabelledCount(counts[i].placed, items[i].points[:, 1].astype(np.float64) / items[i].frame[1])
            for i in fit_idx
        ]
        cal = fit_calibration(labelled, args.bands)
        rest = [i for i in range(n) if i not in set(fit_idx)]
        before = [counts[i].count for i in rest]
        after = [cal.apply(counts[i].placed) for i in rest]
        t = [truth[i] for i in rest]
        e0, e1 = count_errors(before, t), count_errors(after, t)
        out[name] = {
            "fit_frames": [items[i].name for i in fit_idx],
            "factors": [round(f, 4) for f in cal.factors],
            "scored": len(rest),
            "without": {"mae": round(e0.mae, 3), "rmse": round(e0.rmse, 3), "bias": round(e0.bias, 3)},
            "with": {"mae": round(e1.mae, 3), "rmse": round(e1.rmse, 3), "bias": round(e1.bias, 3)},
            "with_bands": {k: round(v.mae, 3) for k, v in errors_by_band(after, t).items() if v.n},
        }
        print(
            f"{name} {args.frames} frames: factors {out[name]['factors']}; on the other {len(rest)}: "  # type: ignore[index]
            f"MAE {e0.mae:.2f} -> {e1.mae:.2f}, bias {e0.bias:+.2f} -> {e1.bias:+.2f}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
