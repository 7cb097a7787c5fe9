"""The scene's top candidates re-read under several views before one is chosen: data for a 2-fold choice.

Today a scene's candidate rows are ranked on v2's read of one crop each (then PP-OCR's closer
read for the unsure), and only the plate ranked first is read again under ``CHOSEN_VIEWS`` by v2
and v1. This keeps, for every US scene, the reader's ranked candidates (``_taller_first`` of
``_read_region``, as ``read_scene`` ranks them) and, for each of the first ``KEEP`` with text, the
per-slot probabilities of v2 (with its country scores) and v1 on each of ``CHOSEN_VIEWS`` cut
around the candidate's read box. ``--analyse`` then scores rules offline, each chosen on one fold
(even / odd scenes in label order) and scored on the other:

* re-rank: the first K distinct candidates (boxes overlapping < 0.3, as ``read_scene``) each read
  under the views, and the one scoring best taken (score = the re-read's confidence x
  plausibility x the localiser's weight x the size prior, optionally x the country head's
  confidence to a power);
* vote: the chosen plate's views joined by the views of the other candidates that overlap it
  (IoU >= t) and read the same number of characters (several cuts of one plate averaged per slot);
* pick-least / pick-conf: of those cuts, the one whose re-read is surest (least sure character,
  or mean confidence); ``+orig``: each cut's one-view read (v2, as ranked) competes too; ``own``:
  only the chosen cut, its re-read against its one-view read.

Rules that read more on the whole set also list the scenes they change (for reading, not for
choosing).

Nothing here is used by the product.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_scene_rerank.py [OUT] [N|0] [SCALE]
    .venv/bin/python bench/plates_scene_rerank.py --analyse [--grid cuts|rerank|all] [OUT ...]
    .venv/bin/python bench/plates_scene_rerank.py --gate [OUT ...]
    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_scene_rerank.py --speed [N]
"""

from __future__ import annotations

import itertools
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
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.reader import (
    CHOSEN_VIEWS,
    ROW_TO_PLATE,
    SIZE_PRIOR,
    PlateRead,
    PlateReader,
    _chosen_views,
    _expand,
    _overlap,
    _taller_first,
    plausibility,
)
from vigil.workers.plates_stage import build_plate_reader

DEFAULT_OUT = Path("/tmp/plates_scene_rerank.pkl")
KEEP = 12
"""Candidates (with text, in today's order) whose views are kept per scene."""


def _read_box(read: PlateRead) -> Any:
    # PP-OCR's closer reads keep the row's reported box but not the box the recogniser read.
    return read.read_box if read.read_box is not None else _expand(read.box, *ROW_TO_PLATE)


def collect(out: Path, limit: int | None, scale: float = 1.0) -> None:
    reader = build_plate_reader(PlatesConfig(), models_dir())
    cct = reader._cct
    assert cct is not None and cct._partner is not None
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    scenes = scenes[:limit] if limit else scenes
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for k, item in enumerate(scenes):
        image = read_image(item.image)
        label_box = item.box
        if scale != 1.0:  # the same scenes further away: other cuts of the same plates
            image = np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
            assert label_box is not None
            label_box = (label_box[0] * scale, label_box[1] * scale, label_box[2] * scale, label_box[3] * scale)
        ranked = _taller_first(reader._read_region(image, None))
        today = next((r for r in ranked if r.text), None)
        chosen = reader._read_chosen(image, today) if today is not None else None
        tallest = max((r.box[3] - r.box[1] for r in ranked), default=1.0)
        cands: list[dict[str, Any]] = []
        for read in [r for r in ranked if r.text][:KEEP]:
            views = [v for v in _chosen_views(image, _read_box(read)) if v.size and v.shape[0] >= 2 and v.shape[1] >= 2]
            p2, r2, p1 = None, None, None
            if views:
                p2, r2 = cct.probabilities(views)
                p1, _ = cct._partner.probabilities(views)
            cands.append({"read": replace(read, crop=None), "p2": p2, "r2": r2, "p1": p1})
        rows.append(
            {
                "image": item.image.name,
                "truth": item.plate,
                "label_box": label_box,
                "today": replace(chosen, crop=None) if chosen is not None else None,
                "tallest": tallest,
                "cands": cands,
            }
        )
        if k % 20 == 0:
            print(f"{k}/{len(scenes)} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {len(rows)} scenes to {out}")


# -- offline rules ------------------------------------------------------------------------------


