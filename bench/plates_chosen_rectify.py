"""The chosen scene plate's cut rectified before it is read: data for a 2-fold choice.

Most of the US scene misses left after the sixth round are a found plate whose labelled box reads
right while the found cut reads wrong. This keeps, for every US scene (read by the default reader,
as ``read_scene`` reads it), the chosen read's cut and its other cuts (``CHOSEN_CUTS_IOU``), and for
each cut v2's (with its country scores) and v1's per-slot probabilities on ``CHOSEN_VIEWS`` cut
from four versions of the picture around it:

* ``base``: the frame as it is (today's read);
* ``rot``: turned about the cut's centre by the angle that makes the text's rows sharpest (the
  horizontal projection of vertical edges, searched over -10..10 degrees, 1-degree steps);
* ``shear``: sheared sideways about the cut's centre by the slant that makes the strokes most
  upright (the vertical projection of vertical edges, searched over -15..15 degrees, 2.5-degree
  steps), after the rotation is found zero;
* ``both``: the rotation, then the slant searched on the turned picture.

Both searches are generic (no plate layout): they look for the rotation and the slant under which
the edges line up, as a document deskew / deslant does. ``--analyse`` then scores rules offline,
each chosen on one fold (even / odd scenes in label order; the same scenes at other scales pooled,
a scene and its smaller copies always in the same fold) and scored on the other. The grid is fixed
in ``RULES`` before any scoring.

Nothing here is used by the product.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_chosen_rectify.py [--band] OUT [N|0] [SCALE]
    .venv/bin/python bench/plates_chosen_rectify.py --analyse [--grid rectify|band|cut|height|height2] OUT [OUT ...]
    OMP_NUM_THREADS=1 .venv/bin/python bench/plates_chosen_rectify.py --cpu [N]   # CPU time, 1 thread
"""

from __future__ import annotations

import itertools
import math
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.core.frame import BGRImage
from vigil.plates.eval import LabelledPlate, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.reader import (
    CHOSEN_CUTS_BELOW,
    CHOSEN_CUTS_IOU,
    CLOSER_LINE_BOX,
    Box,
    PlateRead,
    PlateReader,
    _chosen_views,
    _clip,
    _expand,
    _taller_first,
)
from vigil.workers.plates_stage import build_plate_reader

VERSIONS: tuple[str, ...] = ("base", "rot", "shear", "both")
BAND_VERSIONS: tuple[str, ...] = ("base", "both", "band10", "band15", "rband10", "rband15")
"""Collected with ``--band``: the cut's top and bottom moved to the band of text rows (below), on
the picture as it is or rectified (``both``) first; 10 / 15: the band.s threshold in % of its peak."""
ANGLES = np.arange(-10.0, 10.5, 1.0)
SLANTS = np.arange(-15.0, 15.5, 2.5)
CONTEXT = (0.5, 0.8)
"""The picture warped around a cut: the cut's box widened by these fractions per side (the views
reach 0.15 x 0.2 beyond the box, and a turn brings in corners)."""


