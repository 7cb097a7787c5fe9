"""The live grid with many cameras in a real browser: page weight, time to the first frame and
to a frame in every tile, and the frames per second each tile then shows.

Usage: python bench/live_grid.py [--cameras 16] [--fps 5] [--seconds 15] [--json]

The web side only: each camera's frames are the bundled people clip (staggered per camera)
published into the in-process frame source at ``--fps``, as the camera workers of
``vigil run --serve`` would, without running the detector (its cost is bench/pipeline.py's).
A server on a loopback port serves the UI; Debian's Chromium signs in as a viewer (frames
redacted by the live profile, at the width each tile asks for) and as a supervisor (frames
clear), opens ``/live`` and counts.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import uvicorn

from benchlib import SAMPLES, emit_json, load_average, machine_info, models_dir, note, out_console, quiet_logs
from vigil.config import CameraConfig, VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.core.clock import utcnow
from vigil.core.detections import Detections
from vigil.core.frame import Frame
from vigil.http.context import AppContext
from vigil.server import create_app, server_config
from vigil.store.facade import Store
from vigil.workers.live_frames import LiveFrames
from vigil.workers.pipeline import FrameResult

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PASSWORD = "correct horse battery"


def _clip_frames(limit: int = 150) -> list[Any]:
    video = cv2.VideoCapture(str(SAMPLES / "people.mp4"))
    frames = []
    while len(frames) < limit:
        ok, image = video.read()
        if not ok:
            break
        frames.append(image)
    video.release()
    return frames


def _publish(frames: LiveFrames, cameras: list[str], fps: float, stop: threading.Event) -> None:
    images = _clip_frames()
    nobody = Detections()
    i = 0
    while not stop.wait(1 / fps):
        for k, cam in enumerate(cameras):
            image = images[(i + 7 * k) % len(images)]
            frames.publish(Frame(cam, i, i / fps, utcnow(), image), FrameResult(detections=nobody, tracked=nobody))
        i += 1


def _measure(browser: Any, base: str, user: str, cameras: list[str], seconds: float) -> dict[str, Any]:
    context = browser.new_context(base_url=base, viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    response = page.goto("/login")
    assert response is not None and response.ok, (response and response.status, page.content()[:500])
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    started = time.monotonic()
    page.goto("/live")
    count = "() => [...document.querySelectorAll('img[data-live]')].map(i => Number(i.dataset.frames))"
    first = every = None
    while time.monotonic() - started < 60:
        shown = page.evaluate(count)
        if first is None and any(shown):
            first = time.monotonic() - started
        if all(shown):
            every = time.monotonic() - started
            break
        page.wait_for_timeout(50)
    before = page.evaluate(count)
    t0 = time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    after = page.evaluate(count)
    rates = [(a - b) / (time.monotonic() - t0) for a, b in zip(after, before, strict=True)]
    weight = page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].decodedBodySize + performance"
        ".getEntriesByType('resource').filter(r => !r.name.includes('frame.jpg'))"
        ".reduce((sum, r) => sum + r.decodedBodySize, 0)"
    )
    frame_sizes = page.evaluate(
        "() => performance.getEntriesByType('resource').filter(r => r.name.includes('frame.jpg'))"
        ".map(r => r.decodedBodySize)"
    )
    context.close()
    assert len(rates) == len(cameras)
    return {
        "user": user,
        "first_frame_s": None if first is None else round(first, 2),
        "every_tile_s": None if every is None else round(every, 2),
        "fps_per_tile_median": round(statistics.median(rates), 2),
        "fps_per_tile_min": round(min(rates), 2),
        "fps_all_tiles": round(sum(rates), 1),
        "page_kib": round(weight / 1024, 1),
        "frame_kib_median": round(statistics.median(frame_sizes) / 1024, 1) if frame_sizes else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--fps", type=float, default=5.0, help="frames published per camera per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long each role watches")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    from playwright.sync_api import sync_playwright

    cameras = [f"cam-{i:02d}" for i in range(1, args.cameras + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = VigilConfig(
            data_dir=Path(tmp) / "data",
            models_dir=models_dir(),
            cameras=tuple(CameraConfig(id=c, name=f"Camera {c[-2:]}", url=f"rtsp://127.0.0.1:1/{c}") for c in cameras),
            governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
        )
        cfg.data_dir.mkdir(parents=True)
        frames = LiveFrames()
        stop = threading.Event()
        publisher = threading.Thread(target=_publish, args=(frames, cameras, args.fps, stop), daemon=True)
        publisher.start()
        with Store.open(cfg.store_url) as store:
            ctx = AppContext.build(cfg, store, frames=frames)
            ctx.auth.add_user("viewer-1", PASSWORD, "viewer", None, actor="bench")
            ctx.auth.add_user("supervisor-1", PASSWORD, "supervisor", None, actor="bench")
            server = uvicorn.Server(server_config(create_app(ctx), "127.0.0.1", 0, timeout_graceful_shutdown=1))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            base = f"http://127.0.0.1:{port}"
            results = []
            try:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    for user in ("viewer-1", "supervisor-1"):
                        note(f"{user}: watching {len(cameras)} cameras for {args.seconds:.0f} s")
                        results.append(_measure(browser, base, user, cameras, args.seconds))
                    browser.close()
            finally:
                stop.set()
                server.should_exit = True
                thread.join(10)
    load = load_average()
    out_console.print(f"{len(cameras)} cameras at {args.fps:g} frames/s each; load average {load[0]:.1f}")
    for r in results:
        out_console.print(
            f"{r['user']:>13}: first frame {r['first_frame_s']} s, every tile {r['every_tile_s']} s; "
            f"{r['fps_per_tile_median']} frames/s per tile (min {r['fps_per_tile_min']}, "
            f"{r['fps_all_tiles']} in all); page {r['page_kib']} KiB, frame {r['frame_kib_median']} KiB"
        )
    if args.json:
        emit_json({"cameras": len(cameras), "fps": args.fps, "results": results, "machine": machine_info()})


if __name__ == "__main__":
    main()
