"""PP-OCR's second opinion in ``read_crop`` on other runtimes and settings (issue 21, twelfth round).

``read_crop`` asks PP-OCRv6 where the plate-trained recogniser is unsure (``SECOND_OPINION``): its
recogniser reads the crop whole, its text detector (``det_max_side`` 320) finds the crop's lines and
the recogniser reads the tallest. The detector already follows ``plates.text_detector_runtime``
(``auto``: OpenVINO on every CPU where the extra is installed); the recogniser is ONNX Runtime
(:func:`vigil.core.onnx_session.make_session`: 2 intra-op threads, no spinning, arena on, every graph
optimisation). This builds the default reader once per way, changing only PP-OCR's sessions:

* ``today``: as the product does;
* ``rec_ov``: the recogniser compiled by OpenVINO f32 (:class:`~vigil.core.openvino_session.OpenVinoSession`);
* ``rec_ov1``: the same on one OpenVINO thread (added after the first run: the least CPU per read);
* ``rec_spin``: the recogniser's ONNX Runtime threads spinning while idle;
* ``rec_1t``: the recogniser on one ONNX Runtime thread;
* ``det_ort``: the line detector on ONNX Runtime (what ``text_detector_runtime: onnxruntime`` gives).

Every US crop and labelled US box (10 % margin; 598 plates) is read by every way in one process,
order alternating plate to plate, an untimed pause before each read; the reads are compared with
today's (text and score) and scored (exact per set and per even / odd half). Prints JSON: ms mean /
median / p95, CPU ms, ratios to today (pooled and per half; on the plates PP-OCR was asked about),
reads that differ, CPU model, load before / after, peak RSS.

    .venv/bin/python bench/plates_ppocr_runtime.py [--ways today,rec_ov,...] [--json FILE]

``--scenes [N]`` instead times the text detector's runtime on whole scenes: two default readers,
``auto`` and ``onnxruntime``, each of the first N US scenes (default all 222) read by both, order
alternating, an untimed 50 ms pause before each, no warm read (OpenVINO's first compile of a shape
counted, as a camera's first frames would be); same reads, exact, found, ms and the ratio.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import SHARED_DATA, models_dir
from plates_crop_gate import labelled_plates
from vigil.config.plates import PlatesConfig
from vigil.core.onnx_session import make_session
from vigil.core.openvino_session import OpenVinoSession, choose_runtime
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine
from vigil.plates.reader import PlateReader
from vigil.workers.plates_stage import build_plate_reader

WAYS = ("today", "rec_ov", "rec_ov1", "rec_spin", "rec_1t", "det_ort")
PAUSE_S = 0.02


def lscpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")


def reader_for(way: str, probe: Any) -> PlateReader:
    """The default reader with PP-OCR's sessions as ``way`` says (``probe``: an image to load them)."""
    runtime = "onnxruntime" if way == "det_ort" else "auto"
    reader = build_plate_reader(PlatesConfig(text_detector_runtime=runtime), models_dir())  # type: ignore[arg-type]
    engine = reader._ocr
    assert isinstance(engine, RapidTextEngine)
    engine.recognise(probe)  # loads the recogniser and gives it Vigil's own ONNX Runtime session
    rec = engine._engine._load_rec_model()
    path = Path(rec.session.session._model_path)
    threads = PlatesConfig().threads
    if way in ("rec_ov", "rec_ov1"):
        rec.session = OpenVinoSession(path, threads if way == "rec_ov" else 1, "f32")
    elif way == "rec_spin":
        rec.session.session = make_session(path, threads, spin=True)
    elif way == "rec_1t":
        rec.session.session = make_session(path, 1, spin=False)
    return reader


def stats(ms: list[float]) -> dict[str, float]:
    return {
        "ms_mean": round(statistics.fmean(ms), 2),
        "ms_median": round(statistics.median(ms), 2),
        "ms_p95": round(float(np.percentile(ms, 95)), 2),
    }


