"""Reading only a plate's main text line (issue 21, ninth round; data for a 2-fold choice).

The registration is the line of the largest characters; small stacked or side characters (US
stacked type letters, Wyoming's county number, the EU band's country code) are not part of it in
the labels, but a read of the whole crop takes them in (``US5555``, ``55SAMP``, ``22248``). Here a
plate's text lines are found by the OCR text detector (the crop path's own search: the crop
upscaled to at least 96 px high, a border of ``CROP_LINE_MARGIN`` repeated from its edges), the
tallest line is taken as the main line, and the plate-trained recogniser reads the main line's cut
as ``_reread_line`` reads a closer read's line (``ROW_TO_PLATE``, ``CHOSEN_VIEWS``, v2 + v1).
Which rules may replace today's read with it (the grid, fixed before scoring in
/work/notes/issue-21-plates-serial.md) is decided offline from the collected data:

* ``crops OUT``: every US crop read by the default reader (``read_crop``), its lines, the main
  line's re-read;
* ``scenes OUT SCALE``: every US scene read by the default reader (``read_scene``) at this scale
  (``INTER_AREA``); the chosen plate, where the plate-trained recogniser read it, its read box cut
  with ``CCT_MARGIN`` searched as a plate crop, the main line's re-read in frame pixels;
* ``--analyse CROPS SCENES_1.0 SCENES_0.75 SCENES_0.6``: every rule scored, each fold's choice
  (crops even / odd in label order; scenes the pooled-scales scheme of ``plates_chosen_rectify``),
  held out on the other fold;
* ``--speed N [RULE]``: a plate's read by today's reader and the pieces a rule adds (the detector,
  the re-read), each crop in turn in one process.

Nothing here is used by the product.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_main_line.py crops C/crops.pkl
    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/plates_main_line.py scenes C/scenes_1.0.pkl 1.0
    .venv/bin/python bench/plates_main_line.py --analyse C/crops.pkl C/scenes_1.0.pkl C/scenes_0.75.pkl C/scenes_0.6.pkl
    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_main_line.py --speed 376
"""

from __future__ import annotations

import itertools
import pickle
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchlib import SHARED_DATA, load_average, machine_info, models_dir, quiet_logs
from plates_chosen_rectify import pooled_rows, scaled_scene
from vigil.config.plates import PlatesConfig
from vigil.core.frame import BGRImage
from vigil.plates.eval import load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.reader import (
    CCT_MARGIN,
    CLOSER_LINE_REREAD,
    CROP_BORDERS,
    CROP_LINE_MARGIN,
    ROW_TO_PLATE,
    Box,
    PlateRead,
    PlateReader,
    _chosen_views,
    _clip,
    _expand,
    _upscale_to,
    _with_border,
)
from vigil.workers.plates_stage import build_plate_reader

Line = tuple[float, float, float, float, float]
"""A text line in the plate crop's pixels: x1, y1, x2, y2 and its height along the quad's sides."""


def crop_lines(reader: PlateReader, plate: BGRImage) -> list[Line]:
    """The text lines of a plate crop, tallest first, as the crop path looks for them."""
    up, f = _upscale_to(plate, 96)
    pad = round(CROP_LINE_MARGIN * up.shape[0])
    bordered = np.asarray(cv2.copyMakeBorder(up, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8)
    lines: list[Line] = []
    for q in reader._ocr.detect_lines(bordered):
        xs, ys = (q[:, 0] - pad) / f, (q[:, 1] - pad) / f
        h = float(np.linalg.norm(q[0] - q[3]) + np.linalg.norm(q[1] - q[2])) / 2 / f
        lines.append((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()), h))
    return sorted(lines, key=lambda line: -line[4])


