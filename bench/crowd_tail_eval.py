"""What a fine-tuned CSRNet tail does to Vigil's count (issue 22), from cached fp32 features.

``scripts/train_crowd_density.py cache`` keeps, per image, the fp32 activation that feeds CSRNet's
last three layers (``backend_6_relu``) at 1024 px (the frame's own width up to 1024: the product's
full-resolution pass) and at 384 px (the near-people pass); ``... cv`` writes the tail of each fold.
This bench:

* ``boxes``: caches the tiled person boxes of those images (the product's counting detector and
  precision, ``crowd.count_tiles``), the only other input of the counting rule;
* ``rampcv``: chooses the ramp by CV on each fold's tuned maps (stock gate), stock alike;
* ``score``: runs each tail (the stock layers, and each fold's) on the cached features and counts
  every image with the product's rule (:func:`bench.crowd_cv.count_cached`: near-people gate,
  0-40 ramp), per set, MAE / bias, stock and tuned side by side.

A fold's tail never saw that fold's images, nor the sparse photos (``train``), so for those it is a
held-out check; for the other folds' images it is the train-fold figure.

    nice -n 15 .venv/bin/python bench/crowd_tail_eval.py boxes --sets train mall_dev shanghaitech_b_train
    nice -n 15 .venv/bin/python bench/crowd_tail_eval.py score --cv build/crowd-train/w1024/cv-TAG
    nice -n 15 .venv/bin/python bench/crowd_tail_eval.py rampcv --cv build/crowd-train/w1024/cv-TAG
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import train_crowd_density as tcd

from crowd_cv import RAMPS, Item, blend, count_cached
from vigil.config import VigilConfig
from vigil.config.load import apply_env
from vigil.crowd.counter import CountRule, count_from_map
from vigil.crowd.dataset import list_images
from vigil.crowd.density import DensityMap
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.workers.crowd_stage import build_tile_detector

BOXES = tcd.CACHE / "boxes"
log = logging.getLogger("crowd_tail_eval")


def boxes(args: argparse.Namespace) -> None:
    cfg = apply_env(VigilConfig())
    cfg = cfg.model_copy(update={"crowd": cfg.crowd.model_copy(update={"threads": args.threads})})
    detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
    for name in args.sets:
        folder = BOXES / name
        folder.mkdir(parents=True, exist_ok=True)
        cached = tcd.CACHE / "w1024" / name
        every = list_images(tcd.DATA / name)
        items = (
            every[:: args.stride] if args.stride else [it for it in every if (cached / f"{it.image.stem}.npz").exists()]
        )
        started = time.perf_counter()
        for i, item in enumerate(items):
            target = folder / f"{item.image.stem}.npy"
            if not target.exists():
                np.save(target, np.asarray(detector(_read(item.image)), np.float32).reshape(-1, 4))
            if (i + 1) % 10 == 0:
                log.info("%s: %d/%d, %.1f s", name, i + 1, len(items), time.perf_counter() - started)


def _tail_map(model: object, path: Path, first_stock: bool = False) -> np.ndarray:
    """The tail's map of the cached image at ``path``; ``first_stock``: the tail's first layer is the
    stock one, so it runs from the kept fp32 output of that layer when the cache has it (7x less work)."""
    import torch

    kept = tcd.frozen_path(path, 2)
    with torch.no_grad():
        if first_stock and kept.exists():
            x = torch.from_numpy(np.load(kept).astype(np.float32))
            return np.asarray(model[2:](x)[0, 0].numpy(), np.float32)  # type: ignore[index]
        with np.load(path) as z:
            x = torch.from_numpy(np.array(z["b6"], dtype=np.float32))[None]
        return np.asarray(model(x)[0, 0].numpy(), np.float32)  # type: ignore[operator]


RAMPS_TUNED = (*RAMPS, (0.0, 1.0))
"""bench/crowd_cv.py's ramps and (0, 1): the density sum alone for every frame off the near path
(a tuned map need not lean on the combined count)."""

Row = tuple[str, int, bool, float, float, float, int]
"""One image under one tail: set, true count, near (gated), near-path count, density sum, combined count, fold."""


def _choose_ramp(rows: list[Row], mean_truth: dict[str, float]) -> tuple[float, float]:
    """The ramp (``blend_people``) with the lowest mean over sets of MAE / mean true count on ``rows``
    (set, truth, near, near count, density, combined, fold): gated (near) frames do not depend on it."""
    best: tuple[float, tuple[float, float]] | None = None
    for ramp in RAMPS_TUNED:
        per: dict[str, list[float]] = {}
        for name, truth, near, near_count, dens, comb, _ in rows:
            pred = near_count if near else blend(dens, comb, *ramp)
            per.setdefault(name, []).append(abs(pred - truth))
        score = float(np.mean([np.mean(v) / mean_truth[n] for n, v in per.items()]))
        if best is None or score < best[0]:
            best = (score, (float(ramp[0]), float(ramp[1])))
    assert best is not None
    return best[1]


def _mae_rows(rows: list[Row], ramp: tuple[float, float]) -> dict[str, float]:
    per: dict[str, list[float]] = {}
    for name, truth, near, near_count, dens, comb, _ in rows:
        pred = near_count if near else blend(dens, comb, *ramp)
        per.setdefault(name, []).append(abs(pred - truth))
    return {n: round(float(np.mean(v)), 3) for n, v in per.items()}


def rampcv(args: argparse.Namespace) -> None:
    """Choose the ramp by CV on the tuned maps: fold k's tail, the ramp chosen on the other folds'
    images (that tail's training folds, Part B and Mall pooled, each set's MAE over its mean count),
    scored on fold k; the near-people gate and the near path stay on the stock tail (default gate).
    The stock tail gets the same CV, so the two are compared like for like."""
    import torch

    torch.set_num_threads(1)
    stock = tcd.stock_tail(args.model)
    rule = CountRule()
    tails = {"stock": stock} | {f.stem: dict(np.load(f)) for f in sorted(args.cv.glob("fold*.npz"))}
    models = {tag: tcd._torch_tail(w) for tag, w in tails.items()}
    first_stock = {tag: bool(np.array_equal(w["backend_8_w"], stock["backend_8_w"])) for tag, w in tails.items()}
    per_tail: dict[str, list[Row]] = {tag: [] for tag in tails}
    for name in args.sets:
        items = list_images(tcd.DATA / name)
        for index, item in enumerate(items):
            stem = item.image.stem
            f1024 = tcd.CACHE / "w1024" / name / f"{stem}.npz"
            fbox = BOXES / name / f"{stem}.npy"
            if not (f1024.exists() and fbox.exists()):
                continue
            bx = np.load(fbox)
            with np.load(f1024) as z:
                w, h = (int(v) for v in z["frame"])
                truth = int(z["points"].shape[0])
            fold = min(args.folds - 1, index * args.folds // len(items))
            stock_map = _tail_map(models["stock"], f1024, True)
            s_counted = count_from_map(DensityMap(stock_map, w, h, 0.0), bx, rule, input_width=w)
            near = rule.people_are_near(bx, h) or rule.density_disagrees(s_counted.density, s_counted.combined)
            # No 384 px features for these sets: the near path uses the stock full-resolution map.
            near_count = count_from_map(DensityMap(stock_map, w, h, 0.0), bx, rule, near=True, input_width=384).count
            for tag, model in models.items():
                m = stock_map if tag == "stock" else _tail_map(model, f1024, first_stock[tag])
                c = count_from_map(DensityMap(m, w, h, 0.0), bx, rule, input_width=w)
                per_tail[tag].append((name, truth, near, near_count, c.density, c.combined, fold))
    rows0 = per_tail["stock"]
    mean_truth = {n: float(np.mean([r[1] for r in rows0 if r[0] == n])) for n in args.sets}
    report: dict[str, object] = {"n": {n: sum(1 for r in rows0 if r[0] == n) for n in args.sets}, "folds": []}
    default = (float(rule.blend_from), float(rule.blend_to))
    for k in range(args.folds):
        tag = f"fold{k}"
        row: dict[str, object] = {"fold": k}
        for label, rows in (("stock", per_tail["stock"]), ("tuned", per_tail.get(tag, []))):
            if not rows:
                continue
            tr = [r for r in rows if r[6] != k]
            va = [r for r in rows if r[6] == k]
            ramp = _choose_ramp(tr, mean_truth)
            row[label] = {
                "ramp": ramp,
                "train": _mae_rows(tr, ramp),
                "val": _mae_rows(va, ramp),
                "val_default_ramp": _mae_rows(va, default),
                "val_density_alone": {
                    n: round(float(np.mean([abs(r[4] - r[1]) for r in va if r[0] == n])), 3) for n in args.sets
                },
            }
        report["folds"].append(row)  # type: ignore[attr-defined]
        log.info("fold %d: %s", k, json.dumps(row))
    out = args.cv / "rampcv_report.json"
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s", out)


def score(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    stock = tcd.stock_tail(args.model)
    tails = {"stock": stock} | {
        f.stem: dict(np.load(f)) for f in sorted(args.cv.glob("fold*.npz")) if args.cv is not None
    }
    rule = CountRule()
    report: dict[str, object] = {}
    for name in args.sets:
        items = list_images(tcd.DATA / name)
        rows = []
        for index, item in enumerate(items):
            stem = item.image.stem
            f1024 = tcd.CACHE / "w1024" / name / f"{stem}.npz"
            f384 = tcd.CACHE / "w384" / name / f"{stem}.npz"
            fbox = BOXES / name / f"{stem}.npy"
            if f1024.exists() and fbox.exists():
                rows.append((index, len(items), stem, f1024, f384 if f384.exists() else None, np.load(fbox)))
        per: dict[str, object] = {"n": len(rows)}
        stock_model = tcd._torch_tail(stock)
        stock384 = {stem: _tail_map(stock_model, f384) for _, _, stem, _, f384, _ in rows if f384 is not None}
        stock_native = {stem: _tail_map(stock_model, f1024) for _, _, stem, f1024, _, _ in rows}
        for tag, weights in tails.items():
            model = tcd._torch_tail(weights)
            preds, dens, truth, folds, fell_back = [], [], [], [], 0
            mixed: list[float] = []  # the tuned tail at full resolution, the stock one on the near path
            # ... and the near-people gate on the stock tail's map (a graph with both tails: ~1.5 % more work)
            gated: list[float] = []
            for index, of, stem, f1024, f384, bx in rows:
                with np.load(f1024) as z:
                    w, h = (int(v) for v in z["frame"])
                    n_true = int(z["points"].shape[0])
                dnat = _tail_map(model, f1024)
                d384 = _tail_map(model, f384) if f384 is not None else None
                it = Item(
                    name,
                    stem,
                    n_true,
                    0,
                    (w, h),
                    d384 if d384 is not None else dnat,
                    dnat,
                    bx,
                    np.zeros((0, 2)),
                    np.zeros(3),
                )
                gate = rule.people_are_near(bx, h)
                counted = count_cached(it, rule)
                if d384 is None and (gate or counted.input_width == 384):
                    fell_back += 1  # no 384 px features cached: the near path used the 1024 px map
                preds.append(counted.count)
                # Without 384 px features (Part B, Mall: not cached, for time) the near path uses the stock
                # full-resolution map; ``near_without_384`` says how often that happened.
                near_stock = stock384.get(stem, stock_native[stem])
                it.d384 = near_stock
                mixed.append(count_cached(it, rule).count)
                s_counted = count_from_map(DensityMap(stock_native[stem], w, h, 0.0), bx, rule, input_width=w)
                if gate or rule.density_disagrees(s_counted.density, s_counted.combined):
                    near_map = DensityMap(near_stock, w, h, 0.0)
                    gated.append(count_from_map(near_map, bx, rule, near=True, input_width=384).count)
                else:
                    gated.append(count_from_map(DensityMap(dnat, w, h, 0.0), bx, rule, input_width=w).count)
                dens.append(float(np.clip(dnat, 0, None).sum()))
                truth.append(n_true)
                folds.append(min(args.folds - 1, index * args.folds // of))
            e, d = np.asarray(preds) - truth, np.asarray(dens) - truth
            fig = {
                "count_mae": round(float(np.abs(e).mean()), 3),
                "count_bias": round(float(e.mean()), 3),
                "density_mae": round(float(np.abs(d).mean()), 3),
                "near_without_384": fell_back,
            }
            if mixed:  # always, now: every image has a near-path map
                m = np.asarray(mixed) - truth
                fig["count_mae_stock384"] = round(float(np.abs(m).mean()), 3)
                fig["count_bias_stock384"] = round(float(m.mean()), 3)
                g = np.asarray(gated) - truth
                fig["count_mae_gate_stock"] = round(float(np.abs(g).mean()), 3)
                fig["count_bias_gate_stock"] = round(float(g.mean()), 3)
            if name != "train":  # MAE on each fold's images, for the stock row beside the folds
                fa = np.asarray(folds)
                fig["count_mae_by_fold"] = [round(float(np.abs(e[fa == k]).mean()), 3) for k in range(args.folds)]
                fig["density_mae_by_fold"] = [round(float(np.abs(d[fa == k]).mean()), 3) for k in range(args.folds)]
            if tag.startswith("fold") and name != "train":
                k = int(tag[4:])
                va = np.asarray(folds) == k
                fig["count_mae_val_fold"] = round(float(np.abs(e[va]).mean()), 3)
                fig["count_mae_train_folds"] = round(float(np.abs(e[~va]).mean()), 3)
                fig["density_mae_val_fold"] = round(float(np.abs(d[va]).mean()), 3)
                fig["density_mae_train_folds"] = round(float(np.abs(d[~va]).mean()), 3)
                g = np.asarray(gated) - truth
                fig["count_mae_gate_stock_val_fold"] = round(float(np.abs(g[va]).mean()), 3)
                fig["count_mae_gate_stock_train_folds"] = round(float(np.abs(g[~va]).mean()), 3)
            per[tag] = fig
            log.info("%s %s: %s", name, tag, json.dumps(fig))
        report[name] = per
    out = (args.cv or tcd.CACHE) / "rule_report.json"
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s", out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("boxes")
    p.add_argument("--sets", nargs="+", default=["train", "mall_dev", "shanghaitech_b_train"])
    p.add_argument("--stride", type=int, default=0, help="every n-th image (0: the images with cached features)")
    p.add_argument("--threads", type=int, default=1)
    q = sub.add_parser("score")
    q.add_argument("--sets", nargs="+", default=["train", "mall_dev", "shanghaitech_b_train"])
    q.add_argument("--cv", type=Path, default=None, help="a cv output folder (fold*.npz)")
    q.add_argument("--folds", type=int, default=5)
    q.add_argument("--model", type=Path, default=tcd.ROOT / "vigil-data" / "models" / "csrnet" / "model.onnx")
    r = sub.add_parser("rampcv", help="choose the ramp by CV on each fold's tuned maps (stock gate)")
    r.add_argument("--sets", nargs="+", default=["shanghaitech_b_train", "mall_dev"])
    r.add_argument("--cv", type=Path, required=True, help="a cv output folder (fold*.npz)")
    r.add_argument("--folds", type=int, default=5)
    r.add_argument("--model", type=Path, default=tcd.ROOT / "vigil-data" / "models" / "csrnet" / "model.onnx")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    {"boxes": boxes, "score": score, "rampcv": rampcv}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
