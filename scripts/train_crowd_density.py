"""Fine-tune CSRNet's last back-end layers on the shared crowd sets (issue 22).

Run with the training venv (torch is needed only here, never by the product):

    python3.11 -m venv .venv-train
    .venv-train/bin/pip install torch==2.13.0 "opencv-python-headless==4.14.0.94" onnx onnxruntime==1.32.0 \
        scipy pydantic pydantic-settings pyyaml && .venv-train/bin/pip install --no-deps -e .
    nice -n 10 .venv-train/bin/python scripts/train_crowd_density.py cache   # ~1-3 h on 2 cores, once
    nice -n 10 .venv-train/bin/python scripts/train_crowd_density.py cv      # cross-validated figures
    nice -n 10 .venv-train/bin/python scripts/train_crowd_density.py final   # writes the weights file

See docs/crowd.md ("Fine-tuning CSRNet's tail on cached fp32 features") for what it does and the figures;
bench/crowd_tail_eval.py scores the fold tails with the product's counting rule.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort

from vigil.crowd.dataset import head_points, list_images
from vigil.crowd.density import STRIDE, prepare

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "crowd"
CACHE = ROOT / "build" / "crowd-train"
SETS = ("shanghaitech_b_train", "mall_dev", "train", "shanghaitech_a_train")
CACHED_OUTPUTS = ("backend_6_relu", "backend_8_relu", "density")
"""The 256-channel activation that feeds the fine-tuned tail, the stock first tail layer's output (the
input of the trained part with ``freeze: 2``, kept in fp32 so training needs no second pass), and the
stock output (the baseline)."""

INT8_OUTPUTS = ("backend_8_relu", "density")
"""``--front int8``: the installed int8 CSRNet (recipe 3), whose ``backend_8_relu`` is the float tensor
the product's fp32 ``backend_10`` reads (the stock tail on it gives the product's map to 6e-8); its
``backend_6_relu`` is quantised, so an int8 cache trains ``freeze >= 2`` only."""
FRONTS = ("fp32", "int8")

log = logging.getLogger("train_crowd_density")


def cache_dir(width: int, front: str) -> Path:
    """The cache of one input width and front end (``fp32``: the exact rebuild; ``int8``: the product's)."""
    return CACHE / (f"w{width}" if front == "fp32" else f"w{width}-{front}")


def default_model(front: str) -> Path:
    return ROOT / "vigil-data" / "models" / "csrnet" / ("model.onnx" if front == "fp32" else "model-int8.onnx")


def feature_session(model: Path, outputs: tuple[str, ...] = CACHED_OUTPUTS) -> ort.InferenceSession:
    """CSRNet with its intermediate back-end activations as extra outputs."""
    proto = onnx.load(str(model))
    names = {o.name for o in proto.graph.output}
    for name in outputs:
        if name not in names:
            proto.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("ORT_THREADS", os.environ.get("OMP_NUM_THREADS", "2")))
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _spread(items: list[Any], passes: int) -> list[Any]:
    """``items`` reordered in ``passes`` interleaved sweeps (every ``passes``-th image, then the ones
    half-way between, ...), so a cache stopped early still covers every fold of the set evenly."""
    if passes <= 1:
        return items
    offsets: list[int] = [0]
    step = passes
    while step > 1:
        step //= 2
        offsets += [o + step for o in offsets]
    return [item for o in offsets if o < passes for item in items[o::passes]]


def cache(args: argparse.Namespace) -> None:
    model = args.model or default_model(args.front)
    outputs = CACHED_OUTPUTS if args.front == "fp32" else INT8_OUTPUTS
    session = feature_session(model, outputs)
    out_root = cache_dir(args.width, args.front)
    for name in args.sets:
        items = _spread(list_images(DATA / name)[:: args.stride], args.passes)
        if args.reverse:  # a second process can fill the set from its end while the first works forward
            items = items[::-1]
        folder = out_root / name
        folder.mkdir(parents=True, exist_ok=True)
        started, done = time.perf_counter(), 0
        for i, item in enumerate(items):
            target = folder / f"{item.image.stem}.npz"
            if target.exists():
                continue
            image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
            h, w = image.shape[:2]
            blob = prepare(image, args.width)  # exactly what the product's DensityEstimator runs
            t0 = time.perf_counter()
            got = dict(zip(outputs, session.run(list(outputs), {"image": blob}), strict=True))
            b8, dens = got["backend_8_relu"], got["density"]
            run_s = time.perf_counter() - t0
            scale = blob.shape[3] / w  # input pixels per frame pixel (x and y alike, to rounding)
            points = head_points(item.truth) * np.array([blob.shape[3] / w, blob.shape[2] / h])
            tmp = target.with_suffix(".tmp.npz")
            b6 = {"b6": got["backend_6_relu"][0].astype(np.float16)} if "backend_6_relu" in got else {}
            np.savez(
                tmp,
                **b6,
                density=dens[0, 0].astype(np.float32),
                points=points.astype(np.float32),
                frame=np.array([w, h]),
                scale=np.float32(scale),
                run_s=np.float32(run_s),
            )
            np.save(frozen_path(target, 2), b8.astype(np.float32))  # before the .npz: its presence means done
            tmp.rename(target)
            done += 1
            if done % 10 == 0:
                rate = (time.perf_counter() - started) / done
                log.info("%s: %d/%d cached, %.1f s per image", name, i + 1, len(items), rate)
        log.info("%s: all %d cached", name, len(items))