def _affine(centre: tuple[float, float], degrees: float, slant: float) -> np.ndarray[Any, Any]:
    """Turn by ``degrees`` (counter-clockwise) then shear sideways by ``slant`` degrees, about ``centre``."""
    cx, cy = centre
    rot = np.vstack([cv2.getRotationMatrix2D((cx, cy), degrees, 1.0), [0, 0, 1]])
    k = math.tan(math.radians(slant))
    shear = np.array([[1.0, k, -k * cy], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return (shear @ rot)[:2]


def _warp(ctx: np.ndarray[Any, Any], local: Any, degrees: float, slant: float) -> np.ndarray[Any, Any]:
    m = _affine(((local[0] + local[2]) / 2, (local[1] + local[3]) / 2), degrees, slant)
    size = (ctx.shape[1], ctx.shape[0])
    return np.asarray(cv2.warpAffine(ctx, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE), np.uint8)


def _edges(gray: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3))


def _sharpness(profile: np.ndarray[Any, Any]) -> float:
    d = np.diff(profile)
    return float((d * d).sum())


def estimate(
    gray: np.ndarray[Any, Any], box: tuple[float, float, float, float], turn: bool, slant: bool
) -> tuple[float, float]:
    """(degrees, slant) that line the text in ``box`` of ``gray`` up; 0 where not searched."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    scale = max(1.0, 48.0 / max(bh, 1.0))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 else gray
    cx, cy = (box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale
    sw, sh = bw * scale, bh * scale
    ys = slice(max(0, int(cy - 0.8 * sh)), int(cy + 0.8 * sh) + 1)
    xs = slice(max(0, int(cx - 0.5 * sw)), int(cx + 0.5 * sw) + 1)
    best_a = 0.0
    if turn:
        scores = []
        for a in ANGLES:
            m = _affine((cx, cy), float(a), 0.0)
            warped = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]), borderMode=cv2.BORDER_REPLICATE)
            scores.append(_sharpness(_edges(warped)[ys, xs].sum(axis=1)))
        best_a = float(ANGLES[int(np.argmax(scores))])
    best_s = 0.0
    if slant:
        ys_in = slice(max(0, int(cy - 0.45 * sh)), int(cy + 0.45 * sh) + 1)
        scores = []
        for s in SLANTS:
            m = _affine((cx, cy), best_a, float(s))
            warped = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]), borderMode=cv2.BORDER_REPLICATE)
            scores.append(_sharpness(_edges(warped)[ys_in, xs].sum(axis=0)))
        best_s = float(SLANTS[int(np.argmax(scores))])
    return best_a, best_s


def snap_band(gray: np.ndarray[Any, Any], box: Any, frac: float) -> Any:
    """``box`` with its top and bottom moved to the band of text rows around it: the rows whose
    vertical-edge energy (across the box's middle 90 %) is at least ``frac`` of the peak row's,
    the run that holds the peak, searched from 0.3 of the box's height above to 0.3 below; the
    band is widened by ``ROW_TO_PLATE``'s 0.15 of its height per side, as a row is."""
    h, w = gray.shape[:2]
    bh, bw = box[3] - box[1], box[2] - box[0]
    y0, y1 = max(0, int(box[1] - 0.3 * bh)), min(h, int(box[3] + 0.3 * bh) + 1)
    x0, x1 = max(0, int(box[0] + 0.05 * bw)), min(w, int(box[2] - 0.05 * bw) + 1)
    if y1 - y0 < 4 or x1 - x0 < 4:
        return box
    prof = _edges(gray.astype(np.float32))[y0:y1, x0:x1].sum(axis=1)
    prof = np.convolve(prof, np.ones(3) / 3, mode="same")
    peak = int(np.argmax(prof))
    on = prof >= frac * prof[peak]
    top = peak
    while top > 0 and on[top - 1]:
        top -= 1
    bot = peak
    while bot < len(on) - 1 and on[bot + 1]:
        bot += 1
    band = bot + 1 - top
    if band < 4:
        return box
    return (box[0], y0 + top - 0.15 * band, box[2], y0 + bot + 1 + 0.15 * band)


def rectified_views(image: np.ndarray[Any, Any], box: Any, version: str) -> tuple[list[Any], float, float]:
    """``CHOSEN_VIEWS`` of ``box`` cut from the picture rectified as ``version`` says."""
    if version.startswith("band"):
        snapped = snap_band(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), box, int(version[4:]) / 100)
        return _chosen_views(image, snapped), 0.0, (snapped[3] - snapped[1]) / max(box[3] - box[1], 1e-6)
    if version.startswith("rband"):
        ih, iw = image.shape[:2]
        x1, y1, x2, y2 = _clip(_expand(box, *CONTEXT), iw, ih)
        ctx = image[y1:y2, x1:x2]
        local = (box[0] - x1, box[1] - y1, box[2] - x1, box[3] - y1)
        if ctx.size == 0:
            return _chosen_views(image, box), 0.0, 1.0
        gray = cv2.cvtColor(ctx, cv2.COLOR_BGR2GRAY)
        a, s = estimate(gray, local, True, True)
        warped = _warp(ctx, local, a, s) if a or s else ctx
        snapped = snap_band(cv2.cvtColor(warped, cv2.COLOR_BGR2GRAY), local, int(version[5:]) / 100)
        return _chosen_views(warped, snapped), a, (snapped[3] - snapped[1]) / max(box[3] - box[1], 1e-6)
    if version == "base":
        return _chosen_views(image, box), 0.0, 0.0
    ih, iw = image.shape[:2]
    x1, y1, x2, y2 = _clip(_expand(box, *CONTEXT), iw, ih)
    ctx = image[y1:y2, x1:x2]
    local = (box[0] - x1, box[1] - y1, box[2] - x1, box[3] - y1)
    if ctx.size == 0:
        return _chosen_views(image, box), 0.0, 0.0
    gray = cv2.cvtColor(ctx, cv2.COLOR_BGR2GRAY)
    a, s = estimate(gray, local, version in ("rot", "both"), version in ("shear", "both"))
    if a == 0.0 and s == 0.0:
        return _chosen_views(image, box), a, s
    return _chosen_views(_warp(ctx, local, a, s), local), a, s


def scaled_scene(item: LabelledPlate, scale: float) -> tuple[BGRImage, Box]:
    """A labelled US scene and its plate box at ``scale`` (``INTER_AREA``): the pooled-scales scheme's
    smaller copies of a scene."""
    image = read_image(item.image)
    box = item.box
    assert box is not None
    if scale != 1.0:
        image = np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
        box = (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)
    return image, box


def collect(out: Path, limit: int | None, scale: float = 1.0, versions: tuple[str, ...] = VERSIONS) -> None:
    reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = reader._cct
    assert cct is not None and cct._partner is not None
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    scenes = scenes[:limit] if limit else scenes
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for k, item in enumerate(scenes):
        image, label_box = scaled_scene(item, scale)
        ranked = _taller_first(reader._read_region(image, None, True))
        first = next((r for r in ranked if r.text), None)
        today = reader._read_chosen(image, first, ranked) if first is not None else None
        if today is not None and CLOSER_LINE_BOX and today.line_box is not None:
            today = replace(today, box=today.line_box)
        cuts: list[dict[str, Any]] = []
        if first is not None and first.reader != "ppocr" and first.read_box is not None:
            group = [first] + [
                o
                for o in ranked
                if o is not first
                and o.text
                and o.read_box is not None
                and o.reader != "ppocr"
                and box_iou(o.box, first.box) >= CHOSEN_CUTS_IOU
            ]
            for read in group:
                cut: dict[str, Any] = {"read_box": read.read_box}
                for version in versions:
                    views, a, s = rectified_views(image, read.read_box, version)
                    views = [v for v in views if v.size and v.shape[0] >= 2 and v.shape[1] >= 2]
                    if not views:
                        cut[version] = None
                        continue
                    p2, r2 = cct.probabilities(views)
                    p1, _ = cct._partner.probabilities(views)
                    cut[version] = {"p2": p2, "r2": r2, "p1": p1, "angle": a, "slant": s}
                cuts.append(cut)
        rows.append(
            {
                "image": item.image.name,
                "truth": item.plate,
                "label_box": label_box,
                "today": replace(today, crop=None) if today is not None else None,
                "first": replace(first, crop=None) if first is not None else None,
                "cuts": cuts,
            }
        )
        if k % 20 == 0:
            print(f"{k}/{len(scenes)} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {len(rows)} scenes to {out}")


# -- offline rules ------------------------------------------------------------------------------

Rule = tuple[str, str, float]
"""(views: a version or 'base+VERSION' (both sets of views averaged), combination: 'mean' or
'geo' (per-slot probabilities averaged in the log), gate: rectify only where the estimated turn or
slant is at least this many degrees)."""

RULES: list[Rule] = [("base", "mean", 0.0), ("base", "geo", 0.0)] + [
    (views, comb, gate)
    for views, comb, gate in itertools.product(
        ("rot", "shear", "both", "base+rot", "base+both"), ("mean", "geo"), (0.0, 2.0, 4.0)
    )
]
"""Fixed before scoring (notes/issue-21-plates.md, seventh round)."""

RULES_BAND: list[Rule] = [("base", "mean", 0.0)] + [
    (views, "mean", gate)
    for views, gate in itertools.product(
        ("band10", "band15", "rband10", "rband15", "base+band10", "base+band15", "base+rband10", "base+rband15"),
        (0.0, 0.2),
    )
]
"""The second grid, fixed before scoring (notes): the band's cut alone or beside today's views; gate
0.2: the band's cut only where it changes the cut's height by at least 20 %. Ties on a fold: today,
then fewer views, then this order."""


def _views_of(cut: dict[str, Any], rule: Rule) -> list[dict[str, Any]] | None:
    views, _, gate = rule
    parts = views.split("+")
    base = cut.get("base")
    out = []
    for part in parts:
        got = cut.get(part)
        if part.startswith(("band", "rband")):
            if got is not None and gate > 0 and abs(got["slant"] - 1.0) < gate:
                got = base  # the band changes the cut's height by less than the gate: as it is
        elif part != "base" and got is not None and max(abs(got["angle"]), abs(got["slant"])) < gate:
            got = base  # under the gate: the picture as it is
        if got is None:
            continue
        out.append(got)
    return out or None


def _read(reader: PlateReader, parts: list[dict[str, Any]], comb: str, first: PlateRead) -> Any:
    cct = reader._cct
    assert cct is not None
    p2 = np.concatenate([p["p2"] for p in parts])
    p1 = np.concatenate([p["p1"] for p in parts])
    r2 = np.concatenate([p["r2"] for p in parts]) if parts[0]["r2"] is not None else None
    if comb == "geo":
        e = 1e-6
        s2 = np.exp(np.log(p2 + e).mean(axis=0))
        s1 = np.exp(np.log(p1 + e).mean(axis=0))
        s2 /= s2.sum(axis=1, keepdims=True)
        s1 /= s1.sum(axis=1, keepdims=True)
    else:
        s2, s1 = p2.mean(axis=0), p1.mean(axis=0)
    n = min(s2.shape[0], s1.shape[0])
    slots = s2.copy()
    slots[:n] = (s2[:n] + s1[:n]) / 2
    return cct._decode(slots, r2.mean(axis=0) if r2 is not None else None)


RULES_CUT: list[Rule] = [("base", "mean", 0.0)] + [
    (f"cut+{v}", "mean", 0.0) for v in ("both", "band10", "band15", "rband10", "rband15")
]
"""The third grid (notes): the version V of every cut competes as one more cut of the plate."""


def apply(reader: PlateReader, row: dict[str, Any], rule: Rule) -> PlateRead | None:
    """The chosen plate as ``_read_chosen`` reads it, its cuts' views taken as ``rule`` says."""
    first: PlateRead | None = row["first"]
    cuts = row["cuts"]
    if first is None or not cuts:
        return row["today"]
    if rule[0].startswith("cut+"):
        version = rule[0][4:]
        cuts = cuts + [{"base": c.get(version)} for c in cuts]
        rule = ("base", rule[1], 0.0)
    best = None
    own = _views_of(cuts[0], rule)
    if own is not None:
        again = _read(reader, own, rule[1], first)
        best = again if again.text else None
    if best is None or best.least < CHOSEN_CUTS_BELOW:
        for cut in cuts[1:]:
            parts = _views_of(cut, rule)
            if parts is None:
                continue
            again = _read(reader, parts, rule[1], first)
            if again.text and (best is None or again.least > best.least):
                best = again
    if best is None:
        return row["today"]
    out = reader._from_cct(best, np.zeros((1, 1, 3), np.uint8), first.box)
    return replace(out, score=first.score, box=row["today"].box)


HRule = tuple[str, str, float]
"""The eighth round's grid (notes/issue-21-plates-exact.md, fixed before scoring): (form, version, r).
A cut is *tall* where the band-snapped version's height is at most r of its own (q <= r: the cut is
much taller than its band of text rows). Forms: ``R`` the tall cut read from the version's views
instead of today's; ``B`` the version's views averaged with today's for a tall cut; ``C`` the
version of each tall cut competes as one more cut (as the sixth round's cuts compete)."""

HEIGHT_VERSIONS = ("band10", "band15", "rband10", "rband15")
HEIGHT_RS = (0.5, 0.6, 0.7, 0.8)
RULES_HEIGHT: list[HRule] = [("today", "", 0.0)] + [
    (form, version, r) for form in ("R", "B", "C") for version in HEIGHT_VERSIONS for r in HEIGHT_RS
]


def _q(cut: dict[str, Any], version: str) -> float:
    """The band-snapped cut's height over the cut's own (collected in the ``slant`` field)."""
    got = cut.get(version)
    return float(got["slant"]) if got is not None else math.inf


RULES_HEIGHT2: list[HRule] = [("today", "", 0.0)] + [
    (form, version, k) for version in HEIGHT_VERSIONS for form in ("Cgrow", "Cboth") for k in (1.25, 1.5, 2.0)
]
"""The second grid of the eighth round (notes; written after looking at the full-size misses, which is
weaker evidence): the version of a cut competes as one more cut where its band is at least k times
the cut's height (``Cgrow``: a cut shorter than its characters), or that or at most 1/k (``Cboth``)."""


def apply_height(reader: PlateReader, row: dict[str, Any], rule: HRule) -> PlateRead | None:
    form, version, r = rule
    if form == "today":
        return apply(reader, row, RULES[0])
    cuts = row["cuts"]
    if form in ("Cgrow", "Cboth"):
        k = r
        keep = [_q(c, version) >= k or (form == "Cboth" and _q(c, version) <= 1 / k) for c in cuts]
        keep = [t and math.isfinite(_q(c, version)) for c, t in zip(cuts, keep, strict=True)]
        extra = [{"base": c[version]} for c, t in zip(cuts, keep, strict=True) if t]
        return apply(reader, {**row, "cuts": cuts + extra}, RULES[0])
    tall = [_q(c, version) <= r for c in cuts]
    if form == "R":
        new = [{"base": c[version] if t else c.get("base")} for c, t in zip(cuts, tall, strict=True)]
        return apply(reader, {**row, "cuts": new}, RULES[0])
    if form == "B":
        new = [{"base": c.get("base"), "x": c[version] if t else None} for c, t in zip(cuts, tall, strict=True)]
        return apply(reader, {**row, "cuts": new}, ("base+x", "mean", 0.0))
    extra = [{"base": c[version]} for c, t in zip(cuts, tall, strict=True) if t]
    return apply(reader, {**row, "cuts": cuts + extra}, RULES[0])


def pooled_rows(
    outs: list[Path],
) -> tuple[list[dict[str, Any]], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The collected scenes of every scale in ``outs`` pooled: rows, fold (even / odd scene of its
    scale), scale index, and whether today's read was exact (the pooled-scales 2-fold scheme)."""
    rows: list[dict[str, Any]] = []
    fold_of: list[int] = []
    scale_of: list[int] = []
    for s, out in enumerate(outs):
        part = pickle.loads(out.read_bytes())
        rows += part
        fold_of += [k % 2 for k in range(len(part))]
        scale_of += [s] * len(part)
    today = np.array([r["today"] is not None and r["today"].text == r["truth"] for r in rows])
    return rows, np.array(fold_of), np.array(scale_of), today


def analyse_height(outs: list[Path], rules: list[HRule] = RULES_HEIGHT) -> None:
    """The eighth round: each fold's choice among ``rules``, scored on the other fold."""
    rows, fold, scale, today = pooled_rows(outs)
    reader = build_plate_reader(PlatesConfig(), models_dir())
    right: dict[HRule, np.ndarray[Any, Any]] = {}
    for rule in rules:
        reads = [apply_height(reader, row, rule) for row in rows]
        right[rule] = np.array([r is not None and r.text == row["truth"] for r, row in zip(reads, rows, strict=True)])
    base = rules[0]
    print(
        f"{len(rows)} scenes; today (collected): exact {today.sum()} ({today[fold == 0].sum()} + "
        f"{today[fold == 1].sum()}); today rule: {right[base].sum()}, same in {(right[base] == today).sum()}"
    )
    # How tall the chosen cut is against its band, for hits and misses (descriptive, not a choice).
    for version in HEIGHT_VERSIONS:
        qs = np.array([_q(r["cuts"][0], version) if r["cuts"] else math.nan for r in rows])
        ok = np.isfinite(qs)
        print(
            f"  chosen cut q ({version}): hits median {np.median(qs[ok & today]):.2f}, misses median "
            f"{np.median(qs[ok & ~today]):.2f}; share q<=0.5/0.6/0.7/0.8: "
            + " / ".join(f"{np.mean(qs[ok] <= t):.2f}" for t in HEIGHT_RS)
        )
    for rule in rules:
        e = right[rule]
        per_scale = " / ".join(str(int(e[scale == s].sum())) for s in range(len(outs)))
        changed = [
            f"{rows[k]['image'][:14]}@{scale[k]} {'fix' if e[k] else 'break'}"
            for k in range(len(rows))
            if e[k] != right[base][k]
        ]
        print(
            f"  {rule!s:26s} exact {e.sum():3d} ({e[fold == 0].sum()} + {e[fold == 1].sum()})  by scale "
            f"{per_scale}  {', '.join(changed)}"
        )
    order = {r: k for k, r in enumerate(rules)}
    for f in (0, 1):
        train, test = fold == f, fold != f
        best = max(
            rules,
            key=lambda r: (int(right[r][train].sum()), r == base, -(r[0] == "B"), -order[r]),
        )
        print(
            f"fold {f} chose {best}: train {right[best][train].sum()} (today {right[base][train].sum()}); "
            f"held out {right[best][test].sum()} (today {right[base][test].sum()})"
        )


def analyse(outs: list[Path], grid: str = "rectify") -> None:
    rules = {"band": RULES_BAND, "cut": RULES_CUT}.get(grid, RULES)
    rows, fold, scale, today = pooled_rows(outs)
    reader = build_plate_reader(PlatesConfig(), models_dir())
    right: dict[Rule, np.ndarray[Any, Any]] = {}
    for rule in rules:
        reads = [apply(reader, row, rule) for row in rows]
        right[rule] = np.array([r is not None and r.text == row["truth"] for r, row in zip(reads, rows, strict=True)])
    base = RULES[0]
    angles = [c[v]["angle"] for r in rows for c in r["cuts"] for v in ("rot",) if c.get(v)] or [0.0]
    slants = [c[v]["slant"] for r in rows for c in r["cuts"] for v in ("shear",) if c.get(v)] or [0.0]
    print(
        f"{len(rows)} scenes; today (collected): exact {today.sum()} ({today[fold == 0].sum()} + "
        f"{today[fold == 1].sum()}); base rule: {right[base].sum()}, same in {(right[base] == today).sum()}"
    )
    print(
        f"estimated turns: |a| >= 2 in {np.mean(np.abs(angles) >= 2):.2f} of cuts, >= 4 in "
        f"{np.mean(np.abs(angles) >= 4):.2f}; slants |s| >= 2 in {np.mean(np.abs(slants) >= 2):.2f}, >= 4 in "
        f"{np.mean(np.abs(slants) >= 4):.2f}"
    )
    for rule in rules:
        e = right[rule]
        per_scale = " / ".join(str(int(e[scale == s].sum())) for s in range(len(outs)))
        print(f"  {rule!s:34s} exact {e.sum():3d} ({e[fold == 0].sum()} + {e[fold == 1].sum()})  by scale {per_scale}")
    for rule in rules:
        if (right[rule] != right[base]).any() and right[rule].sum() >= right[base].sum():
            changed = [
                f"{rows[k]['image'][:14]}@{scale[k]} {'fix' if right[rule][k] else 'break'}"
                for k in range(len(rows))
                if right[rule][k] != right[base][k]
            ]
            print(f"  {rule}: {', '.join(changed)}")
    for f in (0, 1):
        train, test = fold == f, fold != f
        order = {r: k for k, r in enumerate(rules)}
        best = max(
            rules,
            key=lambda r: (int(right[r][train].sum()), r == base, -r[0].count("+"), -order[r]),
        )
        print(
            f"fold {f} chose {best}: train {right[best][train].sum()} (base {right[base][train].sum()}); "
            f"held out {right[best][test].sum()} (base {right[base][test].sum()})"
        )


def cpu(limit: int) -> None:
    """CPU time (``time.process_time``) of the default reader with ONNX Runtime on one thread: a whole
    US scene, and a plate (the labelled box, 10 % margin) read by ``read_crop`` and by the two CCT
    graphs alone (``CROP_BORDERS`` views). Less sensitive than wall time to other sessions' load,
    and an upper bound for 2 cores (the second round's measure)."""
    import os
    import platform
    import resource

    from vigil.plates.reader import CROP_BORDERS, _with_border

    reader = build_plate_reader(PlatesConfig(threads=1), models_dir())
    cct = reader._cct
    assert cct is not None
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    scene_ms: list[float] = []
    crop_ms: list[float] = []
    graph_ms: list[float] = []
    exact = 0
    load0 = os.getloadavg()[0]
    for item in scenes[:limit]:
        image = read_image(item.image)
        t0 = time.process_time()
        reads = reader.read_scene(image)
        scene_ms.append(1000 * (time.process_time() - t0))
        exact += bool(reads) and reads[0].text == item.plate
        assert item.box is not None
        x1, y1, x2, y2 = _clip(_expand(item.box, 0.1, 0.1), image.shape[1], image.shape[0])
        plate = image[y1:y2, x1:x2]
        t0 = time.process_time()
        reader.read_crop(plate)
        crop_ms.append(1000 * (time.process_time() - t0))
        t0 = time.process_time()
        cct.read_views([_with_border(plate, f) for f in CROP_BORDERS])
        graph_ms.append(1000 * (time.process_time() - t0))
    print(f"{platform.machine()}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}; ONNX Runtime 1 thread")
    for name, ms in (
        ("a scene (read_scene)", scene_ms),
        ("a plate (read_crop)", crop_ms),
        ("a plate (CCT graphs)", graph_ms),
    ):
        a = np.array(ms)
        print(f"  {name:22s} CPU ms mean {a.mean():6.1f} median {np.median(a):6.1f} p95 {np.percentile(a, 95):6.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  exact {exact} of {len(scene_ms)}; peak RSS {rss:.0f} MiB")


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--cpu":
        cpu(int(args[1]) if len(args) > 1 else 60)
        return
    if args and args[0] == "--analyse":
        grid = "rectify"
        if "--grid" in args:
            at = args.index("--grid")
            grid = args[at + 1]
            args = args[:at] + args[at + 2 :]
        if grid in ("height", "height2"):
            analyse_height([Path(a) for a in args[1:]], RULES_HEIGHT if grid == "height" else RULES_HEIGHT2)
            return
        analyse([Path(a) for a in args[1:]], grid)
        return
    versions = VERSIONS
    if args and args[0] == "--band":
        versions, args = BAND_VERSIONS, args[1:]
    out = Path(args[0])
    limit = int(args[1]) if len(args) > 1 and int(args[1]) > 0 else None
    collect(out, limit, float(args[2]) if len(args) > 2 else 1.0, versions)


if __name__ == "__main__":
    main()
