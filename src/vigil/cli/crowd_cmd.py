"""``vigil crowd report | eval | calibrate``: crowd counts, flows, alerts and heatmaps; counting
accuracy; per-camera count calibration."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.config import VigilConfig
from vigil.core.errors import InputError
from vigil.core.frame import BGRImage
from vigil.crowd.calibration import CameraCalibration
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.dataset import CountErrors
from vigil.crowd.evaluate import EVAL_METHODS, PersonDetector, check_method, evaluate
from vigil.crowd.geometry import FloatArray
from vigil.crowd.tiling import tiled
from vigil.services import crowd_calibration
from vigil.services.context import Services
from vigil.store.facade import Store
from vigil.workers.wiring import build_detector

app = typer.Typer(help="Crowd monitoring: people counts per zone, flows across lines, alerts, heatmaps.")
console = Console()
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``30m``, ``2h``, ``7d`` (ago) or an ISO date/time (UTC if no zone) → aware datetime."""
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if match:
        return (now or datetime.now(UTC)) - timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--since {text!r}: expected a duration such as 30m, 2h, 7d or an ISO date/time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _check_camera(cfg: VigilConfig, store: Store, camera: str) -> None:
    configured = {c.id for c in cfg.cameras}
    stored = set(store.crowd.cameras())
    if camera not in configured and camera not in stored:
        known = ", ".join(sorted(configured | stored)) or "none"
        raise InputError(f"camera {camera!r} is not in the config and has no crowd data; known cameras: {known}")


