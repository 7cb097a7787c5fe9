"""A scene's unsure chosen plate read again from its main text line (issue 21, tenth round).

The ninth round (``plates_main_line.py``) saw, as a side note, that where the chosen plate's read
is unsure, a *sure* read of the plate's main text line (the OCR text detector's tallest line in the
plate's cut, read by the plate-trained recogniser as ``_reread_line`` reads a closer read's line)
fixed 3 and broke 1 of 666 pooled scenes. This tests that rule on its own, with a grid fixed before
scoring (``RULES``; notes /work/notes/issue-21-plates-unsure.md):

* u: today's chosen read's least sure character below u (the rule looks only then);
* s: the main line's read replaces today's text where its least sure character is at least s;
* guard: none, or the re-read's length within one of today's;
* cut: where the lines are searched: ``plate`` (the chosen read's box read, widened by
  ``CCT_MARGIN``, as the ninth round) or ``wide`` (the read's box widened 0.15 / 0.35 per side,
  the region ``_closer`` looks in).

Only the scene's chosen plate read by the plate-trained recogniser is considered (a PP-OCR closer
read is re-read from its line already, ``CLOSER_LINE_REREAD``); the rank, box and score stay, so
the found-rate cannot move. Commands:

* ``scenes OUT SCALE [--runtime R]``: every US scene read by the default reader at ``SCALE``
  (``scaled_scene``), and where its chosen read is unsure (least < max u) each cut's lines and the
  main line's re-read; ``R`` is ``plates.text_detector_runtime`` (default ``onnxruntime``, the
  golden run's);
* ``crops OUT [--runtime R]``: the same rule on the crop path, for information
  (``plates_main_line.collect_crops``: the crop's lines and the main line's re-read);
* ``--analyse SCENES_1.0 SCENES_0.75 SCENES_0.6 [--crops CROPS]``: every rule scored, each fold's
  choice (the pooled-scales scheme of ``plates_chosen_rectify.pooled_rows``), held out on the other;
* ``--apply U,S,GUARD,CUT FILE...``: what one rule does to collected scenes (e.g. a bf16 collection);
* ``--speed N [--runtime R]``: the first N scenes read by ``read_scene`` with the product's rule
  (``UNSURE_LINE_REREAD``) off and on, each scene both ways in turn, one process.

Collecting, the reader runs with ``UNSURE_LINE_REREAD`` off (today's reader before this round).

Nothing here is used by the product.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_unsure_line.py scenes C/ort_1.0.pkl 1.0
    .venv/bin/python bench/plates_unsure_line.py --analyse C/ort_1.0.pkl C/ort_0.75.pkl C/ort_0.6.pkl \
        --crops C/crops_ort.pkl
    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_unsure_line.py --speed 222 --runtime auto
"""

from __future__ import annotations

import itertools
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import vigil.plates.reader as reader_module
from benchlib import SHARED_DATA, load_average, machine_info, models_dir, quiet_logs
from plates_chosen_rectify import pooled_rows, scaled_scene
from plates_main_line import collect_crops, crop_lines, reread, scene_row
from vigil.config.plates import PlatesConfig
from vigil.core.frame import BGRImage
from vigil.plates.eval import load_labels
from vigil.plates.reader import CCT_MARGIN, PlateRead, PlateReader, _clip, _expand
from vigil.workers.plates_stage import build_plate_reader

CUTS: dict[str, tuple[float, float]] = {"plate": CCT_MARGIN, "wide": (0.15, 0.35)}
"""Where the lines are searched: the box widened by these fractions per side (``plate``: the box the
recogniser read, ``read_box``; ``wide``: the read's plate box, as ``_closer`` widens it)."""

Rule = tuple[float, float, str, str]
"""(u, s, guard 'none' / 'len1', cut 'plate' / 'wide')."""

RULES: list[Rule] = list(itertools.product((0.5, 0.6, 0.7), (0.6, 0.7, 0.8, 0.9), ("none", "len1"), ("plate", "wide")))
"""The grid, fixed before scoring (notes); ties on a fold: today, fewer changed reads, this order."""
U_MAX = max(r[0] for r in RULES)


def _reader(runtime: str) -> PlateReader:
    """The default reader as it was before this round (the rule off: the bench re-derives it)."""
    reader_module.UNSURE_LINE_REREAD = 0.0
    return build_plate_reader(PlatesConfig(text_detector_runtime=runtime), models_dir())


def looks(read: PlateRead | None) -> bool:
    """Whether the rule may look at this chosen read at all (the plate-trained recogniser's, unsure)."""
    return read is not None and read.reader != "ppocr" and not read.closer and read.read_box is not None


def cut_of(read: PlateRead, cut: str, iw: int, ih: int) -> tuple[int, int, int, int]:
    box = read.read_box if cut == "plate" else read.box
    assert box is not None
    return _clip(_expand(box, *CUTS[cut]), iw, ih)


