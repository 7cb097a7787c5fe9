"""How long a person waits before a ``vigil`` command starts doing anything.

Runs ``vigil hotlist list --help`` (parses the whole CLI, touches no data) and, as the baseline,
a bare ``python -c pass``, interleaved N times each in fresh processes; prints the medians,
their ratio and the command's own share (median minus the baseline). Prints JSON on the last line.

    .venv/bin/python bench/cli_startup.py [N]     # default 7
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

COMMAND = [sys.executable, "-m", "vigil.cli.main", "hotlist", "list", "--help"]
BASELINE = [sys.executable, "-c", "pass"]


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - t0


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    cli: list[float] = []
    base: list[float] = []
    for _ in range(n):
        base.append(_wall(BASELINE))
        cli.append(_wall(COMMAND))
    result = {
        "n": n,
        "cli_median_s": round(statistics.median(cli), 3),
        "baseline_median_s": round(statistics.median(base), 3),
        "ratio_to_baseline": round(statistics.median(cli) / statistics.median(base), 1),
        "cli_own_s": round(statistics.median(cli) - statistics.median(base), 3),
    }
    print(f"vigil hotlist list --help: {result['cli_median_s']} s median ({result['cli_own_s']} s of it Vigil's)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
