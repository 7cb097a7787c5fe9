"""Detector sanity on real data: person counts on a labelled crowd set, and what real clips yield.

1. Crowd counting (``../shared/data/crowd/train``: 30 photos, 1024x768, a point on every
   head; ``counts.csv`` columns ``split,image,count_number_field,count_points,img_w,img_h,
   points_inside`` - the ground truth used is ``count_points``). ``YoloDetector`` at
   network input 416 and 608, confidence 0.25 and the configured default; the count is
   the number of ``person`` boxes. Reports count MAE, RMSE and mean signed error
   (negative: under-counts).
2. Every clip under ``../shared/data/video`` through ``analyze_recording()`` with the
   default config: tracks by class, stored events by type, analysed fps, real-time factor.

Run: ``.venv/bin/python bench/detector_sanity.py [--json]`` from the repo root.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
from rich.progress import Progress
from rich.table import Table

from benchlib import (
    DOCS_IMG,
    SHARED_DATA,
    Stopwatch,
    bench_config,
    emit_json,
    event_counts,
    load_average,
    machine_info,
    matplotlib_pyplot,
    models_dir,
    note,
    out_console,
    progress_bar,
    quiet_logs,
    rel,
)
from vigil.config import DetectorConfig
from vigil.core.classes import class_id
from vigil.detect.yolo import YoloDetector
from vigil.workers.analyze import analyze_recording

CROWD_DIR = SHARED_DATA / "crowd" / "train"
VIDEO_DIR = SHARED_DATA / "video"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


@dataclass(slots=True)
class CountSetting:
    """Count errors of one detector setting over the crowd set."""

    input_size: int
    confidence: float
    images: int
    gt_total: int
    predicted_total: int
    mae: float
    rmse: float
    mean_signed_error: float
    mean_relative_error: float
    ms_per_image: float
    per_image: dict[str, tuple[int, int]] = field(default_factory=dict)  # image -> (gt, predicted)


@dataclass(slots=True)
class ClipYield:
    clip: str
    video_s: float
    frames_decoded: int
    frames_analysed: int
    frames_gated: int
    analysed_fps: float
    realtime_factor: float
    tracks: dict[str, int]
    events: dict[str, int]
    wall_s: float
    load_avg_1m: float


def read_counts(crowd_dir: Path) -> dict[str, int]:
    """Ground-truth head counts by image file name, from ``counts.csv``."""
    with (crowd_dir / "counts.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        needed = {"image", "count_points"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise SystemExit(f"{crowd_dir / 'counts.csv'}: expected columns {sorted(needed)}, got {reader.fieldnames}")
        return {row["image"]: int(row["count_points"]) for row in reader}


def count_people(
    crowd_dir: Path,
    gt: dict[str, int],
    *,
    input_size: int,
    confidence: float,
    threads: int,
    progress: Progress,
) -> CountSetting:
    """Person boxes per image for one setting, and the count errors against ``gt``."""
    detector = YoloDetector(
        models_dir() / "yolov4-tiny",
        input_size=input_size,
        confidence=confidence,
        nms_iou=DetectorConfig().nms_iou,
        class_ids=[class_id("person")],
        threads=threads,
    )
    per_image: dict[str, tuple[int, int]] = {}
    first = next(iter(sorted(gt)), None)
    warm = cv2.imread(str(crowd_dir / "images" / first), cv2.IMREAD_COLOR) if first else None
    if warm is not None:  # the first run allocates; keep it out of ms_per_image
        detector.detect(warm)
    task = progress.add_task(f"crowd {input_size}px conf {confidence:g}", total=len(gt))
    detect_s = 0.0
    for name, truth in sorted(gt.items()):
        image = cv2.imread(str(crowd_dir / "images" / name), cv2.IMREAD_COLOR)
        if image is None:
            note(f"[yellow]{name}: cannot be read, skipped[/yellow]")
            continue
        with Stopwatch() as sw:
            predicted = len(detector.detect(image))
        detect_s += sw.wall_s
        per_image[name] = (truth, predicted)
        progress.advance(task)
    progress.remove_task(task)
    errors = [p - t for t, p in per_image.values()]
    n = max(1, len(errors))
    return CountSetting(
        input_size=input_size,
        confidence=confidence,
        images=len(errors),
        gt_total=sum(t for t, _ in per_image.values()),
        predicted_total=sum(p for _, p in per_image.values()),
        mae=round(sum(abs(e) for e in errors) / n, 2),
        rmse=round(math.sqrt(sum(e * e for e in errors) / n), 2),
        mean_signed_error=round(sum(errors) / n, 2),
        mean_relative_error=round(sum((p - t) / t for t, p in per_image.values() if t > 0) / n, 3),
        ms_per_image=round(detect_s * 1000 / n, 1),
        per_image=per_image,
    )


def analyse_clip(video: Path, threads: int, progress: Progress) -> ClipYield:
    """``analyze_recording()`` with the default config (5 analysed fps, motion gate on)."""
    task = progress.add_task(f"analyse {video.name}", total=None)
    with tempfile.TemporaryDirectory(prefix="vigil-sanity-") as tmp:
        cfg = bench_config(Path(tmp), threads=threads)
        summary = analyze_recording(
            video, cfg, progress=lambda pts_s: progress.update(task, completed=pts_s, description=video.name)
        )
        events = event_counts(Path(tmp))
    progress.remove_task(task)
    js = summary.to_json_dict()
    return ClipYield(
        clip=str(video.relative_to(VIDEO_DIR)) if video.is_relative_to(VIDEO_DIR) else rel(video),
        video_s=round(summary.video_duration_s or 0.0, 1),
        frames_decoded=summary.frames_decoded,
        frames_analysed=summary.frames_analysed,
        frames_gated=int(js["frames_gated"]),
        analysed_fps=round(summary.analysed_fps, 2),
        realtime_factor=float(js.get("realtime_factor") or 0.0),
        tracks=dict(summary.tracks),
        events=events,
        wall_s=round(summary.wall_s, 1),
        load_avg_1m=round(load_average()[0], 2),
    )


def plot(settings: list[CountSetting], path: Path) -> str | None:
    plt = matplotlib_pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0
    for s in settings:
        gts = [t for t, _ in s.per_image.values()]
        preds = [p for _, p in s.per_image.values()]
        top = max(top, *gts, *preds)
        ax.scatter(gts, preds, s=16, alpha=0.75, label=f"{s.input_size}px conf {s.confidence:g} (MAE {s.mae:.1f})")
    ax.plot([0, top], [0, top], color="black", linewidth=1, linestyle="--", label="perfect")
    ax.set_xlabel("people in image (head points)")
    ax.set_ylabel("person boxes (YOLOv4-tiny)")
    ax.set_title("Crowd set: detected vs true count")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return rel(path)


def print_tables(settings: list[CountSetting], clips: list[ClipYield], per_image: bool) -> None:
    if settings:
        table = Table(title=f"Person counts on {rel(CROWD_DIR)} ({settings[0].images} images)")
        for col in (
            "input",
            "conf",
            "GT total",
            "found total",
            "MAE",
            "RMSE",
            "mean signed",
            "mean rel.",
            "ms/img",
        ):
            table.add_column(col, justify="right")
        for s in settings:
            table.add_row(
                str(s.input_size),
                f"{s.confidence:g}",
                str(s.gt_total),
                str(s.predicted_total),
                f"{s.mae:.2f}",
                f"{s.rmse:.2f}",
                f"{s.mean_signed_error:+.2f}",
                f"{s.mean_relative_error:+.1%}",
                f"{s.ms_per_image:.0f}",
            )
        out_console.print(table)
        if per_image:
            names = sorted(settings[0].per_image, key=lambda n: settings[0].per_image[n][0])
            pt = Table(title="Per image: true count, then found per setting")
            pt.add_column("image")
            pt.add_column("GT", justify="right")
            for s in settings:
                pt.add_column(f"{s.input_size}/{s.confidence:g}", justify="right")
            for name in names:
                pt.add_row(name, str(settings[0].per_image[name][0]), *[str(s.per_image[name][1]) for s in settings])
            out_console.print(pt)
    if clips:
        table = Table(title="Real clips through analyze_recording() (default config: 5 fps, gate on, conf 0.3)")
        for col in ("clip", "video s", "an./dec.", "gated", "an. fps", "RTF", "tracks", "events", "load 1m"):
            table.add_column(col, justify="left" if col in ("clip", "tracks", "events") else "right")
        for c in clips:
            table.add_row(
                c.clip,
                f"{c.video_s:.0f}",
                f"{c.frames_analysed}/{c.frames_decoded}",
                str(c.frames_gated),
                f"{c.analysed_fps:.1f}",
                f"{c.realtime_factor:.2f}",
                ", ".join(f"{k} {v}" for k, v in sorted(c.tracks.items())) or "-",
                ", ".join(f"{k} {v}" for k, v in c.events.items()) or "-",
                f"{c.load_avg_1m:.1f}",
            )
        out_console.print(table)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input-sizes", default="416,608", help="network input sides, comma-separated")
    default_conf = DetectorConfig().confidence
    p.add_argument(
        "--confidences",
        default=f"0.25,{default_conf:g}",
        help="detector thresholds (default 0.25 and configured)",
    )
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    p.add_argument("--no-crowd", action="store_true", help="skip the crowd counts")
    p.add_argument("--no-clips", action="store_true", help="skip the clips")
    p.add_argument("--per-image", action="store_true", help="also print per-image counts")
    p.add_argument("--plot", type=Path, default=DOCS_IMG / "crowd_counts.png", help="PNG to write")
    p.add_argument("--json", action="store_true", help="print a JSON result as the last line")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    quiet_logs()
    sizes = [int(s) for s in args.input_sizes.split(",") if s.strip()]
    confidences = [float(c) for c in args.confidences.split(",") if c.strip()]
    settings: list[CountSetting] = []
    clips: list[ClipYield] = []
    info = machine_info()
    with progress_bar() as progress:
        if args.no_crowd:
            pass
        elif not (CROWD_DIR / "counts.csv").is_file():
            note(f"[yellow]crowd set not found at {CROWD_DIR}: counts skipped[/yellow]")
        else:
            gt = read_counts(CROWD_DIR)
            for size in sizes:
                for conf in confidences:
                    settings.append(
                        count_people(
                            CROWD_DIR,
                            gt,
                            input_size=size,
                            confidence=conf,
                            threads=args.threads,
                            progress=progress,
                        )
                    )
        if args.no_clips:
            pass
        elif not VIDEO_DIR.is_dir():
            note(f"[yellow]no clips at {VIDEO_DIR}: clip yields skipped[/yellow]")
        else:
            videos = sorted(p for p in VIDEO_DIR.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
            for video in videos:
                clips.append(analyse_clip(video, args.threads, progress))
    print_tables(settings, clips, args.per_image)
    plot_path = plot(settings, args.plot) if settings else None
    if plot_path:
        note(f"plot written to {plot_path}")
    info["load_avg_at_end"] = [round(x, 2) for x in load_average()]
    if args.json:
        emit_json(
            {
                "machine": info,
                "crowd": [asdict(s) for s in settings],
                "clips": [asdict(c) for c in clips],
                "plot": plot_path,
            }
        )


if __name__ == "__main__":
    main()