def crops(ways: list[str]) -> dict[str, Any]:
    plates = labelled_plates()
    readers = {w: reader_for(w, plates[0][3]) for w in ways}
    for r in readers.values():  # warm every session on a plate PP-OCR is asked about
        for *_, p in plates[:20]:
            r.read_crop(p)
    load0 = os.getloadavg()[0]
    wall: dict[str, list[float]] = {w: [] for w in ways}
    cpu: dict[str, list[float]] = {w: [] for w in ways}
    texts: dict[str, list[str]] = {w: [] for w in ways}
    scores: dict[str, list[float]] = {w: [] for w in ways}
    asked: list[bool] = []
    for k, (_, _, _, plate) in enumerate(plates):
        order = ways if k % 2 == 0 else ways[::-1]
        for w in order:
            r = readers[w]
            calls = r.ocr_calls
            time.sleep(PAUSE_S)
            c0, t0 = time.process_time(), time.perf_counter()
            read = r.read_crop(plate)
            wall[w].append(1000 * (time.perf_counter() - t0))
            cpu[w].append(1000 * (time.process_time() - c0))
            texts[w].append("" if read is None else read.text)
            scores[w].append(0.0 if read is None else read.score)
            if w == "today":
                asked.append(r.ocr_calls - calls > 1)
    load1 = os.getloadavg()[0]
    sets = [s for s, *_ in plates]
    labels = [lab for _, _, lab, _ in plates]
    half = [i % 2 for _, i, _, _ in plates]
    out: dict[str, Any] = {
        "cpu": lscpu_model(),
        "auto_here": choose_runtime("auto").__dict__,
        "n": len(plates),
        "asked": sum(asked),
        "load_average_before_after": [round(load0, 2), round(load1, 2)],
    }
    base = wall["today"]
    for w in ways:
        a = wall[w]
        row: dict[str, Any] = stats(a) | {"cpu_ms_mean": round(statistics.fmean(cpu[w]), 2)}
        row["ratio_mean"] = round(statistics.fmean(a) / statistics.fmean(base), 3)
        row["ratio_median"] = round(statistics.median(a) / statistics.median(base), 3)
        row["ratio_cpu"] = round(statistics.fmean(cpu[w]) / statistics.fmean(cpu["today"]), 3)
        for h in (0, 1):
            idx = [i for i in range(len(plates)) if half[i] == h]
            row[f"ratio_mean_half{h}"] = round(
                statistics.fmean([a[i] for i in idx]) / statistics.fmean([base[i] for i in idx]), 3
            )
        on = [i for i in range(len(plates)) if asked[i]]
        row["asked_ms_mean"] = round(statistics.fmean([a[i] for i in on]), 2)
        row["asked_ratio_mean"] = round(row["asked_ms_mean"] / statistics.fmean([base[i] for i in on]), 3)
        row["same_text_as_today"] = sum(t == u for t, u in zip(texts[w], texts["today"], strict=True))
        row["max_score_diff"] = float(max(abs(s - u) for s, u in zip(scores[w], scores["today"], strict=True)))
        for s in ("crops", "boxes"):
            for h in (0, 1):
                row[f"exact_{s}_half{h}"] = sum(
                    texts[w][i] == labels[i] for i in range(len(plates)) if sets[i] == s and half[i] == h
                )
            row[f"exact_{s}"] = row[f"exact_{s}_half0"] + row[f"exact_{s}_half1"]
        row["differs"] = [
            f"{sets[i]}#{plates[i][1]} label {labels[i]}: today {texts['today'][i]} / {texts[w][i]}"
            for i in range(len(plates))
            if texts[w][i] != texts["today"][i]
        ]
        out[w] = row
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def scenes(limit: int) -> dict[str, Any]:
    ways = ("auto", "onnxruntime")
    readers = {w: build_plate_reader(PlatesConfig(text_detector_runtime=w), models_dir()) for w in ways}  # type: ignore[arg-type]
    _, items = load_labels(SHARED_DATA / "plates" / "us")
    items = items[:limit]
    load0 = os.getloadavg()[0]
    wall: dict[str, list[float]] = {w: [] for w in ways}
    texts: dict[str, list[str]] = {w: [] for w in ways}
    exact = {w: np.zeros(len(items), bool) for w in ways}
    found = {w: np.zeros(len(items), bool) for w in ways}
    for k, item in enumerate(items):
        image = read_image(item.image)
        assert item.box is not None
        for w in ways if k % 2 == 0 else ways[::-1]:
            time.sleep(0.05)
            t0 = time.perf_counter()
            reads = readers[w].read_scene(image)
            wall[w].append(1000 * (time.perf_counter() - t0))
            read = reads[0] if reads else None
            texts[w].append("" if read is None else read.text)
            exact[w][k] = read is not None and read.text == item.plate
            found[w][k] = read is not None and box_iou(read.box, item.box) > FOUND_IOU
    load1 = os.getloadavg()[0]
    half = np.arange(len(items)) % 2
    out: dict[str, Any] = {
        "cpu": lscpu_model(),
        "auto_here": choose_runtime("auto").__dict__,
        "n": len(items),
        "load_average_before_after": [round(load0, 2), round(load1, 2)],
        "same_text": int(sum(a == b for a, b in zip(texts["auto"], texts["onnxruntime"], strict=True))),
    }
    for w in ways:
        e, f = exact[w], found[w]
        out[w] = stats(wall[w]) | {
            "exact": f"{e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()})",
            "found": f"{f.sum()} ({f[half == 0].sum()} + {f[half == 1].sum()})",
        }
    out["ratio_mean"] = round(statistics.fmean(wall["auto"]) / statistics.fmean(wall["onnxruntime"]), 3)
    out["ratio_median"] = round(statistics.median(wall["auto"]) / statistics.median(wall["onnxruntime"]), 3)
    for h in (0, 1):
        a = [wall["auto"][i] for i in range(len(items)) if half[i] == h]
        b = [wall["onnxruntime"][i] for i in range(len(items)) if half[i] == h]
        out[f"ratio_mean_half{h}"] = round(statistics.fmean(a) / statistics.fmean(b), 3)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> int:
    argv = sys.argv[1:]
    known = {"--scenes", "--ways", "--json"}
    if any(a.startswith("-") and a not in known for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    opts = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i] in ("--ways", "--json")}
    if "--scenes" in argv:
        rest = [a for a in argv[argv.index("--scenes") + 1 :] if not a.startswith("--")]
        out = scenes(int(rest[0]) if rest and rest[0].isdigit() else 222)
    else:
        ways = opts.get("--ways", ",".join(WAYS)).split(",")
        assert ways[0] == "today", "today's way comes first (the ratios are to it)"
        out = crops(ways)
    text = json.dumps(out, indent=1)
    print(text)
    if "--json" in opts:
        Path(opts["--json"]).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