# ---------------------------------------------------------------- training

TAIL_KEYS = ("backend_8_w", "backend_8_b", "backend_10_w", "backend_10_b", "output_layer_w", "output_layer_b")
"""The layers fine-tuned: the last two dilated convolutions (256->128->64) and the 1x1 output."""


@dataclass(frozen=True)
class Sample:
    """One cached image: where its features are and its head points in density-map cells."""

    dataset: str
    stem: str
    index: int  # position in the set's natural order (time, for Mall)
    of: int  # images in the set
    path: Path
    cells: np.ndarray  # (N, 2) x, y in cells of the density map
    shape: tuple[int, int]  # density map (rows, cols)

    @property
    def count(self) -> int:
        return int(self.cells.shape[0])


def load_samples(width: int, sets: list[str], front: str = "fp32") -> list[Sample]:
    """The cached images of ``sets`` (a set cached with ``--stride`` contributes what was cached)."""
    out: list[Sample] = []
    for name in sets:
        folder = cache_dir(width, front) / name
        items = list_images(DATA / name)
        cached = [(index, item) for index, item in enumerate(items) if (folder / f"{item.image.stem}.npz").exists()]
        if not cached:
            raise SystemExit(f"{name}: nothing cached at width {width}; run: cache")
        log.info("%s: %d of %d images cached", name, len(cached), len(items))
        for index, item in cached:
            path = folder / f"{item.image.stem}.npz"
            with np.load(path) as z:
                shape = tuple(int(v) for v in z["density"].shape)
                # An input pixel x lies in cell x / 8; cell c's centre is 8c + 4, so centres are integers.
                cells = z["points"].astype(np.float64) / STRIDE - 0.5
            out.append(Sample(name, item.image.stem, index, len(items), path, cells, (shape[0], shape[1])))
    return out


