"""PP-OCR's second opinion on a plate crop (``read_crop``): when it is asked, and in which form.

A 2-fold choice (issue 21: a plate read ≤ 10 ms). Today ``read_crop`` asks PP-OCR where the
plate-trained recogniser's least sure character is below ``SECOND_OPINION`` (0.6), and PP-OCR reads
the crop whole and by its tallest text line (about 80 ms of CPU, ~8x the two CCT graphs). This
reads every US crop and every labelled US scene box (10 % margin), keeping the CCT read and
PP-OCR's two reads (whole, line), then scores offline every rule of the grid (gate g x form) as
``read_crop`` would read: folds are even / odd images in label order within each set, pooled.
The grid, the training-fold rule and the bar were written in the notes before any score
(docs/plates.md, eleventh round). Nothing here is used by the product.

    .venv/bin/python bench/plates_crop_gate.py [CACHE]            # read and cache (~2 min, one thread)
    .venv/bin/python bench/plates_crop_gate.py --analyse [CACHE]  # the grid, both folds
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import load_labels, read_image
from vigil.plates.reader import CROP_BORDERS, SECOND_OPINION, _line_search_view, _with_border
from vigil.workers.plates_stage import build_plate_reader

GATES = (0.6, 0.5, 0.4, 0.3, 0.2, 0.0)
FORMS = ("full", "line")
RUNS = {"full": 3, "line": 2}
"""PP-OCR runs a second opinion costs, roughly (whole read, detector, line read)."""


def labelled_plates() -> list[tuple[str, int, str, Any]]:
    """(set, index, label, image) for the US crops and the labelled US scene boxes (10 % margin,
    as the plate-trained recogniser reads a found plate)."""
    out: list[tuple[str, int, str, Any]] = []
    _, crops = load_labels(SHARED_DATA / "plates" / "crops")
    out += [("crops", i, it.plate, read_image(it.image)) for i, it in enumerate(crops)]
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    for i, it in enumerate(scenes):
        assert it.box is not None
        im = read_image(it.image)
        x1, y1, x2, y2 = it.box
        mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        h, w = im.shape[:2]
        cut = im[max(0, int(y1 - my)) : min(h, int(y2 + my)), max(0, int(x1 - mx)) : min(w, int(x2 + mx))]
        out.append(("boxes", i, it.plate, cut))
    return out


def collect(path: Path) -> None:
    reader = build_plate_reader(PlatesConfig(text_detector_runtime="onnxruntime"), models_dir())
    assert reader._cct is not None
    rows = []
    for name, i, label, plate in labelled_plates():
        h, w = plate.shape[:2]
        first = reader._cct.read_views([_with_border(plate, f) for f in CROP_BORDERS])
        cct = reader._from_cct(first, plate, (0.0, 0.0, float(w), float(h))) if first.text else None
        row: dict[str, Any] = {
            "set": name,
            "i": i,
            "label": label,
            "least": first.least,
            "cct": None if cct is None else (cct.text, cct.score),
        }
        today = reader.read_crop(plate)
        row["today"] = None if today is None else today.text
        if first.least < max(GATES) or cct is None:
            whole = reader._read(plate)
            line = reader._best_line(_line_search_view(plate)[0])
            row["whole"] = (whole[0], whole[4])
            row["line"] = None if line is None else (line[0], line[4])
        rows.append(row)
    path.write_bytes(pickle.dumps(rows))
    print(f"{len(rows)} reads cached in {path}", file=sys.stderr)


def read_as(row: dict[str, Any], gate: float, form: str) -> tuple[str, bool]:
    """The text ``read_crop`` would give under (gate, form), and whether PP-OCR was asked."""
    cct = row["cct"]
    if cct is not None and row["least"] >= gate:
        return cct[0], False
    cands = [row["line"]] if form == "line" else [row["whole"], row["line"]]
    best = None
    for c in cands:  # _read_crop_ppocr: the whole read, replaced by the line's where it scores higher
        if c is not None and (best is None or c[1] > best[1]):
            best = c
    other = best if best is not None and best[0] else None
    if other is not None and (cct is None or other[1] > cct[1]):
        return other[0], True
    return ("" if cct is None else cct[0]), True


def analyse(path: Path) -> None:
    rows = pickle.loads(path.read_bytes())
    folds = [[r for r in rows if r["i"] % 2 == k] for k in (0, 1)]
    grid = [(g, f) for g in GATES for f in FORMS]

    def score(part: list[dict[str, Any]], g: float, f: str) -> tuple[int, int]:
        reads = [read_as(r, g, f) for r in part]
        return sum(t == r["label"] for (t, _), r in zip(reads, part, strict=True)), sum(a for _, a in reads)

    # today's rule, reproduced offline, must read as read_crop does
    agree = sum(read_as(r, SECOND_OPINION, "full")[0] == (r["today"] or "") for r in rows)
    out: dict[str, Any] = {"n": len(rows), "offline_equals_read_crop": f"{agree}/{len(rows)}"}
    for k in (0, 1):
        train, held = folds[k], folds[1 - k]
        base = score(train, SECOND_OPINION, "full")[0]
        ok = [(g, f) for g, f in grid if score(train, g, f)[0] >= base]
        chosen = min(ok, key=lambda gf: (score(train, *gf)[1] * RUNS[gf[1]], -gf[0], gf[1] != "full"))
        out[f"fold{k}"] = {
            "train": {f"{g}/{f}": score(train, g, f) for g, f in grid},
            "chosen": chosen,
            "held_out_chosen": score(held, *chosen),
            "held_out_today": score(held, SECOND_OPINION, "full"),
        }
    for name in ("crops", "boxes"):
        part = [r for r in rows if r["set"] == name]
        out[name] = {f"{g}/{f}": score(part, g, f) for g, f in grid}
    print(json.dumps(out, indent=1))


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = Path(args[0]) if args else Path("/work/cache/plates-crop-gate/reads.pkl")
    if "--analyse" in sys.argv:
        analyse(path)
    else:
        collect(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