def _reread(reader: PlateReader, cand: dict[str, Any], views: tuple[int, ...]) -> PlateRead | None:
    """The candidate as ``_read_chosen`` would read it (views averaged, v2 and v1); None when empty."""
    cct = reader._cct
    assert cct is not None
    if cand["p2"] is None or max(views) >= len(cand["p2"]):
        return None
    p2 = cand["p2"][list(views)].mean(axis=0)
    p1 = cand["p1"][list(views)].mean(axis=0)
    reg = cand["r2"][list(views)].mean(axis=0) if cand["r2"] is not None else None
    n = min(p2.shape[0], p1.shape[0])
    slots = p2.copy()
    slots[:n] = (p2[:n] + p1[:n]) / 2
    again = cct._decode(slots, reg)
    if not again.text:
        return None
    read: PlateRead = cand["read"]
    return reader._from_cct(again, np.zeros((1, 1, 3), np.uint8), read.box)


def _weight(reader: PlateReader, read: PlateRead) -> float:
    """The localiser's weight in ``read.score`` (score = confidence x plausibility x weight)."""
    if read.reader == "ppocr":
        return 1.0
    fit = reader._cct_fit(_decoded(reader, read))
    base = read.confidence * plausibility(fit.text, fit, read.raw)
    return read.score / base if base > 0 else 1.0


def _decoded(reader: PlateReader, read: PlateRead) -> Any:
    from vigil.plates.cct import CctRead

    # Only text, confidence and country matter to the fit where alternatives are absent.
    alt = np.zeros((len(read.raw), 36), np.float32)
    return CctRead(read.raw, read.confidence, alt, read.country, read.country_confidence, read.least)


def _distinct(cands: list[dict[str, Any]], k: int) -> list[int]:
    out: list[int] = []
    for i, c in enumerate(cands):
        if all(_overlap(c["read"].box, cands[j]["read"].box) < 0.3 for j in out):
            out.append(i)
        if len(out) >= k:
            break
    return out


def _same_plate(a: PlateRead, b: PlateRead, t: float) -> bool:
    return box_iou(a.box, b.box) >= t


Rule = tuple[str, int, float, str, float]
"""(kind, K candidates re-ranked, country power, PP-OCR reads: 'keep' / 'reread', vote IoU)."""


def apply(reader: PlateReader, row: dict[str, Any], rule: Rule, memo: dict[Any, Any]) -> PlateRead | None:
    kind, k, power, ppocr, vote_iou = rule
    cands = row["cands"]
    if not cands:
        return None
    views = tuple(range(len(CHOSEN_VIEWS)))
    idx = _distinct(cands, k)
    best: tuple[float, int, PlateRead] | None = None
    for i in idx:
        read: PlateRead = cands[i]["read"]
        key = ("re", id(row), i)
        if key not in memo:
            memo[key] = _reread(reader, cands[i], views)
        again = memo[key]
        prior = (max(read.box[3] - read.box[1], 1e-6) / row["tallest"]) ** SIZE_PRIOR
        if (read.reader == "ppocr" and ppocr == "keep") or again is None:
            cand_read, score = read, read.score
        else:
            cand_read = again
            wkey = ("w", id(row), i)
            if wkey not in memo:
                memo[wkey] = _weight(reader, read)
            score = again.score * memo[wkey]
        country = cand_read.country_confidence if cand_read.country is not None else 0.5
        if read.reader == "ppocr" and ppocr == "keep":
            country = read.country_confidence if read.country else 0.5
        total = score * prior * (country**power)
        if best is None or total > best[0]:
            best = (total, i, cand_read)
    assert best is not None
    _, i, chosen = best
    if kind != "rerank" and chosen.reader != "ppocr":
        # The other cuts of the same plate: candidates overlapping the chosen one, read by the
        # plate-trained recogniser (PP-OCR's closer reads have no cut of their own).
        group = [i] + [
            j
            for j, c in enumerate(cands)
            if j != i
            and c["p2"] is not None
            and c["read"].reader != "ppocr"
            and _same_plate(c["read"], cands[i]["read"], vote_iou)
        ]
        reads = {}
        for j in group:
            key = ("re", id(row), j)
            if key not in memo:
                memo[key] = _reread(reader, cands[j], views)
            if memo[key] is not None:
                reads[j] = memo[key]
        if kind == "vote":
            # Only cuts that read as many characters as the chosen one (slots are left-aligned).
            keep = [cands[j] for j in group if j in reads and len(reads[j].raw) == len(chosen.raw)]
            if len(keep) > 1:
                joined = {
                    "read": cands[i]["read"],
                    "p2": np.concatenate([c["p2"] for c in keep]),
                    "p1": np.concatenate([c["p1"] for c in keep]),
                    "r2": np.concatenate([c["r2"] for c in keep]) if cands[i]["r2"] is not None else None,
                }
                voted = _reread(reader, joined, tuple(range(len(joined["p2"]))))
                if voted is not None:
                    chosen = voted
        elif reads:
            how = kind.split("-")[1].removesuffix("+orig")
            value = {"least": lambda r: r.least, "conf": lambda r: r.confidence, "score": lambda r: r.score}[how]
            options = [(r, j == i) for j, r in reads.items()]
            if kind.endswith("+orig"):  # each cut's own one-view read (v2) competes too
                options += [(cands[j]["read"], False) for j in group]
            if kind.startswith("own"):  # only the chosen cut: its re-read or its one-view read
                options = [(reads[i], True), (cands[i]["read"], False)] if i in reads else []
            if options:
                best_read = max(options, key=lambda o: (value(o[0]), o[1]))[0]
                chosen = replace(best_read, box=cands[i]["read"].box)
    return chosen


