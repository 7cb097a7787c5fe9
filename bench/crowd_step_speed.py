"""The crowd counting step before and after issue 22, in one process: time per 1024x768 frame,
the ratio, and the peak memory of each.

* before: person detection on the whole frame + 3x3 tiles, CSRNet at 384 px, the combined count;
* now: :func:`vigil.crowd.counter.count_frame` with the default rule and tail (the same detection,
  CSRNet at the frame's own width up to ``crowd.density_input_width``, or ``crowd.near_width`` for
  near people; since the eighth round the tuned tail and the linear far-path rule).

With ``--tail`` the two steps are instead ``stock`` (``crowd.density_tail: stock``) and ``tuned`` (the
two-tail graph of model csrnet-tail: gate on the stock output, count with the tuned one, the default
since the eighth round; docs/crowd.md), so the ratio is the second output's cost.

Both run on each image back to back in alternating order (interleaved, so load from other jobs hits
both alike), with the default models and precisions (int8), ``crowd.threads`` threads. Peak RSS:
a fresh child process per step that loads the models and counts one 1024x768 photo (VmHWM).

    nice -n 10 .venv/bin/python bench/crowd_step_speed.py [--data DIR] [--every 1] [--tail] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note
from vigil.config import VigilConfig
from vigil.config.crowd import CrowdConfig
from vigil.core.frame import BGRImage
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.dataset import list_images
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.workers.crowd_stage import build_density, build_tile_detector

_RSS_CHILD = """
import sys
from pathlib import Path
from vigil.config import VigilConfig
from vigil.config.crowd import CrowdConfig
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.workers.crowd_stage import build_density, build_tile_detector
step, models, image = sys.argv[1], Path(sys.argv[2]), _read(Path(sys.argv[3]))
crowd = {
    "before": CrowdConfig(density_input_width=384, density_tail="stock"),
    "stock": CrowdConfig(density_tail="stock"),
    "tuned": CrowdConfig(density_tail="tuned"),
}
cfg = VigilConfig(models_dir=models, crowd=crowd.get(step, CrowdConfig()))
det = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
dens = build_density(cfg, required=True)
if step == "before":
    boxes = det(image)
    combined_count(len(boxes), split_density(dens.estimate(image), boxes))
else:
    count_frame(image, det, dens, CountRule.from_config(cfg.crowd))
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
"""


def peak_rss_mib(step: str, models: Path, image: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, step, str(models), str(image)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "crowd" / "train")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--tail", action="store_true", help="the stock tail's step against the tuned tail's")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    models = models_dir()
    cfg = VigilConfig(models_dir=models)
    detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
    current = build_density(cfg, required=True)  # the default tail (tuned since the eighth round)
    # The step before issue 22 and the --tail baseline run the stock graph (one output).
    density = build_density(VigilConfig(models_dir=models, crowd=CrowdConfig(density_tail="stock")), True)
    assert current is not None and density is not None
    tuned = None
    if args.tail:
        tuned = build_density(VigilConfig(models_dir=models, crowd=CrowdConfig(density_tail="tuned")), True)
        assert tuned is not None
    base = "stock" if args.tail else "before"
    new = "tuned" if args.tail else "now"
    rule = CountRule.from_config(cfg.crowd)
    items = list_images(args.data)[:: args.every]
    before_ms: list[float] = []
    now_ms: list[float] = []
    widths: dict[int, int] = {}
    for i, item in enumerate(items):
        image = _read(item.image)

        def before(img: BGRImage = image) -> None:
            if tuned is not None:  # --tail: the baseline is the step with the stock tail
                count_frame(img, detector, density, rule)
                return
            boxes = detector(img)
            combined_count(len(boxes), split_density(density.estimate(img, input_width=384), boxes))

        def now(img: BGRImage = image) -> None:
            counted = count_frame(img, detector, tuned or current, rule)
            widths[counted.input_width] = widths.get(counted.input_width, 0) + 1

        for name, step in (("before", before), ("now", now)) if i % 2 == 0 else (("now", now), ("before", before)):
            started = time.perf_counter()
            step()
            (before_ms if name == "before" else now_ms).append((time.perf_counter() - started) * 1000.0)
    ratios = [n / b for n, b in zip(now_ms, before_ms, strict=True)]
    rss = {name: peak_rss_mib(step, models, items[0].image) for name, step in ((base, base), (new, new))}
    result = {
        "data": str(args.data),
        "images": len(items),
        "threads": cfg.crowd.threads,
        "steps": [base, new],
        f"{base}_ms_median": round(statistics.median(before_ms), 1),
        f"{new}_ms_median": round(statistics.median(now_ms), 1),
        f"{base}_ms_mean": round(statistics.fmean(before_ms), 1),
        f"{new}_ms_mean": round(statistics.fmean(now_ms), 1),
        f"{new}_ms_max": round(max(now_ms), 1),
        "ratio_of_sums": round(sum(now_ms) / sum(before_ms), 3),
        "ratio_median": round(statistics.median(ratios), 2),
        "csrnet_widths": widths,
        "peak_rss_mib": {k: round(v, 1) for k, v in rss.items()},
        "machine": machine_info(),
    }
    note(
        f"{len(items)} images: {base} {result[f'{base}_ms_median']} ms, {new} {result[f'{new}_ms_median']} ms "
        f"(median ratio {result['ratio_median']}x, max {result[f'{new}_ms_max']} ms); peak RSS {result['peak_rss_mib']}"
    )
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
