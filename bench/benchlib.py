"""Shared plumbing for the benchmark scripts: paths, config, CPU pinning, timing, output.

Not a test helper: the scripts in ``bench/`` measure speed, memory and accuracy on real
data and print a table (and, with ``--json``, one JSON object as the last line of stdout).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import resource
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vigil.config import DetectorConfig, VigilConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "samples"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DOCS_IMG = REPO_ROOT / "docs" / "img"

# Progress and notes go to stderr so that stdout stays a table plus, with --json, one JSON line.
err_console = Console(stderr=True)
out_console = Console(width=None if sys.stdout.isatty() else 200)


def models_dir() -> Path:
    """Installed models: ``VIGIL_MODELS_DIR`` if set, else ``vigil-data/models`` in the repo."""
    env = os.environ.get("VIGIL_MODELS_DIR")
    return Path(env) if env else REPO_ROOT / "vigil-data" / "models"


def quiet_logs() -> None:
    """Keep Vigil's per-camera info lines out of the benchmark output."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def bench_config(
    data_dir: Path,
    *,
    threads: int,
    confidence: float | None = None,
    input_size: int | None = None,
) -> VigilConfig:
    """A default config with its data in ``data_dir`` (a temp dir) and the given detector knobs."""
    det: dict[str, Any] = {"threads": threads}
    if confidence is not None:
        det["confidence"] = confidence
    if input_size is not None:
        det["input_size"] = input_size
    return VigilConfig(data_dir=data_dir, models_dir=models_dir(), detector=DetectorConfig(**det))


def cpu_s() -> float:
    """User + system CPU seconds used by this process so far (all threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages (other engineers share the machine)."""
    return os.getloadavg()


def machine_info() -> dict[str, Any]:
    import cv2
    import onnxruntime as ort

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "onnxruntime": ort.__version__,
        "load_avg_at_start": [round(x, 2) for x in load_average()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass(frozen=True, slots=True)
class Pinning:
    """Which CPUs the calling thread (and the threads it starts later) may run on."""

    cpus: tuple[int, ...]
    pinned: bool


def allowed_cpus() -> tuple[int, ...]:
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return tuple(range(os.cpu_count() or 1))


@contextmanager
def pinned_to(n_cpus: int, all_cpus: Sequence[int], enabled: bool = True) -> Iterator[Pinning]:
    """Restrict the calling thread to ``n_cpus`` CPUs while inside the block.

    Linux applies affinity per thread and new threads inherit it, so every thread a
    Deployment starts inside the block (capture, worker, ONNX Runtime's pool) stays on
    those CPUs: "one core" then really means one core, decoding included.
    """
    if not enabled or not hasattr(os, "sched_setaffinity") or n_cpus >= len(all_cpus):
        yield Pinning(tuple(all_cpus), pinned=False)
        return
    chosen = tuple(all_cpus[:n_cpus])
    os.sched_setaffinity(0, chosen)
    try:
        yield Pinning(chosen, pinned=True)
    finally:
        os.sched_setaffinity(0, all_cpus)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


class Stopwatch:
    """Wall and CPU seconds of a block: ``with Stopwatch() as sw: ...; sw.wall_s, sw.cpu_s``."""

    def __enter__(self) -> Stopwatch:
        self._wall0 = time.perf_counter()
        self._cpu0 = cpu_s()
        self.wall_s = 0.0
        self.cpu_s = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall_s = time.perf_counter() - self._wall0
        self.cpu_s = cpu_s() - self._cpu0


def event_counts(data_dir: Path) -> dict[str, int]:
    """Stored events by type, read from the run's SQLite store in ``data_dir``."""
    db = data_dir / "vigil.db"
    if not db.is_file():
        return {}
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY type").fetchall()
    return {str(t): int(n) for t, n in rows}


def note(message: str) -> None:
    err_console.print(message, highlight=False)


def emit_json(result: dict[str, Any]) -> None:
    """Print ``result`` as the last line of stdout."""
    sys.stdout.flush()
    print(json.dumps(result, default=str), flush=True)


def matplotlib_pyplot() -> Any | None:
    """``matplotlib.pyplot`` with the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        note("matplotlib is not installed: no plot written (.venv/bin/pip install matplotlib)")
        return None
    return plt


def rel(path: Path) -> str:
    """``path`` relative to the repo root where possible, for tables and docs."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