@app.command("report")
def report(
    camera: str = typer.Argument(..., help="Camera id."),
    since: str | None = typer.Option(None, "--since", help="From: 30m, 2h, 7d ago, or an ISO date/time."),
    out_dir: Path | None = typer.Option(None, "--out", help="Where the PNGs go (default <data_dir>/reports/crowd)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (last line of stdout)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Print a camera's count series, line totals and alerts; write a time-series plot and heatmap PNG."""
    cfg = resolve_config(config, data_dir)
    start = parse_since(since)
    with Store.open(cfg.store_url) as store:
        _check_camera(cfg, store, camera)
        points = store.crowd.series(camera, start)
        lines = store.crowd.line_totals(camera, start)
        alerts = store.crowd.alerts(camera, start)
        heat = store.crowd.heatmap(camera, start)
    from vigil.crowd.heatmap import render_heatmap, render_series  # matplotlib: only this report draws

    folder = out_dir or cfg.data_dir / "reports" / "crowd"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    series: dict[str, tuple[list[datetime], list[int]]] = defaultdict(lambda: ([], []))
    for p in points:
        series[p.zone_id][0].append(p.at)
        series[p.zone_id][1].append(p.count)
    plot = render_series(dict(series), folder / f"{camera}-{stamp}-series.png", title=f"People, camera {camera}")
    heatmap = (
        render_heatmap(heat.grid, folder / f"{camera}-{stamp}-heatmap.png", title=f"Occupancy, camera {camera}")
        if heat is not None
        else None
    )
    if as_json:
        print(
            json.dumps(
                {
                    "camera": camera,
                    "since": start.isoformat() if start else None,
                    "samples": [
                        {"at": p.at.isoformat(), "zone": p.zone_id, "count": p.count, "method": p.method}
                        for p in points
                    ],
                    "lines": [{"line": t.line_id, "in": t.in_count, "out": t.out_count} for t in lines],
                    "alerts": [
                        {"at": a.at.isoformat(), "kind": a.kind, "subject": a.subject_id, "state": a.state}
                        for a in alerts
                    ],
                    "plot": str(plot),
                    "heatmap": str(heatmap) if heatmap else None,
                }
            )
        )
        return
    table = Table(title=f"Crowd counts, camera {camera}")
    for col in ("time (UTC)", "zone", "people", "detected", "density", "method", "per m²"):
        table.add_column(col)
    for p in points:
        table.add_row(
            p.at.strftime("%Y-%m-%d %H:%M:%S"),
            "whole frame" if p.zone_id == "*" else p.zone_id,
            str(p.count),
            str(p.detection_count),
            "" if p.density_count is None else f"{p.density_count:.1f}",
            p.method,
            "" if p.density_per_m2 is None else f"{p.density_per_m2:.2f}",
        )
    console.print(table)
    for t in lines:
        console.print(f"line {t.line_id}: in {t.in_count}, out {t.out_count}")
    for a in alerts:
        console.print(
            f"{a.at:%Y-%m-%d %H:%M:%S} {a.kind} {a.subject_type} {a.subject_id} {a.state}"
            f" ({a.value:g} {a.unit}, threshold {a.threshold:g})"
        )
    console.print(f"plot: {plot}")
    console.print(f"heatmap: {heatmap}" if heatmap else "heatmap: no occupancy recorded in this period")


@app.command("eval")
def eval_cmd(
    folder: Path = typer.Argument(
        ..., help="ShanghaiTech layout: images/IMG_n.jpg, ground-truth/GT_IMG_n.mat (or _points.csv)."
    ),
    method: str = typer.Option("auto", "--method", help=f"One of: {', '.join(EVAL_METHODS)} (auto: Vigil's count)."),
    camera: str | None = typer.Option(
        None, "--camera", help="Also report the counts corrected by this camera's calibration (auto only)."
    ),
    every: int = typer.Option(1, "--every", min=1, help="Count every n-th image only (natural order)."),
    skip: int = typer.Option(0, "--skip", min=0, help="Start at this image (natural order)."),
    input_size: int | None = typer.Option(None, "--input-size", help="Detector input side (default: config)."),
    as_json: bool = typer.Option(
        False, "--json", help="Last line of stdout: JSON with n, mae, rmse, bias, bands, ms_per_image, method."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Count people on a labelled crowd set: MAE, RMSE, bias and MAE by crowd size, with and
    without the camera's calibration (--camera)."""
    cfg = resolve_config(config, data_dir)
    chosen = check_method(method)
    calibration: CameraCalibration | None = None
    if camera is not None:
        if chosen != "auto":
            raise InputError("--camera applies a calibration to Vigil's count: use it with --method auto")
        with Store.for_config(cfg) as store:
            calibration = crowd_calibration.active(Services.build(cfg, store), camera)
        if calibration is None:
            raise InputError(f"camera {camera!r} has no crowd calibration; fit one with vigil crowd calibrate")
    detector: PersonDetector | None = None
    if chosen in ("auto", "detection", "combined"):
        from vigil.workers.crowd_stage import counting_config

        yolo = build_detector(counting_config(cfg), class_ids=(0,), input_size=input_size)  # COCO person

        def detector(image: BGRImage) -> FloatArray:
            return yolo.detect(image).xyxy

    from vigil.workers.crowd_stage import build_density  # the crowd stage pulls in plotting; only eval needs it

    density = build_density(cfg, required=True) if chosen != "detection" else None
    rule = CountRule.from_config(cfg.crowd)
    result = evaluate(
        folder,
        chosen,
        detector,
        density,
        tiles=cfg.crowd.count_tiles,
        floor=cfg.crowd.density_floor,
        hidden_heads_px=cfg.crowd.hidden_heads_px,
        rule=rule,
        calibration=calibration,
        every=every,
        skip=skip,
    )
    if not as_json:
        for c in result.images:
            fixed = f", calibrated {c.calibrated:.1f}" if c.calibrated is not None else ""
            console.print(f"{c.image}: truth {c.truth}, counted {c.predicted:.1f}{fixed} ({c.ms:.0f} ms)")
    summary = result.to_json_dict()
    if chosen == "auto" and density is not None:
        # The tail actually run (tuned falls back to stock with one warning) and the rule's settings.
        summary["density_tail"] = density.tail
        summary["rule"] = rule.to_json_dict()
    if as_json:
        print(json.dumps(summary))
        return
    tail = f", {summary['density_tail']} tail" if "density_tail" in summary else ""
    console.print(
        _errors_line(f"{chosen}{tail}", result.errors, result.by_band()) + f" ({summary['ms_per_image']} ms per image)"
    )
    if result.calibrated_errors is not None:
        console.print(
            _errors_line(f"{chosen}, calibrated ({camera})", result.calibrated_errors, result.by_band(calibrated=True))
        )


def _errors_line(label: str, e: CountErrors, bands: dict[str, CountErrors]) -> str:
    by_band = ", ".join(f"{k}: {'-' if b.n == 0 else f'{b.mae:.2f}'} (n={b.n})" for k, b in bands.items())
    return f"{label}: n={e.n} MAE {e.mae:.2f} RMSE {e.rmse:.2f} bias {e.bias:+.2f}; MAE by true count {by_band}"


@app.command("calibrate")
def calibrate_cmd(
    camera: str = typer.Argument(..., help="The camera the frames come from (its id in the config)."),
    frames: Path = typer.Argument(
        ..., help="Labelled frames of that camera: images/NAME.jpg and ground-truth/GT_NAME_points.csv (x,y)."
    ),
    bands: int = typer.Option(1, "--bands", min=1, max=8, help="Correction factors by horizontal bands of rows."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored calibration as JSON."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Fit a per-camera count correction from labelled frames of its own camera (10-20 frames) and
    store it with the camera as the signed-in user (audited); later counts of the camera use it."""
    with signed_in(config, data_dir) as (services, actor):
        cfg = services.config
        crowd_calibration.known_camera(services, camera)
        crowd_calibration.read_frames(frames)  # bad input: one line before any model is loaded
        from vigil.workers.crowd_stage import build_density, counting_config

        yolo = build_detector(counting_config(cfg), class_ids=(0,))
        persons = tiled(lambda image: yolo.detect(image).xyxy, cfg.crowd.count_tiles)
        density = build_density(cfg, required=True)
        assert density is not None
        rule = CountRule.from_config(cfg.crowd)
        settings: dict[str, object] = {
            "rule": rule.to_json_dict(),
            "density_tail": density.tail,
            "detector": counting_config(cfg).detector.model,
            "detector_precision": counting_config(cfg).detector.model_file,
            "density_precision": cfg.crowd.density_precision,
            "density_input_width": cfg.crowd.density_input_width,
            "count_tiles": cfg.crowd.count_tiles,
        }
        outcome = crowd_calibration.calibrate(
            services,
            actor,
            camera,
            frames,
            lambda image: count_frame(image, persons, density, rule),
            bands=bands,
            settings=settings,
        )
    r, check = outcome.record, outcome.check
    if as_json:
        print(
            json.dumps(
                {
                    "calibration_id": r.calibration_id,
                    "camera": r.camera_id,
                    "frames": r.frames,
                    "people": r.people,
                    "correction": r.correction,
                    "check": check.to_json_dict(),
                }
            )
        )
        return
    factors = ", ".join(f"{f:.3f}" for f in outcome.calibration.factors)
    console.print(
        f"camera {camera}: calibration {r.calibration_id} stored from {r.frames} frames ({r.people} people); "
        f"factors {factors}; MAE on these frames {check.mae_before:.2f} -> {check.mae_after:.2f} "
        f"(each frame held out: {check.mae_held_out:.2f})"
    )


def register(root: typer.Typer) -> None:
    """Add ``vigil crowd`` to the ``vigil`` app."""
    root.add_typer(app, name="crowd")
