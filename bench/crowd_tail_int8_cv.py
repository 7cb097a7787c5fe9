"""A fine-tuned CSRNet tail on the product's own path, counted with the product's gate (issue 22).

Inputs (all under ``build/``, ignored):

* ``crowd-gate/SET.npz`` (``bench/crowd_gate_rows.py collect``): per image the product's stock
  quantities — median box height, the int8 full-resolution density sum and combined count (what the
  gate reads) and the near path's 384 px count;
* ``crowd-train/w1024-int8/SET/`` (``scripts/train_crowd_density.py cache --front int8``): the int8
  graph's ``backend_8_relu``, the float tensor the product's fp32 ``backend_10`` reads;
* ``crowd-train/boxes/SET/`` (``bench/crowd_tail_eval.py boxes --stride 1``): the tiled int8 person boxes;
* ``crowd-train/w1024-int8/cv-TAG/fold{k}.npz`` (``... cv --front int8``): fold k's tail, never
  trained on fold k (five contiguous blocks per set, ``folds_of``).

The design scored is a graph with both tails on one front end: the gate (size, ``near_ratio`` from
``near_min_people`` combined people) and the near path read the stock tail, exactly as today; frames
off the near path count with the tuned map, with a ramp chosen per fold on the training folds (fold
k's tail, sets pooled, each set's MAE over its mean true count) from a grid fixed before training.
``stock`` is today's default rule on the same images. The stock tail run on the cached tensor must
give the rows' density and combined count (checked: the bench and the product agree).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/crowd_tail_int8_cv.py --cv build/crowd-train/w1024-int8/cv-TAG
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import train_crowd_density as tcd

from crowd_gate_rows import COLUMNS, FOLDS, OUT, SETS
from vigil.config.crowd import CrowdConfig
from vigil.crowd.counter import CountRule, count_from_map
from vigil.crowd.dataset import list_images
from vigil.crowd.density import DensityMap

RAMPS = ((0.0, 40.0), (0.0, 20.0), (0.0, 1.0))
"""Off the near path, tuned map: today's ramp, a shorter one, density alone. Fixed 08:01 UTC before training."""


