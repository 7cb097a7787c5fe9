"""1:N watchlist search latency (in-memory numpy gallery) at 1k, 100k and 1M entries.

.venv/bin/python bench/faces_search.py      # prints JSON: median and p95 ms per probe
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from vigil.recognise import Gallery, GalleryEntry


def bench(n: int, probes: int = 50, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 128), dtype=np.float32)
    expires = datetime.now(UTC) + timedelta(days=1)
    gallery = Gallery([GalleryEntry(f"s{i}", "", vectors[i], expires) for i in range(n)])
    now = datetime.now(UTC)
    queries = rng.standard_normal((probes, 128), dtype=np.float32)
    gallery.match(queries[0], 0.5, now)  # warm-up
    times = []
    for q in queries:
        start = time.perf_counter()
        gallery.match(q, 0.5, now)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "entries": n,
        "min_ms": round(min(times), 3),
        "median_ms": round(float(np.median(times)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
    }


if __name__ == "__main__":
    print(json.dumps([bench(n) for n in (1_000, 100_000, 1_000_000)]))
