"""PostgreSQL's CPU per event for the pieces of the indexer's bulk store (``store/bulk.py``).

    python bench/pg_store_cost.py --rounds 8

One PostgreSQL backend, a fresh database with Vigil's schema (partitioned ``events``), batches
of 2,000 events of the measured mix (``bench/event_mix.json``, as ``scale_load.py`` makes
them), each with fresh ids. Per batch, alternating, it times the backend's CPU (from
``/proc/<pid>/schedstat``: nanoseconds, where ``/proc/<pid>/stat``'s 10 ms ticks are 5 µs per
event at this batch size) for:

- ``copy``: ``COPY`` of the payloads into the ``jsonb`` staging table, and the commit;
- ``events``: the same, then only the ``events`` insert of the store statement;
- ``whole``: the same, then the whole statement (tracks, health and crowd folds included).

So ``events - copy`` is the insert (heap, four indexes, partition routing, WAL) and
``whole - events`` the folds. PostgreSQL must run on this machine (its backends' ``/proc``).
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchlib import emit_json, load_average, machine_info
from scale_load import MIX_PATH, PG_ADMIN, EventFactory
from vigil.events import parse_event
from vigil.store import Store, bulk

BATCH = 2000


def _cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _block(factory: EventFactory, rng: random.Random) -> str:
    rows = []
    for _ in range(BATCH):
        etype = rng.choices(factory.types, factory.weights)[0]
        _, _, data = factory.make(etype, f"cam-{rng.randrange(1000):05d}", datetime.now(UTC))
        rows.append(parse_event(data).model_dump_json())
    return "\n".join(rows).replace("\\", "\\\\") + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    factory = EventFactory(json.loads(MIX_PATH.read_text()), candidate_rate=0.0)
    rng = random.Random(7)
    statements = {
        "copy": "SELECT count(*) FROM vigil_payload_stage WHERE %s IS NOT NULL",
        "events": bulk._STORE_PARTITIONED.split("), obs AS")[0] + ")\nSELECT event_id FROM new",
        "whole": bulk._STORE_PARTITIONED,
    }
    name = f"vigil_pgcost_{uuid.uuid4().hex[:8]}"
    load = load_average()
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        Store.open(url.replace("postgresql://", "postgresql+psycopg://")).close()  # schema, today's partitions
        blocks = [_block(factory, rng) for _ in range(args.rounds)]
        us: dict[str, list[float]] = {k: [] for k in statements}
        with psycopg.connect(url) as c:
            c.execute(bulk._STAGE_DDL)
            c.commit()
            pid = c.info.backend_pid
            for block in blocks:
                for key, sql in statements.items():
                    data = block.replace('"event_id":"', f'"event_id":"{uuid.uuid4().hex[:8]}')
                    start = _cpu_ns(pid)
                    with c.cursor().copy("COPY vigil_payload_stage (payload) FROM STDIN") as copy:
                        copy.write(data.encode())
                    c.execute(sql, (datetime.now(UTC),)).fetchall()
                    c.commit()
                    us[key].append(round((_cpu_ns(pid) - start) / 1e3 / BATCH, 2))
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    best = {k: min(v) for k, v in us.items()}
    emit_json(
        {
            "batch": BATCH,
            "backend_cpu_us_per_event": us,
            "min": best,
            "insert_us": round(best["events"] - best["copy"], 2),
            "folds_us": round(best["whole"] - best["events"], 2),
            "load_average": [load, load_average()],
            "machine": machine_info(),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