def main_line_read(reader: PlateReader, image: BGRImage, read: PlateRead, cut: str) -> tuple[str, float] | None:
    """The re-read of the tallest text line in ``cut`` around ``read`` (None: no line found)."""
    ih, iw = image.shape[:2]
    x1, y1, x2, y2 = cut_of(read, cut, iw, ih)
    crop = image[y1:y2, x1:x2]
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return None
    lines = crop_lines(reader, crop)
    if not lines:
        return None
    main = (lines[0][0] + x1, lines[0][1] + y1, lines[0][2] + x1, lines[0][3] + y1)
    return reread(reader, image, main)


def collect_scenes(out: Path, scale: float, runtime: str) -> None:
    reader = _reader(runtime)
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for k, item in enumerate(scenes):
        image, label_box = scaled_scene(item, scale)
        reads = reader.read_scene(image)
        today = reads[0] if reads else None
        row = scene_row(item, today, label_box) | {"again": {}}
        if today is not None and looks(today) and today.least < U_MAX:
            row["again"] = {cut: main_line_read(reader, image, today, cut) for cut in CUTS}
        rows.append(row)
        if k % 40 == 0:
            print(f"{k}/{len(scenes)} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out.write_bytes(pickle.dumps(rows))
    exact, found = sum(r["text"] == r["truth"] for r in rows), sum(r["found"] for r in rows)
    print(f"wrote {len(rows)} scenes ({runtime}, scale {scale}) to {out}; exact {exact}, found {found}")


def apply(row: dict[str, Any], rule: Rule) -> str:
    """The text ``rule`` reads for a collected scene."""
    u, s, guard, cut = rule
    today: str = row["text"]
    again = row["again"].get(cut)
    if again is None or row["least"] >= u:
        return today
    text, least = again
    if not text or text == today or least < s:
        return today
    if guard == "len1" and abs(len(text) - len(today)) > 1:
        return today
    return str(text)


def apply_crop(row: dict[str, Any], rule: Rule) -> str:
    """The same rule on a collected crop (``plates_main_line`` rows: the crop is the plate cut)."""
    u, s, guard, _ = rule
    if not row["lines"] or row["again"] is None:
        return str(row["text"])
    return apply({"text": row["text"], "least": row["least"], "again": {"plate": row["again"]}}, (u, s, guard, "plate"))


def _verdict(truth: str, was: str, now: str) -> str:
    return "fixed" if now == truth else "broken" if was == truth else "still wrong"


def _verdicts(rows: list[dict[str, Any]], texts: list[str]) -> list[str]:
    return [_verdict(r["truth"], r["text"], t) for t, r in zip(texts, rows, strict=True) if t != r["text"]]


def _change(r: dict[str, Any], now: str) -> str:
    verdict = _verdict(r["truth"], r["text"], now)
    return f"{r['image']}: {r['truth']} read {r['text']} ({r['least']:.3f}) -> {now} ({verdict})"


def parse_rule(text: str) -> Rule:
    u, s, guard, cut = text.split(",")
    if guard not in ("none", "len1") or cut not in CUTS:
        sys.exit(f"rule: got {text!r}; expected U,S,none|len1,plate|wide")
    return float(u), float(s), guard, cut


def analyse(scene_pkls: list[Path], crops_pkl: Path | None) -> None:
    rows, fold, scale, _ = pooled_rows(scene_pkls)
    base = np.array([r["text"] == r["truth"] for r in rows])
    found = np.array([r["found"] for r in rows])
    print(
        f"scenes {len(rows)}: today exact {base.sum()} ({base[fold == 0].sum()} + {base[fold == 1].sum()}), "
        f"found {found.sum()} ({found[fold == 0].sum()} + {found[fold == 1].sum()}); "
        f"by scale {[int(base[scale == k].sum()) for k in range(len(scene_pkls))]}; "
        f"looked at (least < {U_MAX}, the recogniser's chosen read) {sum(bool(r['again']) for r in rows)}"
    )
    texts = {rule: [apply(r, rule) for r in rows] for rule in RULES}
    exact = {rule: np.array([t == r["truth"] for t, r in zip(texts[rule], rows, strict=True)]) for rule in RULES}
    changed = {rule: np.array([t != r["text"] for t, r in zip(texts[rule], rows, strict=True)]) for rule in RULES}
    print("rule (u, s, guard, cut): exact (fold 0 + 1), changed, fixed / broken, full size")
    for rule in RULES:
        e, c = exact[rule], changed[rule]
        verdicts = _verdicts(rows, texts[rule])
        print(
            f"  {rule!s:32s} {e.sum()} ({e[fold == 0].sum()} + {e[fold == 1].sum()}), changed {c.sum()}, "
            f"{verdicts.count('fixed')} / {verdicts.count('broken')}, full size {e[scale == 0].sum()}"
        )
    chosen: list[Rule | None] = []
    for f in (0, 1):
        train, test = fold == f, fold != f
        best: Rule | None = None
        key = (int(base[train].sum()), 0)  # (exact, -changed): today changes nothing and wins ties
        for rule in RULES:
            k = (int(exact[rule][train].sum()), -int(changed[rule][train].sum()))
            if k > key:
                best, key = rule, k
        chosen.append(best)
        if best is None:
            print(f"fold {f} chose today: train {base[train].sum()}, held out {base[test].sum()} (= today)")
            continue
        print(
            f"fold {f} chose {best}: train {exact[best][train].sum()} (today {base[train].sum()}, "
            f"changed {changed[best][train].sum()}); held out {exact[best][test].sum()} (today "
            f"{base[test].sum()}, changed {changed[best][test].sum()}); found unchanged"
        )
        for t, r, sc in zip(texts[best], rows, scale, strict=True):
            if t != r["text"]:
                print(f"    scale {sc} {_change(r, t)}")
    if crops_pkl is not None:
        crops = pickle.loads(crops_pkl.read_bytes())
        cfold = np.array([k % 2 for k in range(len(crops))])
        cbase = np.array([r["text"] == r["truth"] for r in crops])
        print(
            "crops (information: the rule is not on the crop path) today "
            f"{cbase.sum()} ({cbase[cfold == 0].sum()} + {cbase[cfold == 1].sum()})"
        )
        for rule in [r for r in chosen if r is not None] or RULES[:1]:
            now = [apply_crop(r, rule) for r in crops]
            e = np.array([t == r["truth"] for t, r in zip(now, crops, strict=True)])
            verdicts = _verdicts(crops, now)
            print(
                f"  {rule}: {e.sum()} ({e[cfold == 0].sum()} + {e[cfold == 1].sum()}), "
                f"fixed {verdicts.count('fixed')}, broken {verdicts.count('broken')}"
            )


def apply_files(rule: Rule, pkls: list[Path]) -> None:
    for p in pkls:
        rows = pickle.loads(p.read_bytes())
        base = np.array([r["text"] == r["truth"] for r in rows])
        now = [apply(r, rule) for r in rows]
        e = np.array([t == r["truth"] for t, r in zip(now, rows, strict=True)])
        half = np.arange(len(rows)) % 2
        print(
            f"{p.name}: today {base.sum()} ({base[half == 0].sum()} + {base[half == 1].sum()}) -> {rule}: "
            f"{e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()}); found {sum(r['found'] for r in rows)}"
        )
        for t, r in zip(now, rows, strict=True):
            if t != r["text"]:
                print(f"    {_change(r, t)}")


def speed(n: int, runtime: str) -> None:
    """``read_scene`` with the product's rule off and on (``UNSURE_LINE_REREAD``), each scene both
    ways in turn (the order alternating), one process."""
    on = reader_module.UNSURE_LINE_REREAD
    reader = _reader(runtime)
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    print(machine_info(), f"runtime {runtime}; rule at {on}")
    images = [scaled_scene(it, 1.0)[0] for it in scenes[:n]]
    for image in images[:5]:  # warm (OpenVINO compiles a kernel per new input shape)
        reader.read_scene(image)
    times: dict[float, list[float]] = {0.0: [], on: []}
    calls: dict[float, list[int]] = {0.0: [], on: []}  # the rule adds two (the detector, the re-read)
    for k, image in enumerate(images):
        for u in (0.0, on) if k % 2 == 0 else (on, 0.0):
            reader_module.UNSURE_LINE_REREAD = u
            before = reader.ocr_calls
            t0 = time.perf_counter()
            reader.read_scene(image)
            times[u].append(time.perf_counter() - t0)
            calls[u].append(reader.ocr_calls - before)
    for u, ts in times.items():
        a = np.array(ts) * 1e3
        name = "today (rule off)" if u == 0.0 else f"UNSURE_LINE_REREAD {u}"
        print(f"{name:30s} mean {a.mean():.1f} median {np.median(a):.1f} p95 {np.percentile(a, 95):.1f} ms")
    a, b = np.array(times[0.0]), np.array(times[on])
    looked = np.array(calls[on]) > np.array(calls[0.0])
    extra = (b - a)[looked] * 1e3
    print(
        f"the rule looked at {looked.sum()} of {len(images)} scenes; there +{extra.mean():.1f} ms mean "
        f"(+{np.median(extra):.1f} median) a scene"
        if looked.any()
        else "the rule looked at no scene"
    )
    print(
        f"ratio mean {b.mean() / a.mean():.3f}, median {np.median(b) / np.median(a):.3f}, "
        f"p95 {np.percentile(b, 95) / np.percentile(a, 95):.3f}; load {load_average()}, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def main() -> None:
    quiet_logs()
    argv = sys.argv[1:]
    runtime = "onnxruntime"
    if "--runtime" in argv:
        i = argv.index("--runtime")
        runtime = argv[i + 1]
        del argv[i : i + 2]
    crops: Path | None = None
    if "--crops" in argv:
        i = argv.index("--crops")
        crops = Path(argv[i + 1])
        del argv[i : i + 2]
    if not argv:
        sys.exit(__doc__)
    if argv[0] == "scenes":
        collect_scenes(Path(argv[1]), float(argv[2]), runtime)
    elif argv[0] == "crops":
        collect_crops(Path(argv[1]), runtime)
    elif argv[0] == "--analyse":
        analyse([Path(a) for a in argv[1:]], crops)
    elif argv[0] == "--apply":
        apply_files(parse_rule(argv[1]), [Path(a) for a in argv[2:]])
    elif argv[0] == "--speed":
        speed(int(argv[1]), runtime)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
