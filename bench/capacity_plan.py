"""The capacity plan for a city network (docs/scale-out.md), derived from measured figures.

Every input is a figure measured on these machines and named with where it was measured; the
plan is arithmetic on them, so when a figure moves (a faster indexer, more cameras per core) the
table and the diagram are made again from this script instead of being edited by hand:

    .venv/bin/python bench/capacity_plan.py [--cameras 60000] [--indexer-us 60.8] \\
        [--cameras-per-core 2.5] [--plot docs/img/capacity-plan.png]

It prints the markdown table docs/scale-out.md carries and, with ``--plot``, draws the
deployment with the rates on its arrows. The event mix (events per camera-second by kind) is
read from ``bench/event_mix.json``, measured by ``bench/scale_load.py mix`` on the real clips.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Measured:
    """The measured inputs (defaults: the figures in docs/scale-out.md and docs/benchmarks.md)."""

    cameras: int = 60_000
    indexer_us: float = 60.8
    """Indexer CPU per stored event, steady (its start excluded; `scale_load.py throughput`, idle box,
    2026-12-07 01:56, after the fourth round of docs/scale-out.md)."""
    postgres_us: float = 70.3
    """PostgreSQL CPU per stored event (the same run)."""
    nats_us: float = 15.3
    """NATS server CPU per event, R1 (the same run)."""
    row_bytes: float = 860.0
    """Bytes per stored `events` row with its indexes (same runs)."""
    message_bytes: float = 400.0
    """Bytes per event on the bus (the mix's JSON; `scale_load.py throughput`)."""
    cameras_per_core: float = 2.5
    """Cameras one core serves in real time at 5 analysed frames/s: YOLOX-Nano kept 5 live cameras on
    the idle 2-core box (docs/detectors.md, `cameras_per_box.py`), limited by snapshot stalls, not
    by the CPUs (by CPU time 38 cameras per box, 19 per core)."""
    cores_per_worker_box: int = 16
    heartbeat_s: float = 3.0
    """A worker's lease heartbeat period (one KV write per worker, not per camera)."""
    drain_factor: float = 3.0
    """Indexers sized to be at most 1/3 busy, so a backlog drains at >= 3x the steady rate."""


def event_mix(path: Path = HERE / "event_mix.json") -> dict[str, float]:
    mix: dict[str, float] = json.loads(path.read_text())["per_camera_s"]
    return mix


def plan(m: Measured, mix: dict[str, float]) -> list[tuple[str, str, str, float]]:
    """(quantity, derivation, value text, value) rows."""
    per_cam = sum(mix.values())
    eps = m.cameras * per_cam
    per_day = eps * 86_400
    bulky = (mix.get("camera.health", 0.0) + mix.get("track.updated", 0.0)) / per_cam
    tb_day = per_day * m.row_bytes / 1e12
    idx_cores = eps * m.indexer_us / 1e6
    idx_procs = math.ceil(idx_cores * m.drain_factor)
    pg_cores = eps * m.postgres_us / 1e6
    nats_cores = eps * m.nats_us / 1e6
    nats_tb_day = per_day * m.message_bytes / 1e12
    worker_cores = m.cameras / m.cameras_per_core
    boxes = math.ceil(worker_cores / m.cores_per_worker_box)
    kv_writes = boxes / m.heartbeat_s
    return [
        ("events/s", f"{m.cameras:,} × {per_cam:.2f} [event mix]", f"{eps:,.0f} /s", eps),
        ("events/day", "× 86,400", f"{per_day / 1e9:.1f} billion rows/day", per_day),
        ("of which health + track updates", "(health + track.updated) / all [event mix]", f"{bulky:.0%}", bulky),
        (
            "PostgreSQL bytes/day, events table",
            f"{per_day / 1e9:.1f} G × {m.row_bytes:.0f} B [bytes/row]",
            f"{tb_day:.1f} TB/day",
            tb_day,
        ),
        (
            "indexer cores, steady",
            f"{eps:,.0f} × {m.indexer_us:g} µs [indexer CPU]",
            f"{idx_cores:.1f} cores",
            idx_cores,
        ),
        (
            "indexer processes",
            f"≤ 1/{m.drain_factor:g} busy, so a backlog drains at ≥ {m.drain_factor:g}× [drain]",
            f"{idx_procs} (one core each)",
            idx_procs,
        ),
        (
            "PostgreSQL cores (writes)",
            f"{eps:,.0f} × {m.postgres_us:g} µs [PostgreSQL CPU]; × {m.drain_factor:g} while draining",
            f"{pg_cores:.1f} steady, {pg_cores * m.drain_factor:.1f} draining",
            pg_cores,
        ),
        (
            "NATS cores (R1)",
            f"{eps:,.0f} × {m.nats_us:g} µs [NATS CPU]",
            f"{nats_cores:.1f} per replica set",
            nats_cores,
        ),
        (
            "NATS bytes/day per replica",
            f"{per_day / 1e9:.1f} G × {m.message_bytes:.0f} B [message size]",
            f"{nats_tb_day:.1f} TB/day",
            nats_tb_day,
        ),
        (
            "worker cores",
            f"{m.cameras:,} / {m.cameras_per_core:g} cameras per core",
            f"{worker_cores:,.0f} cores ({boxes:,} × {m.cores_per_worker_box}-core boxes)",
            worker_cores,
        ),
        (
            "lease KV writes/s",
            f"{boxes:,} workers / {m.heartbeat_s:g} s [heartbeat design]",
            f"{kv_writes:,.0f} /s (per-camera keys would need {m.cameras / 10:,.0f} /s)",
            kv_writes,
        ),
    ]


def markdown(rows: list[tuple[str, str, str, float]]) -> str:
    lines = ["| quantity | derivation | value |", "|---|---|---|"]
    lines += [f"| {q} | {d} | {v} |" for q, d, v, _ in rows]
    return "\n".join(lines)


def draw(m: Measured, rows: list[tuple[str, str, str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    v = {q: (text, value) for q, _, text, value in rows}
    fig, ax = plt.subplots(figsize=(12, 5.2))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 5.2)
    ax.axis("off")

    def box(x: float, y: float, w: float, h: float, title: str, body: str, colour: str) -> None:
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec="#333333", lw=1))
        ax.text(x + w / 2, y + h - 0.22, title, ha="center", va="top", fontsize=10, weight="bold")
        ax.text(x + w / 2, y + h - 0.55, body, ha="center", va="top", fontsize=8.2, linespacing=1.35)

    def arrow(x1: float, y1: float, x2: float, y2: float, label: str, dy: float = 0.12) -> None:
        ax.annotate("", (x2, y2), (x1, y1), arrowprops={"arrowstyle": "-|>", "lw": 1.4, "color": "#333333"})
        ax.text((x1 + x2) / 2, (y1 + y2) / 2 + dy, label, ha="center", va="bottom", fontsize=8, color="#1f3b73")

    eps = v["events/s"][1]
    box(0.1, 1.9, 1.7, 1.6, "cameras", f"{m.cameras:,} RTSP\n5 analysed frames/s", "#eeeeee")
    worker_cores = v["worker cores"][1]
    boxes = math.ceil(worker_cores / m.cores_per_worker_box)
    box(
        2.3,
        1.6,
        2.0,
        2.2,
        "vigil worker",
        f"{boxes:,} boxes × {m.cores_per_worker_box} cores\n= {worker_cores:,.0f} cores\n"
        f"({m.cameras_per_core:g} cameras per core)\nlease heartbeats:\n{v['lease KV writes/s'][1]:,.0f} KV writes/s",
        "#dbe9f6",
    )
    nats = (
        f"3 nodes; R3 for candidates\n{v['NATS cores (R1)'][1]:.1f} cores per replica set\n"
        f"{v['NATS bytes/day per replica'][0]}\nper replica"
    )
    box(4.9, 1.6, 2.0, 2.2, "NATS JetStream", nats, "#fde9d9")
    indexer = f"{v['indexer processes'][0]}\n{v['indexer cores, steady'][0]} busy"
    box(7.5, 2.9, 1.9, 1.6, "vigil indexer", indexer, "#e2f0d9")
    box(7.5, 0.5, 1.9, 1.6, "vigil dispatcher", "webhooks, MQTT\n(retries, dead letters)", "#e2f0d9")
    pg = f"{v['PostgreSQL bytes/day, events table'][0]}\n{v['PostgreSQL cores (writes)'][1]:.1f} cores steady"
    box(10.0, 2.9, 1.9, 1.6, "PostgreSQL", pg, "#ede2f6")
    box(10.0, 0.5, 1.9, 1.6, "vigil serve", "API + UI replicas\nmedia from the bucket\nleases by one watch", "#fff2cc")
    arrow(1.8, 2.7, 2.3, 2.7, "video")
    arrow(4.3, 2.7, 4.9, 2.7, f"{eps:,.0f}\nevents/s", dy=0.15)
    arrow(6.9, 3.2, 7.5, 3.7, f"{eps:,.0f}/s", dy=0.3)
    arrow(6.9, 2.2, 7.5, 1.3, "alerts")
    arrow(9.4, 3.7, 10.0, 3.7, "COPY /\nupserts")
    arrow(10.95, 2.9, 10.95, 2.1, "reads", dy=-0.05)
    ax.text(
        6.0,
        5.05,
        f"Vigil for {m.cameras:,} cameras: each figure derived from one measured on these machines"
        " (bench/capacity_plan.py)",
        ha="center",
        va="top",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    d = Measured()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=d.cameras)
    ap.add_argument("--indexer-us", type=float, default=d.indexer_us)
    ap.add_argument("--postgres-us", type=float, default=d.postgres_us)
    ap.add_argument("--cameras-per-core", type=float, default=d.cameras_per_core)
    ap.add_argument("--plot", type=Path, help="Write the diagram (PNG) here.")
    args = ap.parse_args()
    m = Measured(
        cameras=args.cameras,
        indexer_us=args.indexer_us,
        postgres_us=args.postgres_us,
        cameras_per_core=args.cameras_per_core,
    )
    rows = plan(m, event_mix())
    print(markdown(rows))
    if args.plot:
        draw(m, rows, args.plot)
        print(f"diagram: {args.plot}")


if __name__ == "__main__":
    main()