def reread(reader: PlateReader, image: BGRImage, main: tuple[float, float, float, float]) -> tuple[str, float]:
    """The plate-trained recogniser's read of a main line (``image`` pixels), as ``_reread_line`` reads."""
    assert reader._cct is not None
    box = _expand(main, *ROW_TO_PLATE)
    again = reader._cct.read_views(_chosen_views(image, box))
    if not again.text:
        return "", 0.0
    out = reader._from_cct(again, image[:1, :1], box)
    return out.text, again.least


def collect_crops(out: Path, runtime: str = "auto") -> None:
    """Every US crop's read, lines and main-line re-read; ``runtime``: ``plates.text_detector_runtime``."""
    reader = build_plate_reader(PlatesConfig(text_detector_runtime=runtime), models_dir())
    assert reader._cct is not None
    _, items = load_labels(SHARED_DATA / "plates" / "crops")
    rows: list[dict[str, Any]] = []
    for item in items:
        plate = read_image(item.image)
        today = reader.read_crop(plate)
        first = reader._cct.read_views([_with_border(plate, f) for f in CROP_BORDERS])
        lines = crop_lines(reader, plate)
        again = reread(reader, plate, lines[0][:4]) if lines else None
        rows.append(
            {
                "image": item.image.name,
                "truth": item.plate,
                "text": today.text if today else "",
                "reader": today.reader if today else "",
                "least": first.least if first.text else 0.0,
                "width": plate.shape[1],
                "lines": lines,
                "again": again,
            }
        )
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {len(rows)} crops to {out}; today exact {sum(r['text'] == r['truth'] for r in rows)}")


def scene_row(item: Any, today: PlateRead | None, label_box: Box) -> dict[str, Any]:
    """A US scene's row as the pooled-scales benches keep it: the label, today's chosen read (its
    crop dropped, for :func:`plates_chosen_rectify.pooled_rows`), whether it found the plate."""
    return {
        "image": item.image.name,
        "truth": item.plate,
        "text": today.text if today else "",
        "today": replace(today, crop=today.crop[:0]) if today is not None else None,
        "found": today is not None and box_iou(today.box, label_box) > 0.4,
        "least": today.least if today else 0.0,
    }


def collect_scenes(out: Path, scale: float) -> None:
    reader = build_plate_reader(PlatesConfig(), models_dir())
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for k, item in enumerate(scenes):
        image, label_box = scaled_scene(item, scale)
        reads = reader.read_scene(image)
        today = reads[0] if reads else None
        row = scene_row(item, today, label_box) | {"lines": [], "width": 0, "again": None}
        # The plate-trained recogniser's chosen read (a PP-OCR closer read is re-read from its line already).
        if today is not None and today.reader != "ppocr" and not today.closer and today.read_box is not None:
            ih, iw = image.shape[:2]
            x1, y1, x2, y2 = _clip(_expand(today.read_box, *CCT_MARGIN), iw, ih)
            crop = image[y1:y2, x1:x2]
            if crop.shape[0] >= 4 and crop.shape[1] >= 4:
                lines = crop_lines(reader, crop)
                row["lines"], row["width"] = lines, crop.shape[1]
                if lines:
                    main = (lines[0][0] + x1, lines[0][1] + y1, lines[0][2] + x1, lines[0][3] + y1)
                    row["again"] = reread(reader, image, main)
        rows.append(row)
        if k % 20 == 0:
            print(f"{k}/{len(scenes)} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {len(rows)} scenes to {out}; today exact {sum(r['text'] == r['truth'] for r in rows)}")


# -- offline rules ------------------------------------------------------------------------------

Rule = tuple[float, str, float, float, str]
"""(g: look for lines only where the read's least sure character is below this; trigger: 'side' (a
beside box under r x the main line's height needed) or 'any'; r; X: the main line at least this
share of the crop's width; accept: 'sub', 'subsure' or 'sure')."""

RULES: list[Rule] = list(
    itertools.product((0.6, 1.01), ("side", "any"), (0.5, 0.6, 0.7, 0.8), (0.0, 0.5), ("sub", "subsure", "sure"))
)
"""The grid, fixed before scoring (notes); ties on a fold: today, then this order (g 0.6 first)."""