def gt_density(sample: Sample, sigma: float) -> np.ndarray:
    """Each head a Gaussian of ``sigma`` cells, cut at the map's edge and renormalised so it sums to 1."""
    rows, cols = sample.shape
    if sample.count == 0:
        return np.zeros((rows, cols), np.float32)
    gx = np.exp(-((np.arange(cols)[None, :] - sample.cells[:, :1]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((np.arange(rows)[None, :] - sample.cells[:, 1:2]) ** 2) / (2 * sigma**2))
    gx /= np.maximum(gx.sum(axis=1, keepdims=True), 1e-12)
    gy /= np.maximum(gy.sum(axis=1, keepdims=True), 1e-12)
    return (gy.T @ gx).astype(np.float32)


def folds_of(samples: list[Sample], k: int) -> list[int]:
    """Fold of each sample: ``k`` contiguous blocks of each set in its natural order (Mall frames
    follow one another in time, so random folds would put near-copies on both sides)."""
    return [min(k - 1, s.index * k // s.of) for s in samples]


def _torch_tail(weights: dict[str, np.ndarray]) -> Any:
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(256, 128, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(128, 64, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(64, 1, 1),
    )
    with torch.no_grad():
        for layer, prefix in zip(
            (model[0], model[2], model[4]), ("backend_8", "backend_10", "output_layer"), strict=True
        ):
            layer.weight.copy_(torch.from_numpy(weights[f"{prefix}_w"]))
            layer.bias.copy_(torch.from_numpy(weights[f"{prefix}_b"]))
    return model


def _export(model: Any) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_{kind}": getattr(layer, "weight" if kind == "w" else "bias")
        .detach()
        .numpy()
        .astype(np.float32)
        .copy()
        for layer, prefix in zip(
            (model[0], model[2], model[4]), ("backend_8", "backend_10", "output_layer"), strict=True
        )
        for kind in ("w", "b")
    }


def torch_name(key: str) -> str:
    """``backend_8_w`` (ONNX initializer) → ``backend.8.weight`` (the wheel's state-dict key)."""
    stem, kind = key.rsplit("_", 1)
    layer = stem.replace("backend_", "backend.")
    return f"{layer}.{'weight' if kind == 'w' else 'bias'}"


def stock_tail(model: Path) -> dict[str, np.ndarray]:
    proto = onnx.load(str(model))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    return {key: np.asarray(inits[key], np.float32) for key in TAIL_KEYS}


def features(sample: Sample) -> np.ndarray:
    with np.load(sample.path) as z:
        if "b6" not in z:
            raise SystemExit(f"{sample.path}: an int8 cache keeps backend_8_relu only; train with freeze >= 2")
        return np.array(z["b6"], dtype=np.float32)


def frozen_path(path: Path, freeze: int) -> Path:
    """Where the stock layers' output after ``freeze`` tail modules is kept for the image at ``path``."""
    return path.with_name(f"{path.stem}.f{freeze}.npy")


def frozen_features(sample: Sample, freeze: int, stock: dict[str, np.ndarray]) -> np.ndarray:
    """The input of the trained part when the first ``freeze`` modules stay stock: read from disk
    (``frozen`` writes it once; each CV fold would otherwise recompute it), else computed."""
    import torch

    target = frozen_path(sample.path, freeze)
    if target.exists():
        return np.load(target).astype(np.float32)
    with torch.no_grad():
        two = frozen_path(sample.path, 2)
        if freeze > 2 and two.exists():  # on from the kept first-layer output: a quarter of the work
            x = _torch_tail(stock)[2:freeze](torch.from_numpy(np.load(two).astype(np.float32)))
        else:
            x = _torch_tail(stock)[:freeze](torch.from_numpy(features(sample))[None])
    return np.asarray(x.numpy(), np.float32)


def frozen(args: argparse.Namespace) -> None:
    stock = stock_tail(args.model or default_model(args.front))
    for s in load_samples(args.width, args.sets, args.front):
        target = frozen_path(s.path, args.freeze)
        if not target.exists():
            np.save(target, frozen_features(s, args.freeze, stock).astype(np.float16))


def train_tail(
    samples: list[Sample], init: dict[str, np.ndarray], hp: dict[str, Any], seed: int, tag: str
) -> dict[str, np.ndarray]:
    """Fine-tune the tail on ``samples`` (whole maps, one image per step, Adam, one-cycle schedule).

    ``hp["freeze"]``: how many modules of the tail (conv, relu, conv, relu, conv) stay as shipped:
    0 trains all three layers; 2 keeps the first (256->128) and trains the rest on its output,
    computed once per image (about 7x less work per step, measured); 4 trains the 1x1 output only.
    """
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    rng = np.random.default_rng(seed)
    flips = np.random.default_rng(seed + 1000)  # its own stream: the image order stays as without flips
    model = _torch_tail(init)
    head = model[hp["freeze"] :]
    frozen = model[: hp["freeze"]] if hp["freeze"] else None
    inputs: dict[Path, Any] = {}

    def x_of(s: Sample) -> Any:
        if frozen is None:
            return torch.from_numpy(features(s))[None]
        if s.path not in inputs:
            inputs[s.path] = torch.from_numpy(frozen_features(s, hp["freeze"], init)).to(torch.float16)
        return inputs[s.path].to(torch.float32)

    opt = torch.optim.Adam(head.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    by_set: dict[str, list[Sample]] = {}
    for s in samples:
        by_set.setdefault(s.dataset, []).append(s)
    per_epoch = {name: min(len(group), hp["per_set_epoch"].get(name, len(group))) for name, group in by_set.items()}
    steps = hp["epochs"] * sum(per_epoch.values())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp["lr"], total_steps=steps, pct_start=0.1)
    gts: dict[Path, np.ndarray] = {}
    step, started = 0, time.perf_counter()
    for epoch in range(hp["epochs"]):
        order = [
            s
            for name, group in by_set.items()
            for s in rng.permutation(np.array(group, dtype=object))[: per_epoch[name]]
        ]
        rng.shuffle(order)
        total, count_err = 0.0, 0.0
        for s in order:
            if s.path not in gts:
                gts[s.path] = gt_density(s, hp["sigma"])
            y, x = torch.from_numpy(gts[s.path])[None, None], x_of(s)
            if hp["flip"] and flips.random() < 0.5:
                # With freeze >= 1 this mirrors the kept stock features, not the photo: the stock
                # layers before are not mirror-symmetric, so it is an augmentation of its own kind.
                x, y = x.flip(-1), y.flip(-1)
            pred = head(x)
            pixel = ((pred - y) ** 2).sum()
            count = (pred.sum() - y.sum()).abs()
            # A set's weight scales its images' loss: Mall's counts are 4x smaller than Part B's, so
            # unweighted its squared errors hardly move the shared layers.
            loss = hp["set_weight"].get(s.dataset, 1.0) * (pixel + hp["count_weight"] * count)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += float(loss)
            count_err += float(count)
        log.info(
            "%s epoch %d/%d: loss %.3f, train count MAE %.2f (%d images, %.0f s)",
            tag,
            epoch + 1,
            hp["epochs"],
            total / len(order),
            count_err / len(order),
            len(order),
            time.perf_counter() - started,
        )
    return _export(model)


def predict(
    weights: dict[str, np.ndarray], samples: list[Sample], freeze: int = 0, stock: dict[str, np.ndarray] | None = None
) -> list[np.ndarray]:
    """Density maps of ``samples``; with ``freeze`` (the first modules stock) from the kept frozen output."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    model = _torch_tail(weights)
    with torch.no_grad():
        if freeze and stock is not None:
            return [model[freeze:](torch.from_numpy(frozen_features(s, freeze, stock)))[0, 0].numpy() for s in samples]
        return [model(torch.from_numpy(features(s))[None])[0, 0].numpy() for s in samples]


DEFAULT_HP: dict[str, Any] = {
    "epochs": 12,
    "freeze": 0,
    "lr": 1e-4,
    "weight_decay": 1e-4,
    "sigma": 1.5,
    "count_weight": 0.1,
    "per_set_epoch": {"mall_dev": 100},
    "set_weight": {},
    "flip": False,
}


def _errors(pred: list[float], truth: list[int]) -> dict[str, float]:
    e = np.asarray(pred) - np.asarray(truth)
    return {
        "n": len(e),
        "mae": round(float(np.abs(e).mean()), 3),
        "rmse": round(float(np.sqrt((e**2).mean())), 3),
        "bias": round(float(e.mean()), 3),
    }


def cv(args: argparse.Namespace) -> None:
    hp = {**DEFAULT_HP, **json.loads(args.hp)}
    samples = load_samples(args.width, args.sets, args.front)
    folds = folds_of(samples, args.folds)
    init = stock_tail(args.model or default_model(args.front))
    out_dir = cache_dir(args.width, args.front) / f"cv-{args.tag}"
    out_dir.mkdir(parents=True, exist_ok=True)
    # The images this run saw (a cache still filling holds more later): benches that score the fold
    # tails take exactly these, so a "train-fold" image is one the tail was trained on.
    (out_dir / "samples.txt").write_text("".join(f"{s.dataset}/{s.stem}\n" for s in samples), encoding="utf-8")
    report: dict[str, Any] = {
        "hp": hp,
        "sets": args.sets,
        "train_sets": args.train_sets,
        "folds": args.folds,
        "seed": args.seed,
        "per_fold": [],
    }
    oof: dict[int, float] = {}
    for k in range(args.folds) if args.only_fold is None else [args.only_fold]:
        train = [s for s, f in zip(samples, folds, strict=True) if f != k and s.dataset in args.train_sets]
        valid = [(i, s) for i, (s, f) in enumerate(zip(samples, folds, strict=True)) if f == k]
        weights = train_tail(train, init, hp, args.seed + k, f"{args.tag} fold {k}")
        maps = predict(weights, [s for _, s in valid], hp["freeze"], init)
        for (i, s), m in zip(valid, maps, strict=True):
            oof[i] = float(np.clip(m, 0, None).sum())
            np.save(out_dir / f"{s.dataset}__{s.stem}.npy", m.astype(np.float32))
        np.savez(out_dir / f"fold{k}.npz", **weights)
        train_pred = predict(weights, train, hp["freeze"], init)
        fold_row: dict[str, Any] = {"fold": k}
        for name in args.sets:
            tr = [
                (float(np.clip(m, 0, None).sum()), s)
                for s, m in zip(train, train_pred, strict=True)
                if s.dataset == name
            ]
            va = [(oof[i], s) for i, s in valid if s.dataset == name]
            # The stock layers on the same images, beside the fine-tuned ones.
            fold_row[name] = {
                split: {
                    "tuned": _errors([p for p, _ in rows], [s.count for _, s in rows]),
                    "stock": _errors([_stock_count(s) for _, s in rows], [s.count for _, s in rows]),
                }
                if rows
                else None
                for split, rows in (("train_fold", tr), ("validation_fold", va))
            }
        report["per_fold"].append(fold_row)
        log.info("%s fold %d: %s", args.tag, k, json.dumps(fold_row))
    done = [i for i in range(len(samples)) if i in oof]
    report["validation"] = {
        name: _errors(
            [oof[i] for i in done if samples[i].dataset == name],
            [samples[i].count for i in done if samples[i].dataset == name],
        )
        for name in args.sets
    }
    report["stock"] = {
        name: _errors(
            [_stock_count(samples[i]) for i in done if samples[i].dataset == name],
            [samples[i].count for i in done if samples[i].dataset == name],
        )
        for name in args.sets
    }
    report_name = "report.json" if args.only_fold is None else f"report-fold{args.only_fold}.json"
    (out_dir / report_name).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    log.info("%s validation: %s", args.tag, json.dumps(report["validation"]))
    log.info("%s stock: %s", args.tag, json.dumps(report["stock"]))


def _stock_count(s: Sample) -> float:
    with np.load(s.path) as z:
        return float(np.clip(z["density"], 0, None).sum())


def final(args: argparse.Namespace) -> None:
    hp = {**DEFAULT_HP, **json.loads(args.hp)}
    samples = load_samples(args.width, args.train_sets, args.front)
    init = stock_tail(args.model or default_model(args.front))
    weights = train_tail(samples, init, hp, args.seed, f"{args.tag} final")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Saved under the wheel's own (PyTorch) names, trained layers only (freeze 2: backend_10 + output,
    # ~290 kB; vigil.models.csrnet.add_tuned_tail reads them). The bytes are reproducible (fixed zip
    # times), so the manifest's SHA-256 pins the file a seeded run writes on the same machine.
    trained = [p for i, p in enumerate(("backend_8", "backend_10", "output_layer")) if 2 * i >= hp["freeze"]]
    kept = {torch_name(key): value for key, value in weights.items() if key.rsplit("_", 1)[0] in trained}
    np.savez_compressed(args.out, **kept)
    meta = {"width": args.width, "front": args.front, "hp": hp, "train_sets": args.train_sets, "seed": args.seed}
    meta |= {"images": len(samples), "layers": sorted(kept)}
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s (%s)", args.out, json.dumps(meta))


FRONT_HELP = "fp32: the exact rebuild (w1024/); int8: the installed int8 graph, the product's path (w1024-int8/)"
MODEL_HELP = "CSRNet graph (default: the installed model.onnx or model-int8.onnx, by --front)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cache", help="run the frozen layers once per image and keep their activations")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--front", choices=FRONTS, default="fp32", help=FRONT_HELP)
    p.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
    p.add_argument("--sets", nargs="+", default=list(SETS))
    p.add_argument("--stride", type=int, default=1, help="cache every n-th image only (natural order)")
    p.add_argument("--reverse", action="store_true", help="from the last image back (existing files are skipped)")
    p.add_argument("--passes", type=int, default=1, help="interleaved sweeps (power of 2): 8 = every 8th image first")
    f = sub.add_parser("frozen", help="keep the stock layers' output after --freeze tail modules, per cached image")
    f.add_argument("--width", type=int, default=1024)
    f.add_argument("--front", choices=FRONTS, default="fp32", help=FRONT_HELP)
    f.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
    f.add_argument("--sets", nargs="+", default=["shanghaitech_b_train", "mall_dev"])
    f.add_argument("--freeze", type=int, default=2)
    for name, helptext in (
        ("cv", "cross-validated figures, folds side by side"),
        ("final", "train on every image, write the weights"),
    ):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--width", type=int, default=1024)
        q.add_argument("--front", choices=FRONTS, default="fp32", help=FRONT_HELP)
        q.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
        q.add_argument("--sets", nargs="+", default=["shanghaitech_b_train", "mall_dev"])
        q.add_argument("--train-sets", nargs="+", default=["shanghaitech_b_train", "mall_dev"])
        q.add_argument("--folds", type=int, default=5)
        q.add_argument("--only-fold", type=int, default=None, help="run one fold only (exploration)")
        q.add_argument("--seed", type=int, default=22)
        q.add_argument("--hp", default="{}", help="JSON overriding DEFAULT_HP")
        q.add_argument("--tag", default="tail")
        q.add_argument("--out", type=Path, default=ROOT / "src" / "vigil" / "models" / "weights" / "csrnet_tail.npz")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    {"cache": cache, "frozen": frozen, "cv": cv, "final": final}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