def tuned_rows(cv: Path, rule: CountRule) -> dict[str, dict[str, NDArray[np.float64]]]:
    """Per set: the product's rows plus ``tdens``/``tcomb`` (folds+1, images): the stock tail (row 0,
    a check) and each fold's tail on the cached int8 tensor."""
    import torch

    torch.set_num_threads(1)
    model = tcd.default_model("int8")
    tails = [tcd._torch_tail(tcd.stock_tail(model))] + [
        tcd._torch_tail(dict(np.load(cv / f"fold{k}.npz"))) for k in range(FOLDS)
    ]
    out = {}
    for name in SETS:
        with np.load(OUT / f"{name}.npz") as z:
            r = {k: np.asarray(z[k], np.float64) for k in COLUMNS}
        items = list_images(tcd.DATA / name)
        r["fold"] = np.minimum(FOLDS - 1, np.arange(len(items)) * FOLDS // len(items)).astype(np.float64)
        dens = np.zeros((len(tails), len(items)))
        comb = np.zeros((len(tails), len(items)))
        for i, item in enumerate(items):
            path = tcd.cache_dir(1024, "int8") / name / f"{item.image.stem}.npz"
            with np.load(path) as z:
                w, h = (int(v) for v in z["frame"])
            x = torch.from_numpy(np.load(tcd.frozen_path(path, 2)).astype(np.float32))
            boxes = np.load(tcd.CACHE / "boxes" / name / f"{item.image.stem}.npy")
            for t, tail in enumerate(tails):
                with torch.no_grad():
                    dmap = np.asarray(tail[2:](x)[0, 0].numpy(), np.float32)
                c = count_from_map(DensityMap(dmap, w, h, 0.0), boxes, rule, input_width=min(w, 1024))
                dens[t, i], comb[t, i] = c.density, c.combined
        off = max(float(np.abs(dens[0] - r["dens"]).max()), float(np.abs(comb[0] - r["comb"]).max()))
        if off > 1e-3:
            raise SystemExit(f"{name}: the stock tail on the cache is {off:.4f} off the product's rows")
        r["tdens"], r["tcomb"] = dens, comb
        out[name] = r
    return out


def predict(
    r: dict[str, NDArray[np.float64]], tail: int, ramp: tuple[float, float], rule: CountRule
) -> NDArray[np.float64]:
    """Today's gate on the stock rows; off the near path, ``tail``'s map (0: stock) with ``ramp``."""
    near = np.array(
        [
            (s > rule.near_height) or rule.density_disagrees(d, k)
            for s, d, k in zip(r["size"], r["dens"], r["comb"], strict=True)
        ]
    )
    d, c = r["tdens"][tail], r["tcomb"][tail]
    g = np.clip((d - ramp[0]) / (ramp[1] - ramp[0]), 0.0, 1.0)
    return np.where(near, r["near"], (1.0 - g) * c + g * d)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cv", type=Path, required=True)
    p.add_argument("--ramp", type=float, nargs=2, default=None, help="score this ramp in every fold (nothing chosen)")
    p.add_argument(
        "--gate", type=float, nargs=2, default=None, metavar=("FEW", "MIN"), help="near_few_people, near_min_people"
    )
    args = p.parse_args(argv)
    gate = {} if args.gate is None else {"near_few_people": args.gate[0], "near_min_people": args.gate[1]}
    rule = CountRule.from_config(CrowdConfig(**gate))
    data = tuned_rows(args.cv, rule)
    scale = {s: float(r["truth"].mean()) for s, r in data.items()}
    default = (rule.blend_from, rule.blend_to)
    report: dict[str, object] = {"ramps": RAMPS, "rule": rule.to_json_dict(), "folds": []}
    for k in range(FOLDS):
        tr = {s: r["fold"] != k for s, r in data.items()}

        def mae(s: str, tail: int, ramp: tuple[float, float], mask: NDArray[np.bool_]) -> float:
            r = data[s]
            return float(np.abs(predict(r, tail, ramp, rule) - r["truth"])[mask].mean())

        score = {ramp: float(np.mean([mae(s, k + 1, ramp, tr[s]) / scale[s] for s in data])) for ramp in RAMPS}
        chosen = tuple(args.ramp) if args.ramp else min(RAMPS, key=lambda ramp: score[ramp])
        fold = {"fold": k, "ramp": chosen}
        for label, tail, ramp in (("stock", 0, default), ("tuned", k + 1, chosen)):
            fold[label] = {s: {"train": mae(s, tail, ramp, tr[s]), "val": mae(s, tail, ramp, ~tr[s])} for s in data}
        report["folds"].append(fold)  # type: ignore[attr-defined]
        cells = []
        for s in SETS:
            a, b = fold["stock"][s], fold["tuned"][s]  # type: ignore[index]
            cells.append(f"{s} val {a['val']:.2f}->{b['val']:.2f} (train {a['train']:.2f}->{b['train']:.2f})")
        print(f"fold {k} ramp {chosen}: " + "; ".join(cells), flush=True)
    for s in SETS:
        for label in ("stock", "tuned"):
            v = np.mean([f[label][s]["val"] for f in report["folds"]])  # type: ignore[attr-defined]
            t = np.mean([f[label][s]["train"] for f in report["folds"]])  # type: ignore[attr-defined]
            print(f"mean {s} {label}: train {t:.3f} val {v:.3f}")
    near_share = {s: float(np.mean(predict(r, 0, default, rule) == r["near"])) for s, r in data.items()}
    report["near_share"] = near_share
    name = "tail_int8_cv" + (f"-ramp{args.ramp[0]:g}-{args.ramp[1]:g}" if args.ramp else "")
    name += (f"-gate{args.gate[0]:g}-{args.gate[1]:g}" if args.gate else "") + ".json"
    (args.cv / name).write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