def needs_reread(row: dict[str, Any], rule: Rule) -> bool:
    """Whether ``rule`` reads the main line of this plate again (what it costs beyond the lines)."""
    g, trigger, r, min_width, _ = rule
    lines: list[Line] = row["lines"]
    if row["least"] >= g or not lines:
        return False
    main = lines[0]
    mh = main[4]
    beside = [
        b
        for b in lines[1:]
        if main[1] <= (b[1] + b[3]) / 2 <= main[3]
        and max(0.0, min(b[2], main[2]) - max(b[0], main[0])) <= 0.5 * (b[2] - b[0])
    ]
    if any(b[4] >= r * mh for b in beside):  # same-size groups: all of them are the registration
        return False
    if trigger == "side" and not any(b[4] < r * mh for b in beside):
        return False
    width = min(main[2], row["width"]) - max(main[0], 0.0)
    return bool(width >= min_width * row["width"])


def apply(row: dict[str, Any], rule: Rule) -> str:
    """The text ``rule`` reads for a collected plate."""
    today: str = row["text"]
    if row["again"] is None or not needs_reread(row, rule):
        return today
    text, least = row["again"]
    accept = rule[4]
    if not text or text == today:
        return today
    if accept in ("sub", "subsure") and not (len(text) < len(today) and text in today):
        return today
    if accept in ("subsure", "sure") and least < CLOSER_LINE_REREAD:
        return today
    return str(text)


def _exact(rows: list[dict[str, Any]], rule: Rule | None) -> np.ndarray[Any, Any]:
    return np.array([(r["text"] if rule is None else apply(r, rule)) == r["truth"] for r in rows])


def _verdict(truth: str, was: str, now: str) -> str:
    return "fixed" if now == truth else "broken" if was == truth else "still wrong"


def _changes(rows: list[dict[str, Any]], rule: Rule) -> tuple[int, int, int]:
    """How many plates ``rule`` reads again, and the reads it fixes and breaks."""
    again = sum(r["again"] is not None and needs_reread(r, rule) for r in rows)
    verdicts = [_verdict(r["truth"], r["text"], apply(r, rule)) for r in rows if apply(r, rule) != r["text"]]
    return again, verdicts.count("fixed"), verdicts.count("broken")


def analyse(crops_pkl: Path, scene_pkls: list[Path]) -> None:
    crops = pickle.loads(crops_pkl.read_bytes())
    cfold = np.array([k % 2 for k in range(len(crops))])
    scenes, sfold, scale, _ = pooled_rows(scene_pkls)
    base_c, base_s = _exact(crops, None), _exact(scenes, None)
    found = np.array([r["found"] for r in scenes])
    print(
        f"crops {len(crops)}: today {base_c.sum()} ({base_c[cfold == 0].sum()} + {base_c[cfold == 1].sum()}); "
        f"scenes {len(scenes)}: today {base_s.sum()} ({base_s[sfold == 0].sum()} + {base_s[sfold == 1].sum()}), "
        f"found {found.sum()} ({found[sfold == 0].sum()} + {found[sfold == 1].sum()}); "
        f"full size {base_s[scale == 0].sum()} / {found[scale == 0].sum()}"
    )
    ec = {rule: _exact(crops, rule) for rule in RULES}
    es = {rule: _exact(scenes, rule) for rule in RULES}
    print("rule (g, trigger, r, X, accept): exact (fold 0 + 1), read again / fixed / broken; crops | scenes")
    for rule in RULES:
        c, s = ec[rule], es[rule]
        print(
            f"  {rule!s:38s} crops {c.sum():3d} ({c[cfold == 0].sum()} + {c[cfold == 1].sum()}) "
            f"{'/'.join(map(str, _changes(crops, rule)))} | scenes {s.sum():3d} ({s[sfold == 0].sum()} + "
            f"{s[sfold == 1].sum()}) {'/'.join(map(str, _changes(scenes, rule)))}, full size {s[scale == 0].sum()}"
        )
    for f in (0, 1):
        train, test = cfold == f, cfold != f
        best: Rule | None = None
        score = int(base_c[train].sum())
        for rule in RULES:  # strictly more than today (and than earlier rules in the grid's order)
            if ec[rule][train].sum() > score:
                best, score = rule, int(ec[rule][train].sum())
        if best is None:
            print(f"fold {f} chose today (train {score}); held out {base_c[test].sum()}")
            continue
        s_train, s_test = sfold == f, sfold != f
        scenes_too = es[best][s_train].sum() > base_s[s_train].sum()
        print(
            f"fold {f} chose {best}: crops train {score} (today {base_c[train].sum()}), held out "
            f"{ec[best][test].sum()} (today {base_c[test].sum()}); scenes train {es[best][s_train].sum()} "
            f"(today {base_s[s_train].sum()}) -> {'crops + scenes' if scenes_too else 'crops only'}; "
            f"scenes held out {(es[best] if scenes_too else base_s)[s_test].sum()} (today {base_s[s_test].sum()})"
        )
        for r in crops + scenes:
            now = apply(r, best)
            if now != r["text"]:
                verdict = _verdict(r["truth"], r["text"], now)
                print(f"    {r['image']}: {r['truth']} read {r['text']} -> {now} ({verdict})")


