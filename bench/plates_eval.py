"""Full plate-reader benchmark on ../shared/data/plates/{crops,us}; prints JSON per set and
compares with tests/golden/plates.json ``full`` (exit 1 when accuracy drops beyond tolerance);
``--update`` rewrites ``full`` and the ``subset`` the CI test gates (first n images).
Also prints exact per split half (even / odd images in label order), so a change can be shown to
help on both halves rather than on a few images.

``crops_cct`` and ``us_cct`` are read by the default reader (the plate-trained CCT-XS v2 with
PP-OCRv6 as its second opinion); ``crops`` and ``us`` by PP-OCRv6 alone (``plates.recogniser:
ppocr``, the reader before); ``us_platedet`` is the US scene set read by PP-OCRv6 with the
optional AGPL plate detector (``plates.localiser: platedet``; needs ``vigil models install platedet``).

    .venv/bin/python bench/plates_eval.py [--update] [--only crops_cct,us_cct,crops,us,us_platedet]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchlib import models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import evaluate, load_labels
from vigil.plates.reader import PlateReader
from vigil.workers.plates_stage import build_plate_reader

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "plates"
GOLDEN = ROOT / "tests" / "golden" / "plates.json"


SETS = ("crops_cct", "us_cct", "crops", "us", "us_platedet")

RUNTIME = "onnxruntime"
"""The text detector's runtime the golden figures are measured with (the run the test pins: every CPU
runs ONNX Runtime fp32 the same, while ``auto`` takes OpenVINO bfloat16 on a CPU with AMX)."""


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: no labelled plates at {DATA}", file=sys.stderr)
        return 0
    golden = json.loads(GOLDEN.read_text())
    models = models_dir()
    ppocr = PlatesConfig(recogniser="ppocr", text_detector_runtime=RUNTIME)
    cct = PlatesConfig(text_detector_runtime=RUNTIME)
    readers: dict[str, tuple[str, PlateReader]] = {
        "crops_cct": ("crops", build_plate_reader(cct, models)),
        "us_cct": ("us", build_plate_reader(cct, models)),
        "crops": ("crops", build_plate_reader(ppocr, models)),
        "us": ("us", build_plate_reader(ppocr, models)),
    }
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else list(SETS)
    if "us_platedet" in only:
        readers["us_platedet"] = (
            "us",
            build_plate_reader(
                PlatesConfig(localiser="platedet", recogniser="ppocr", text_detector_runtime=RUNTIME), models
            ),
        )
    ok = True
    for name in only:
        folder, reader = readers[name]
        result = evaluate(DATA / folder, reader)
        report = result.as_dict()
        _, items = load_labels(DATA / folder)
        missed = {m["image"] for m in result.misses}
        for half in (0, 1):
            names = [it.image.name for i, it in enumerate(items) if i % 2 == half]
            report[f"exact_half{half}"] = round(sum(n not in missed for n in names) / max(1, len(names)), 4)
        print(json.dumps({name: report}))
        want = golden["full"].get(name)
        if want is not None and report["exact"] < want["exact"] - 0.02:
            ok = False
        if "--update" in sys.argv:
            golden["full"][name] = {
                k: v for k, v in report.items() if k not in ("layout", "by_region", "by_country") and "half" not in k
            }
            if name.endswith("_cct"):  # gated on the whole set
                keep = ("n", "exact", "cer", "found_rate")
                golden["subset"][name] = {k: v for k, v in report.items() if k in keep} | {"tolerance": 0.02}
                continue
            n = golden["subset"][name]["n"]
            subset = evaluate(DATA / folder, reader, limit=n).as_dict()
            keep = ("n", "exact", "cer", "found_rate")
            tolerance = golden["subset"][name].get("tolerance")
            golden["subset"][name] = {k: v for k, v in subset.items() if k in keep}
            if tolerance is not None:
                golden["subset"][name]["tolerance"] = tolerance
    if "--update" in sys.argv:
        GOLDEN.write_text(json.dumps(golden, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