def analyse(outs: list[Path], grid: str = "all") -> None:
    """Rules scored on the scenes of every file in ``outs`` pooled (the same scenes at other scales:
    folds by scene, so a scene and its smaller copies are always in the same fold)."""
    rows: list[dict[str, Any]] = []
    fold_of: list[int] = []
    for out in outs:
        part = pickle.loads(out.read_bytes())
        rows += part
        fold_of += [k % 2 for k in range(len(part))]
    reader = build_plate_reader(PlatesConfig(), models_dir())
    today = np.array([r["today"] is not None and r["today"].text == r["truth"] for r in rows])
    today_found = np.array(
        [r["today"] is not None and box_iou(r["today"].box, r["label_box"]) > FOUND_IOU for r in rows]
    )
    rules: list[Rule] = [("rerank", 1, 0.0, "keep", 0.0)]
    if grid in ("rerank", "all"):  # lever (a): which candidate is chosen
        for k, power, pp in itertools.product((2, 3), (0.0, 0.5, 1.0), ("keep", "reread")):
            rules.append(("rerank", k, power, pp, 0.0))
    kinds = ("vote", "pick-least", "pick-conf")
    if grid == "all":
        kinds += ("pick-least+orig", "pick-conf+orig", "own-least", "own-conf")
    if grid in ("cuts", "all"):  # lever (b): how the chosen plate is read (K 1: today's choice)
        for kind, k, t in itertools.product(kinds, (1, 2) if grid == "all" else (1,), (0.3, 0.5)):
            rules.append((kind, k, 0.0, "keep", t))
    memo: dict[Any, Any] = {}
    right: dict[Rule, np.ndarray[Any, Any]] = {}
    found: dict[Rule, np.ndarray[Any, Any]] = {}
    for rule in rules:
        reads = [apply(reader, row, rule, memo) for row in rows]
        right[rule] = np.array([r is not None and r.text == row["truth"] for r, row in zip(reads, rows, strict=True)])
        found[rule] = np.array(
            [r is not None and box_iou(r.box, row["label_box"]) > FOUND_IOU for r, row in zip(reads, rows, strict=True)]
        )
    fold = np.array(fold_of)
    base = rules[0]
    print(
        f"{len(rows)} scenes; today (collected): exact {today.sum()} ({today[fold == 0].sum()} + "
        f"{today[fold == 1].sum()}), found {today_found.sum()}; base rule reproduces exact "
        f"{right[base].sum()}, same text in {(right[base] == today).sum()}"
    )
    for rule in rules:
        e, f_ = right[rule], found[rule]
        print(
            f"  {rule!s:42s} exact {e.sum():3d} ({e[fold == 0].sum()} + {e[fold == 1].sum()})"
            f"  found {f_.sum():3d} ({f_[fold == 0].sum()} + {f_[fold == 1].sum()})"
        )
    for rule in rules:
        if right[rule].sum() > right[base].sum():
            changed = [
                f"#{k % 222} {'fix' if right[rule][k] else 'break'}"
                for k in range(len(rows))
                if right[rule][k] != right[base][k]
            ]
            print(f"  {rule}: {', '.join(changed)}")
    for f in (0, 1):
        train, test = fold == f, fold != f
        best = max(rules, key=lambda r: (int(right[r][train].sum()), int(found[r][train].sum()), r == base))
        print(
            f"fold {f} chose {best}: train {right[best][train].sum()} (base {right[base][train].sum()}); "
            f"held out exact {right[best][test].sum()} (base {right[base][test].sum()}), "
            f"found {found[best][test].sum()} (base {found[base][test].sum()})"
        )


