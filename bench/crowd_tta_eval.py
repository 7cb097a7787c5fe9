"""Crowd counting experiments on the cache of crowd_tta_collect.py: detection variants × density rules.

.venv/bin/python bench/crowd_tta_eval.py --cache /tmp/crowd_tta [--precision int8] [--diag]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.crowd.combine import split_density
from vigil.crowd.density import DensityMap
from vigil.crowd.tiling import merge_tile_boxes

CONF = 0.3
FLOOR = 0.03


@dataclass
class Img:
    name: str
    z: dict[str, np.ndarray]

    @property
    def truth(self) -> np.ndarray:
        return self.z["truth"]

    def boxes(self, prec: str, size: int, flip: int, grid: int, conf: float = CONF) -> np.ndarray:
        k = f"{prec}/{size}/{flip}/{grid}"
        keep = self.z[f"{k}/conf"] >= conf
        return self.z[f"{k}/xyxy"][keep]

    def dmap(self, width: int = 384, flip_avg: bool = False) -> DensityMap:
        fw, fh = (int(v) for v in self.z["frame"])
        d = self.z[f"csr/{width}/0"]
        if flip_avg:
            d = 0.5 * (d + self.z[f"csr/{width}/1"])
        return DensityMap(d, fw, fh, 0.0)


def load(cache: Path) -> list[Img]:
    files = sorted(cache.glob("*.npz"), key=lambda p: int(p.stem.rpartition("_")[2]))
    out = []
    for f in files:
        with np.load(f) as z:
            out.append(Img(f.stem, {k: z[k] for k in z.files}))
    return out


def merged(img: Img, prec: str, parts: list[tuple[int, int, int]], conf: float = CONF) -> np.ndarray:
    """First part is the primary (kept whole); the rest are merged in by the tile-merge rule, in order."""
    size, flip, grid = parts[0]
    kept = img.boxes(prec, size, flip, grid, conf)
    for size, flip, grid in parts[1:]:
        kept = merge_tile_boxes(kept, img.boxes(prec, size, flip, grid, conf))
    return kept


def merged_pool(img: Img, prec: str, parts: list[tuple[int, int, int]], conf: float = CONF) -> np.ndarray:
    """First part primary; all the others pooled into one secondary set (largest first)."""
    size, flip, grid = parts[0]
    kept = img.boxes(prec, size, flip, grid, conf)
    rest = [img.boxes(prec, s, f, g, conf) for s, f, g in parts[1:]]
    return merge_tile_boxes(kept, np.concatenate(rest)) if rest else kept


def residual(
    img: Img,
    boxes: np.ndarray,
    *,
    floor: float = FLOOR,
    width: int = 384,
    flip_avg: bool = False,
    grow: float = 0.0,
    far_field: str | None = None,
) -> float:
    d = img.dmap(width, flip_avg)
    b = boxes.copy()
    if grow and len(b):
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        b = b + np.stack([-grow * bw, -grow * bh, grow * bw, grow * bh], axis=1)
    parts = split_density(d, b, floor)
    r = parts.residual
    if far_field and len(boxes):
        s = parts.cell_scale
        if far_field == "lowest_top":  # above the top of the lowest person box (its head row)
            i = int(np.argmax(boxes[:, 3]))
            row = boxes[i, 1]
        elif far_field == "lowest_bottom":
            row = boxes[:, 3].max()
        else:
            raise ValueError(far_field)
        cut = int(np.ceil(row * s))
        r = r.copy()
        r[cut:, :] = 0.0
    return float(r.sum())


def stats(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    e = pred - truth
    idx = np.arange(len(truth))
    return {
        "mae": float(np.abs(e).mean()),
        "rmse": float(np.sqrt((e**2).mean())),
        "bias": float(e.mean()),
        "odd": float(np.abs(e[idx % 2 == 0]).mean()),  # IMG_1, IMG_3, ... (index 0, 2, ...)
        "even": float(np.abs(e[idx % 2 == 1]).mean()),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cache", type=Path, default=Path("/tmp/crowd_tta"))
    p.add_argument("--precision", default="int8")
    p.add_argument("--diag", action="store_true")
    args = p.parse_args()
    imgs = load(args.cache)
    prec = args.precision
    truth = np.array([len(i.truth) for i in imgs], dtype=np.float64)
    print(f"n={len(imgs)} precision {prec}, conf {CONF}, floor {FLOOR}")

    w, wf, t2, t2f, t3, t3f = (416, 0, 1), (416, 1, 1), (416, 0, 2), (416, 1, 2), (416, 0, 3), (416, 1, 3)
    w6, w6f, t26, t26f = (608, 0, 1), (608, 1, 1), (608, 0, 2), (608, 1, 2)
    t36 = (608, 0, 3)
    # detector runs per image, and pixel-cost in units of a 416 run
    det_variants: dict[str, tuple[Callable[[Img], np.ndarray], float]] = {
        "whole 416 (1 run)": (lambda i: merged(i, prec, [w]), 1),
        "BASE whole+2x2 416 (5)": (lambda i: merged(i, prec, [w, t2]), 5),
        "flip whole only + 2x2 (6)": (lambda i: merged(i, prec, [w, wf, t2]), 6),
        "flip all: w,wf,t2,t2f (10)": (lambda i: merged(i, prec, [w, wf, t2, t2f]), 10),
        "flip all pooled (10)": (lambda i: merged_pool(i, prec, [w, wf, t2, t2f]), 10),
        "flip tiles only w,t2,t2f (9)": (lambda i: merged(i, prec, [w, t2, t2f]), 9),
        "whole 608 + 2x2 608 (5 @608 = 10.7)": (lambda i: merged(i, prec, [w6, t26]), 5 * (608 / 416) ** 2),
        "whole 608 + 2x2 416 (1@608+4 = 6.1)": (lambda i: merged(i, prec, [w6, t2]), (608 / 416) ** 2 + 4),
        "whole 416 + 2x2 608 (1+4@608 = 9.5)": (lambda i: merged(i, prec, [w, t26]), 1 + 4 * (608 / 416) ** 2),
        "whole 416 + 608 + 2x2 416 (7.1)": (lambda i: merged(i, prec, [w, w6, t2]), 1 + (608 / 416) ** 2 + 4),
        "whole + 3x3 416 (10)": (lambda i: merged(i, prec, [w, t3]), 10),
        "whole + 2x2 + 3x3 416 (14)": (lambda i: merged(i, prec, [w, t2, t3]), 14),
        "whole + 2x2 + 3x3 pooled (14)": (lambda i: merged_pool(i, prec, [w, t2, t3]), 14),
        "flip 608 w6,w6f,t26,t26f (21.4)": (lambda i: merged(i, prec, [w6, w6f, t26, t26f]), 10 * (608 / 416) ** 2),
        "whole 608 + 3x3 608 (21.4)": (lambda i: merged(i, prec, [w6, t36]), 10 * (608 / 416) ** 2),
        "flip + 3x3: w,wf,t2,t2f,t3,t3f (28)": (lambda i: merged(i, prec, [w, wf, t2, t2f, t3, t3f]), 28),
    }
    density_rules: dict[str, Callable[[Img, np.ndarray], float]] = {
        "floor .03": residual,
        "floor .03 flip-avg CSRNet": lambda i, b: residual(i, b, flip_avg=True),
        "boxes +10%": lambda i, b: residual(i, b, grow=0.1),
        "boxes -10%": lambda i, b: residual(i, b, grow=-0.1),
        "far field: above lowest box top": lambda i, b: residual(i, b, far_field="lowest_top"),
        "far field: above lowest box bottom": lambda i, b: residual(i, b, far_field="lowest_bottom"),
    }
    print(
        f"{'detection':40s} {'det MAE':>7s} {'bias':>6s} | {'density rule':32s} {'MAE':>5s} {'RMSE':>5s} "
        f"{'bias':>6s} {'odd':>5s} {'even':>5s}  cost"
    )
    table: dict[tuple[str, str], np.ndarray] = {}
    for dname, (fn, cost) in det_variants.items():
        try:
            boxes = [fn(i) for i in imgs]
        except KeyError:
            print(f"{dname:40s} (not in the cache)")
            continue
        dcount = np.array([len(b) for b in boxes], dtype=np.float64)
        ds = stats(dcount, truth)
        for rname, rule in density_rules.items():
            pred = dcount + np.array([rule(i, b) for i, b in zip(imgs, boxes, strict=True)])
            table[(dname, rname)] = pred
            s = stats(pred, truth)
            print(
                f"{dname:40s} {ds['mae']:7.2f} {ds['bias']:+6.2f} | {rname:32s} {s['mae']:5.2f} {s['rmse']:5.2f} "
                f"{s['bias']:+6.2f} {s['odd']:5.2f} {s['even']:5.2f}  {cost:.1f}"
            )
    idx = np.arange(len(imgs))
    halves = {"odd": idx % 2 == 0, "even": idx % 2 == 1}
    base = table[("BASE whole+2x2 416 (5)", "floor .03")]
    print("\nselection over all the candidates above, on one half, scored on the other:")
    for fit, test in (("odd", "even"), ("even", "odd")):

        def half_mae(k: tuple[str, str], h: str) -> float:
            return float(np.abs(table[k][halves[h]] - truth[halves[h]]).mean())

        best = min(table, key=lambda k: half_mae(k, fit))
        print(
            f"  chosen on {fit}: {best} fit {half_mae(best, fit):.2f} -> {test} {half_mae(best, test):.2f} "
            f"(base on {test}: {np.abs(base[halves[test]] - truth[halves[test]]).mean():.2f})"
        )
    print("\nhow much of a rule's gain over its plain-floor row comes from one image:")
    for dname in det_variants:
        plain = table.get((dname, "floor .03"))
        far = table.get((dname, "far field: above lowest box top"))
        if plain is None or far is None:
            continue
        gain = np.abs(plain - truth) - np.abs(far - truth)
        top = int(np.argmax(gain))
        rest = np.arange(len(truth)) != top
        print(
            f"  {dname:40s} far-field gain {gain.mean():+.2f}; without {imgs[top].name} {gain[rest].mean():+.2f}; "
            f"images better/worse {(gain > 0.05).sum()}/{(gain < -0.05).sum()}"
        )
    if args.diag:
        diag(imgs, prec)


def heads_in(boxes: np.ndarray, pts: np.ndarray) -> np.ndarray:
    if len(boxes) == 0 or len(pts) == 0:
        return np.zeros(len(pts), dtype=bool)
    x, y = pts[:, 0:1], pts[:, 1:2]
    inside = (x >= boxes[None, :, 0]) & (x <= boxes[None, :, 2]) & (y >= boxes[None, :, 1]) & (y <= boxes[None, :, 3])
    return inside.any(axis=1)


def diag(imgs: list[Img], prec: str) -> None:
    print("\nper image (BASE): truth, boxes, heads in boxes, heads outside, residual, pred, err; flip-all boxes, pred")
    for i in imgs:
        b = merged(i, prec, [(416, 0, 1), (416, 0, 2)])
        bf = merged(i, prec, [(416, 0, 1), (416, 1, 1), (416, 0, 2), (416, 1, 2)])
        inside = heads_in(b, i.truth)
        r = residual(i, b)
        rf = residual(i, bf)
        print(
            f"{i.name:7s} {len(i.truth):3d} {len(b):3d} {inside.sum():3d} {(~inside).sum():3d} {r:6.2f} "
            f"{len(b) + r:6.2f} {len(b) + r - len(i.truth):+6.2f} | {len(bf):3d} {len(bf) + rf:6.2f} "
            f"{len(bf) + rf - len(i.truth):+6.2f}"
        )


if __name__ == "__main__":
    main()