def speed(n: int, rule: Rule) -> None:
    """Today's ``read_crop`` and the pieces ``rule`` adds, each crop in turn in one process."""
    reader = build_plate_reader(PlatesConfig(), models_dir())
    assert reader._cct is not None
    _, items = load_labels(SHARED_DATA / "plates" / "crops")
    plates = [read_image(it.image) for it in items[:n]]
    print(machine_info())
    for plate in plates[:10]:  # warm: OpenVINO compiles a kernel per new input shape
        reader.read_crop(plate)
    today: list[float] = []
    added: list[float] = []
    for _ in range(2):
        for plate in plates:
            t0 = time.perf_counter()
            reader.read_crop(plate)
            t1 = time.perf_counter()
            first = reader._cct.read_views([_with_border(plate, f) for f in CROP_BORDERS])
            least = first.least if first.text else 0.0
            extra = 0.0
            if least < rule[0]:
                t2 = time.perf_counter()
                lines = crop_lines(reader, plate)
                # Where PP-OCR's second opinion runs it has looked for these lines already.
                shared = least < reader.second_opinion
                t3 = time.perf_counter()
                extra = 0.0 if shared else t3 - t2
                row = {"least": least, "lines": lines, "width": plate.shape[1]}
                if lines and needs_reread(row, rule):
                    t4 = time.perf_counter()
                    reread(reader, plate, lines[0][:4])
                    extra += time.perf_counter() - t4
            today.append(t1 - t0)
            added.append(t1 - t0 + extra)
    for name, ts in (("read_crop today", today), (f"read_crop + {rule}", added)):
        a = np.array(ts) * 1e3
        print(f"{name:60s} mean {a.mean():.1f} median {np.median(a):.1f} p95 {np.percentile(a, 95):.1f} ms")
    a, b = np.array(today), np.array(added)
    print(f"ratio median {np.median(b) / np.median(a):.3f}, mean {b.mean() / a.mean():.3f}")
    print(f"load {load_average()}, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    quiet_logs()
    args = sys.argv[1:]
    if args[0] == "crops":
        collect_crops(Path(args[1]))
    elif args[0] == "scenes":
        collect_scenes(Path(args[1]), float(args[2]))
    elif args[0] == "--analyse":
        analyse(Path(args[1]), [Path(a) for a in args[2:]])
    elif args[0] == "--speed":
        rule: Rule = (1.01, "any", 0.8, 0.0, "sub")
        if len(args) > 2:
            g, trigger, r, x, accept = args[2].split(",")
            rule = (float(g), trigger, float(r), float(x), accept)
        speed(int(args[1]), rule)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