def speed(limit: int) -> None:
    """A whole scene read by the default reader as it was before this round (the chosen cut alone:
    ``CHOSEN_CUTS_IOU`` above any IoU; no full-resolution second look), with the other cuts only,
    and now, interleaved per scene in one process (an untimed 50 ms pause before each read, so one
    read's threads do not run into the next's timing)."""
    import os
    import platform
    import resource

    from vigil.plates import reader as reader_mod

    reader = build_plate_reader(PlatesConfig(), models_dir())
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    cuts = reader_mod.CHOSEN_CUTS_IOU
    ways = {
        "before this round": (1.01, False),
        "other cuts (CHOSEN_CUTS_IOU)": (cuts, False),
        "now (+ full-resolution look)": (cuts, True),
    }
    times: dict[str, list[float]] = {w: [] for w in ways}
    exact: dict[str, int] = dict.fromkeys(ways, 0)
    load0 = os.getloadavg()[0]
    for item in scenes[:limit]:
        image = read_image(item.image)
        for way, (iou, full) in ways.items():
            reader_mod.CHOSEN_CUTS_IOU = iou
            time.sleep(0.05)
            t0 = time.perf_counter()
            reads = reader.read_scene(image, full_resolution=full)
            times[way].append(1000 * (time.perf_counter() - t0))
            exact[way] += bool(reads) and reads[0].text == item.plate
    first = next(iter(ways))
    print(f"{platform.processor() or platform.machine()}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    for way, ms in times.items():
        a = np.array(ms)
        ratio = a.mean() / np.mean(times[first])
        print(
            f"  {way:30s} mean {a.mean():6.1f} median {np.median(a):6.1f} p95 {np.percentile(a, 95):6.1f} ms"
            f"  ratio {ratio:.3f}  exact {exact[way]} of {len(a)}"
        )
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


ADOPTED: Rule = ("pick-least", 1, 0.0, "keep", 0.3)
"""The rule the 2-fold choice above adopted (``CHOSEN_CUTS_IOU``)."""


def analyse_gate(outs: list[Path]) -> None:
    """When the other cuts are read at all: only where the chosen cut's own re-read has a character
    less sure than g (``CHOSEN_CUTS_BELOW``). Each fold chooses the lowest g (fewest extra reads)
    among those reading the most on it; scored on the other."""
    reader = build_plate_reader(PlatesConfig(), models_dir())
    base: Rule = ("rerank", 1, 0.0, "keep", 0.0)
    gates = (1.01, 0.95, 0.9, 0.8, 0.7, 0.6)
    rows: list[dict[str, Any]] = []
    fold_of: list[int] = []
    for out in outs:
        part = pickle.loads(out.read_bytes())
        rows += part
        fold_of += [k % 2 for k in range(len(part))]
    memo: dict[Any, Any] = {}
    fold = np.array(fold_of)
    right = {g: np.zeros(len(rows), bool) for g in gates}
    extra = dict.fromkeys(gates, 0)
    for k, row in enumerate(rows):
        today, adopted = apply(reader, row, base, memo), apply(reader, row, ADOPTED, memo)
        least = today.least if today is not None and today.reader != "ppocr" else None
        for g in gates:
            use = adopted if least is not None and least < g else today
            right[g][k] = use is not None and use.text == row["truth"]
            extra[g] += least is not None and least < g
    for g in gates:
        print(
            f"  gate {g}: exact {right[g].sum()} ({right[g][fold == 0].sum()} + {right[g][fold == 1].sum()}), "
            f"scenes whose read is unsure enough to read other cuts: {extra[g]} of {len(rows)}"
        )
    for f in (0, 1):
        best = max(gates, key=lambda g: (int(right[g][fold == f].sum()), -g))
        print(
            f"fold {f} chose gate {best}: held out {right[best][fold != f].sum()}"
            f" (always: {right[1.01][fold != f].sum()})"
        )


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--gate":
        analyse_gate([Path(a) for a in args[1:]] or [DEFAULT_OUT])
        return
    if args and args[0] == "--speed":
        speed(int(args[1]) if len(args) > 1 else 60)
    elif args and args[0] == "--analyse":
        grid = "all"
        if "--grid" in args:
            at = args.index("--grid")
            grid = args[at + 1]
            args = args[:at] + args[at + 2 :]
        analyse([Path(a) for a in args[1:]] or [DEFAULT_OUT], grid)
    else:
        out = Path(args[0]) if args else DEFAULT_OUT
        limit = int(args[1]) if len(args) > 1 and int(args[1]) > 0 else None
        collect(out, limit, float(args[2]) if len(args) > 2 else 1.0)


if __name__ == "__main__":
    main()
