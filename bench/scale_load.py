"""Event load through NATS JetStream into PostgreSQL with one indexer, and lease renewals at scale.

    python bench/scale_load.py mix --db RUN/vigil.db --video-s S --cameras N   # -> bench/event_mix.json
    python bench/scale_load.py throughput --events 200000                      # sustained events/s
    python bench/scale_load.py throughput --parallel 2 --baseline-parallel 1   # the setting, A/B in one run
    python bench/scale_load.py throughput --lease-headers --baseline-ref main  # this checkout against main's src
    python bench/scale_load.py latency --rate 5000 --seconds 60                # publish→stored p50/p99
    python bench/scale_load.py drain --rate 2000 --outage-s 600                # backlog drain rate
    python bench/scale_load.py leases --cameras 60000                          # KV renewals for 60k cameras
    python bench/scale_load.py sync --events 10000                             # cost of sync_interval: always
    python bench/scale_load.py alerts --rate 30 --seconds 60                   # candidate→webhook p50/p99

Everything runs on loopback: a nats-server of its own (free ports, temporary store), a fresh
PostgreSQL database on the machine's server (dropped at the end), the real ``vigil indexer``
as a separate process, and a publisher process playing K cameras with the event mix measured
on the real clips (``bench/event_mix.json``: events per camera-second by type, and one real
payload per type used as the template; ids, times and cameras are filled in per event).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchlib import REPO_ROOT, emit_json, load_average, machine_info, note
from vigil.bus.subjects import subject_for
from vigil.core.ids import new_id
from vigil.deploy.nats_server import NatsCluster

MIX_PATH = Path(__file__).with_name("event_mix.json")
PG_ADMIN = os.environ.get("VIGIL_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
VIGIL = str(REPO_ROOT / ".venv" / "bin" / "vigil")


# -- the event mix ------------------------------------------------------------------------


def measure_mix(db: Path, video_s: float, cameras: int) -> dict[str, Any]:
    """Events per camera-second by type, and one stored payload per type, from a real run."""
    con = sqlite3.connect(db)
    counts = dict(con.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    templates = {}
    for (etype,) in con.execute("SELECT DISTINCT type FROM events"):
        row = con.execute("SELECT payload FROM events WHERE type = ? LIMIT 1 OFFSET 3", (etype,)).fetchone()
        row = row or con.execute("SELECT payload FROM events WHERE type = ? LIMIT 1", (etype,)).fetchone()
        templates[etype] = json.loads(row[0])
    con.close()
    camera_s = video_s
    rates = {t: n / camera_s for t, n in sorted(counts.items())}
    # Health is published every 2 s of wall time whatever the clip; a live camera's wall time
    # is its video time, so it is 0.5 per camera-second (the shared box ran the clips slower).
    rates["camera.health"] = 0.5
    # Per-run summaries come once when a stream ends (never, for a live camera); heatmaps once
    # per crowd.heatmap_interval_s (300 s by default), not once per short clip.
    for etype in rates:
        if etype.endswith("summary"):
            rates[etype] = 0.0
    if "crowd.heatmap" in rates:
        rates["crowd.heatmap"] = 1 / 300
    return {
        "source": f"vigil run of {cameras} clips ({video_s:.1f} camera-seconds of video) into {db.name}",
        "per_camera_s": rates,
        "templates": templates,
    }


BENCH_ENTRY = "bench-hotlist-1"
"""A hotlist entry the benchmark enters first: the indexer refuses candidates for unknown entries."""


def _candidate_template() -> dict[str, Any]:
    from vigil.events import CandidateRaised

    return CandidateRaised(
        camera_id="cam",
        occurred_at=datetime.now(UTC),
        kind="plate",
        list_entry_id=BENCH_ENTRY,
        track_id="cam-run-1",
        score=0.91,
        observed="AB12CDE",
    ).model_dump(mode="json")


def _enter_bench_entry(db_url: str) -> None:
    from datetime import timedelta

    from vigil.core.accountability import Authorisation
    from vigil.store import Store
    from vigil.store.plates import NewHotlistEntry

    auth = Authorisation("benchmark", "benchmark", "benchmark", datetime.now(UTC) + timedelta(days=1))
    with Store.open(db_url) as store:
        store.plates.add_entries([NewHotlistEntry("AB12CDE", auth, entry_id=BENCH_ENTRY)], max_days=2)


class EventFactory:
    """Events of the measured mix as JSON bytes, with fresh ids, times and camera ids."""

    def __init__(self, mix: dict[str, Any], candidate_rate: float) -> None:
        self.rates = dict(mix["per_camera_s"])
        self.templates = dict(mix["templates"])
        if "candidate.raised" not in self.templates:
            self.templates["candidate.raised"] = _candidate_template()
        self.rates["candidate.raised"] = candidate_rate
        self.types = sorted(self.rates)
        total = sum(self.rates.values())
        self.weights = [self.rates[t] / total for t in self.types]
        self.per_camera_s = total

    def make(self, etype: str, camera: str, when: datetime) -> tuple[str, str, bytes]:
        payload = dict(self.templates[etype])
        payload["event_id"] = new_id()
        payload["camera_id"] = camera
        payload["occurred_at"] = when.isoformat()
        if "track_id" in payload and payload["track_id"] is not None:
            payload["track_id"] = f"{camera}-{payload['event_id'][-12:]}"
        return payload["event_id"], subject_for(etype, camera), json.dumps(payload, separators=(",", ":")).encode()


# -- processes ------------------------------------------------------------------------------


def _publisher(
    urls: list[str], mix: dict[str, Any], cameras: int, rate: float, total: int, out: Any, lease_headers: bool = False
) -> None:
    """Publish ``total`` events (``rate`` per second, 0: as fast as acks allow); report to ``out``.

    ``lease_headers``: every event also carries the four headers a leased worker stamps
    (``workers/scale_worker.py``; epoch 1 for every camera), so the indexer parses five headers
    per message and runs its epoch fence, as for a real worker's events.
    """
    import nats

    from vigil.bus.leases import EPOCH_HEADER, PUBLISHED_HEADER, SINCE_HEADER, WORKER_HEADER

    factory = EventFactory(mix, candidate_rate=0.0005)
    rng = random.Random(7)

    async def main() -> None:
        nc = await nats.connect(servers=urls, max_reconnect_attempts=-1)
        js = nc.jetstream(publish_async_max_pending=4000)
        started = time.perf_counter()
        pending: list[asyncio.Future[Any]] = []
        acked = 0
        since = f"{time.time():.6f}"
        for i in range(total):
            if rate > 0:
                due = started + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            etype = rng.choices(factory.types, factory.weights)[0]
            eid, subject, data = factory.make(etype, f"cam-{rng.randrange(cameras):05d}", datetime.now(UTC))
            headers = {"Nats-Msg-Id": eid}
            if lease_headers:
                headers[EPOCH_HEADER] = "1"
                headers[SINCE_HEADER] = since
                headers[WORKER_HEADER] = "bench-worker"
                headers[PUBLISHED_HEADER] = f"{time.time():.6f}"
            pending.append(await js.publish_async(subject, data, headers=headers))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                acked += len(pending)
                pending.clear()
        await asyncio.gather(*pending)
        acked += len(pending)
        wall = time.perf_counter() - started
        await nc.close()
        out.put({"published": acked, "publish_s": wall})

    asyncio.run(main())


def _start_indexer(
    workdir: Path,
    urls: tuple[str, ...],
    db_url: str,
    batch: int,
    src: Path | None = None,
    parallel: int | None = None,
) -> subprocess.Popen[bytes]:
    """The real ``vigil indexer``; ``src``: run another checkout's ``src`` (the baseline) instead.

    ``parallel``: ``scale.indexer_parallel`` (None: the checkout's default; older ones lack it).
    """
    cfg = workdir / "indexer.yaml"
    servers = ", ".join(f'"{u}"' for u in urls)
    extra = f"  indexer_parallel: {parallel}\n" if parallel is not None else ""
    cfg.write_text(f"scale:\n  indexer_batch: {batch}\n{extra}  nats:\n    servers: [{servers}]\n")
    env = {**os.environ, "VIGIL_STORE_URL": db_url, "VIGIL_DATA_DIR": str(workdir / "data")}
    cmd = [VIGIL]
    if src is not None:  # PYTHONPATH comes before the editable install of this checkout
        env["PYTHONPATH"] = str(src)
        cmd = [sys.executable, "-c", "import sys; from vigil.cli.main import main; sys.exit(main())"]
    log = open(workdir / "indexer.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([*cmd, "-v", "indexer", "-c", str(cfg)], env=env, stdout=log, stderr=subprocess.STDOUT)


def _stored(db_dsn: str) -> int:
    with psycopg.connect(db_dsn) as c:
        row = c.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


class Env:
    """A nats-server, a fresh database and a work directory for one benchmark run."""

    def __init__(self, nodes: int = 1, sync_always: bool = False) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-scale-")
        self.workdir = Path(self.tmp.name)
        self.nats = NatsCluster.plan(self.workdir / "nats", nodes, sync_always=sync_always).start()
        self.db_name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg.connect(PG_ADMIN, autocommit=True)
        self.admin.execute(f"CREATE DATABASE {self.db_name}")
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.db_name}"
        self.db_url = self.dsn.replace("postgresql://", "postgresql+psycopg://")
        self.indexer: subprocess.Popen[bytes] | None = None
        self.entry_added = False

    def start_indexer(self, batch: int = 2000, src: Path | None = None, parallel: int | None = None) -> None:
        self.indexer = _start_indexer(self.workdir, self.nats.urls, self.db_url, batch, src, parallel)

    def stop_indexer(self) -> None:
        if self.indexer is not None:
            self.indexer.terminate()
            self.indexer.wait(30)
            self.indexer = None

    def wait_ready(self, timeout_s: float = 300) -> None:
        """Until the indexer created the schema and its consumers."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                _stored(self.dsn)
                log = (self.workdir / "indexer.log").read_text(errors="replace")
                if "indexer: consuming" in log:
                    if not self.entry_added:
                        _enter_bench_entry(self.db_url)
                        self.entry_added = True
                    return
            except psycopg.Error:
                pass
            time.sleep(0.2)
        raise RuntimeError("indexer did not start: " + (self.workdir / "indexer.log").read_text()[-2000:])

    def wait_consuming(self, log_offset: int, timeout_s: float = 300) -> None:
        """Until the indexer started last logged that it consumes (after ``log_offset`` of its log)."""
        deadline = time.monotonic() + timeout_s
        log = self.workdir / "indexer.log"
        while time.monotonic() < deadline:
            with log.open("rb") as f:
                f.seek(log_offset)
                if b"indexer: consuming" in f.read():
                    return
            time.sleep(0.05)
        raise RuntimeError("indexer did not start: " + log.read_text()[-2000:])

    def close(self) -> None:
        self.stop_indexer()
        self.nats.stop()
        self.admin.execute(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
        self.admin.close()
        self.tmp.cleanup()


def _publish(
    env: Env, mix: dict[str, Any], *, cameras: int, rate: float, total: int, lease_headers: bool = False
) -> mp.Process:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    args = (list(env.nats.urls), mix, cameras, rate, total, q, lease_headers)
    proc = ctx.Process(target=_publisher, args=args)
    proc.start()
    proc.result_queue = q  # type: ignore[attr-defined]
    return proc


def _wait_stored(env: Env, target: int, timeout_s: float) -> tuple[float, list[tuple[float, int]]]:
    started = time.monotonic()
    samples = []
    while time.monotonic() - started < timeout_s:
        n = _stored(env.dsn)
        samples.append((time.monotonic() - started, n))
        if n >= target:
            break
        time.sleep(0.5)
    return time.monotonic() - started, samples


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (and its waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


def _pg_backends(env: Env) -> list[int]:
    rows = env.admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (env.db_name,)).fetchall()
    return [int(r[0]) for r in rows]


class CpuMeter:
    """CPU seconds used by the indexer, its PostgreSQL backends and the NATS servers.

    On a shared machine wall-clock rates say more about the neighbours than about Vigil; CPU
    seconds per event do not, and they are what the capacity plan multiplies.
    """

    def __init__(self, env: Env) -> None:
        self.env = env
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        env = self.env
        return {
            "indexer": _cpu_s(env.indexer.pid) if env.indexer else 0.0,
            "postgres": sum(_cpu_s(p) for p in _pg_backends(env)),
            "nats": sum(_cpu_s(n.process.pid) for n in env.nats.nodes if n.process),
        }

    def used(self) -> dict[str, float]:
        end = self._read()
        return {k: round(end[k] - self.start[k], 2) for k in end}


def _bytes_per_row(env: Env) -> dict[str, float]:
    with psycopg.connect(env.dsn) as c:
        rows = c.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        out = {}
        for table in ("events", "tracks"):
            # A partitioned table's size is its partitions' (the parent itself holds nothing).
            size = c.execute(
                "SELECT coalesce((SELECT sum(pg_total_relation_size(relid))::bigint"
                " FROM pg_partition_tree(%s::regclass)), pg_total_relation_size(%s::regclass))",
                (table, table),
            ).fetchone()[0]  # type: ignore[index]
            n = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            out[table] = round(size / max(n, 1), 1)
        out["events_rows"] = rows
    return out


# -- modes ----------------------------------------------------------------------------------


def throughput(args: argparse.Namespace, mix: dict[str, Any]) -> dict[str, Any]:
    """A backlog of ``--events``, then one indexer stores it: events/s and CPU per event.

    With ``--baseline-src DIR`` (another checkout's ``src``, e.g. ``git archive`` of an older
    commit) both indexers store the same kind of backlog, alternating, ``--rounds`` times each,
    and the ratio of their CPU per event is reported: on a shared machine only a comparison
    inside one run means anything. ``--baseline-parallel N`` compares this checkout at
    ``scale.indexer_parallel`` N (the baseline) against ``--parallel`` (or its default), and
    ``--baseline-batch N`` at batch N against ``--batch``.
    """
    if args.baseline_ref is not None:
        if args.baseline_src is not None:
            raise SystemExit("give --baseline-src or --baseline-ref, not both")
        args.baseline_src = _archived_src(args.baseline_ref)
    if args.baseline_src is None and args.baseline_parallel is None and args.baseline_batch is None:
        return _throughput_once(args, mix, None, args.parallel)
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
    for _ in range(args.rounds):
        for which, src in (("baseline", args.baseline_src), ("this", None)):
            parallel = args.parallel if which == "this" else args.baseline_parallel
            batch = args.batch if which == "this" or args.baseline_batch is None else args.baseline_batch
            one = argparse.Namespace(**{**vars(args), "batch": batch})
            runs[which].append(_throughput_once(one, mix, src, parallel))
            note(f"{which}: {json.dumps(runs[which][-1])}")

    def best(key: str, which: str) -> float:
        return max(float(r[key]) for r in runs[which])

    return {
        "baseline_src": str(args.baseline_src),
        "baseline_ref": args.baseline_ref,
        "lease_headers": args.lease_headers,
        "parallel": {"baseline": args.baseline_parallel, "this": args.parallel},
        "batch": {"baseline": args.baseline_batch or args.batch, "this": args.batch},
        "runs": runs,
        "best_events_per_cpu_s": {w: best("events_per_cpu_s", w) for w in runs},
        "best_indexer_events_per_s_wall": {w: best("indexer_events_per_s_wall", w) for w in runs},
        "indexer_cpu_ms_per_1000_events_min": {
            w: min(r["cpu_ms_per_1000_events"]["indexer"] for r in runs[w]) for w in runs
        },
        "this_over_baseline_indexer_cpu_per_event_min": round(
            min(r["cpu_ms_per_1000_events"]["indexer"] for r in runs["this"])
            / min(r["cpu_ms_per_1000_events"]["indexer"] for r in runs["baseline"]),
            3,
        ),
        "this_over_baseline_events_per_cpu_s": round(
            best("events_per_cpu_s", "this") / best("events_per_cpu_s", "baseline"), 2
        ),
        "this_over_baseline_wall": round(
            best("indexer_events_per_s_wall", "this") / best("indexer_events_per_s_wall", "baseline"), 2
        ),
    }


def _archived_src(ref: str) -> Path:
    """``src/`` of git ``ref`` of this repository, unpacked into a temporary directory."""
    out = Path(tempfile.mkdtemp(prefix="vigil-baseline-"))
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref, "src"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline-ref {ref}: git archive failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    note(f"baseline: {ref} ({_rev(ref)}) unpacked into {out}/src")
    return out / "src"


def _rev(ref: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", ref], check=False, capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def _throughput_once(
    args: argparse.Namespace, mix: dict[str, Any], src: Path | None, parallel: int | None = None
) -> dict[str, Any]:
    env = Env()
    try:
        env.start_indexer(args.batch, src, parallel)
        env.wait_ready()
        env.stop_indexer()  # publish first, so the publisher does not compete for the 2 cores
        pub = _publish(env, mix, cameras=args.cameras, rate=0, total=args.events, lease_headers=args.lease_headers)
        pub.join()
        published = pub.result_queue.get()  # type: ignore[attr-defined]
        load = load_average()
        log_size = (env.workdir / "indexer.log").stat().st_size
        t_start = time.monotonic()
        env.start_indexer(args.batch, src, parallel)
        # Measured from the moment this process consumes, not from its start: the start (the
        # CLI's imports, the schema check, binding the consumers) costs seconds of CPU, which
        # an earlier version of this benchmark counted into the per-event figure (0.5-3 s of
        # CPU: up to 50 us per event of a 60,000 backlog). It is reported on its own.
        env.wait_consuming(log_size)
        meter = CpuMeter(env)
        startup_cpu = meter.start["indexer"]
        before = _stored(env.dsn)
        t0 = time.monotonic()
        wall, _ = _wait_stored(env, args.events, timeout_s=args.timeout)
        cpu = meter.used()
        stored = _stored(env.dsn)
        measured = max(stored - before, 1)
        total_cpu = sum(cpu.values())
        return {
            "mode": "throughput",
            "events": args.events,
            "publish_events_per_s_wall": round(published["published"] / published["publish_s"]),
            "stored": stored,
            "stored_before_measuring": before,
            "indexer_events_per_s_wall": round(measured / max(time.monotonic() - t0, 1e-9)),
            "indexer_events_per_s_wall_with_start": round(stored / max(time.monotonic() - t_start, 1e-9)),
            "wall_s": round(wall, 1),
            "load_average": [load, load_average()],
            "indexer_startup_cpu_s": round(startup_cpu, 2),
            "cpu_s": cpu,
            "cpu_ms_per_1000_events": {k: round(v / measured * 1e6, 1) for k, v in cpu.items()},
            "events_per_cpu_s": round(measured / max(total_cpu, 1e-9)),
            "bytes_per_row": _bytes_per_row(env),
        }
    finally:
        env.close()


def latency(args: argparse.Namespace, mix: dict[str, Any]) -> dict[str, Any]:
    env = Env()
    try:
        env.start_indexer(args.batch, parallel=args.parallel)
        env.wait_ready()
        total = int(args.rate * args.seconds)
        pub = _publish(env, mix, cameras=args.cameras, rate=args.rate, total=total)
        pub.join()
        published = pub.result_queue.get()  # type: ignore[attr-defined]
        _wait_stored(env, total, timeout_s=args.timeout)
        with psycopg.connect(env.dsn) as c:
            # occurred_at is the publisher's clock at publish time; stored_at the indexer's just
            # before its insert (same machine, same clock). Skip the first 10 % (warm-up).
            rows = c.execute(
                "SELECT extract(epoch FROM stored_at - occurred_at), type FROM events ORDER BY occurred_at"
            ).fetchall()
        lat = [float(r[0]) for r in rows[len(rows) // 10 :]]
        cand = [float(r[0]) for r in rows[len(rows) // 10 :] if r[1] == "candidate.raised"]
        q = statistics.quantiles(lat, n=100)
        return {
            "mode": "latency",
            "rate": args.rate,
            "indexer_parallel": args.parallel,
            "achieved_publish_rate": round(published["published"] / published["publish_s"]),
            "stored": len(rows),
            "p50_s": round(q[49], 3),
            "p99_s": round(q[98], 3),
            "max_s": round(max(lat), 3),
            "candidates": len(cand),
            "candidate_p99_s": round(max(cand), 3) if cand else None,
        }
    finally:
        env.close()


def alerts(args: argparse.Namespace, _mix: dict[str, Any]) -> dict[str, Any]:
    """Candidate published -> webhook received, through `vigil indexer` and `vigil dispatcher`."""
    import http.server
    import threading

    from vigil.bus.connection import NatsConnection, NatsSettings
    from vigil.bus.jetstream import JetStreamBus, StreamOptions
    from vigil.events import CandidateRaised

    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                arrivals.setdefault(self.headers.get("Idempotency-Key", ""), time.time())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = Env()
    dispatcher = None
    try:
        env.start_indexer(args.batch)
        env.wait_ready()
        cfg = env.workdir / "dispatcher.yaml"
        servers = ", ".join(f'"{u}"' for u in env.nats.urls)
        hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
        cfg.write_text(
            f"bus: {{type: nats}}\nscale:\n  dispatcher_parallel: {args.parallel}\n  nats:\n    servers: [{servers}]\n"
            f"governance:\n  alerts:\n    webhooks: [{{url: '{hook}'}}]\n"
        )
        denv = {**os.environ, "VIGIL_STORE_URL": env.db_url, "VIGIL_DATA_DIR": str(env.workdir / "data")}
        dlog = open(env.workdir / "dispatcher.log", "ab")  # noqa: SIM115 - closed with the process
        dispatcher = subprocess.Popen(
            [VIGIL, "-v", "dispatcher", "-c", str(cfg)], env=denv, stdout=dlog, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while "delivering alerts" not in (env.workdir / "dispatcher.log").read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError("dispatcher did not start")
            time.sleep(0.2)
        conn = NatsConnection(NatsSettings(servers=env.nats.urls))
        bus = JetStreamBus(conn, streams=StreamOptions())
        total = int(args.rate * args.seconds)
        sent: dict[str, float] = {}
        started = time.monotonic()
        for i in range(total):
            delay = started + i / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = datetime.now(UTC)
            c = CandidateRaised(
                camera_id=f"cam-{i % args.cameras}",
                occurred_at=now,
                kind="plate",
                list_entry_id=BENCH_ENTRY,
                score=0.91,
                observed="AB12CDE",
            )
            sent[c.event_id] = now.timestamp()
            bus.publish(c)
        bus.flush(60)
        bus.close(10)
        conn.close()
        deadline = time.monotonic() + args.timeout
        while len(arrivals) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        lat = sorted(arrivals[k] - sent[k] for k in sent if k in arrivals)
        warm = lat[len(lat) // 10 :] if len(lat) > 20 else lat
        q = statistics.quantiles(warm, n=100)
        return {
            "mode": "alerts",
            "rate": args.rate,
            "parallel": args.parallel,
            "delivered_per_s": round(len(arrivals) / (max(arrivals.values()) - min(sent.values())), 1),
            "candidates": total,
            "delivered": len(arrivals),
            "p50_s": round(q[49], 3),
            "p99_s": round(q[98], 3),
            "max_s": round(max(lat), 3),
        }
    finally:
        if dispatcher is not None:
            dispatcher.terminate()
            dispatcher.wait(30)
        server.shutdown()
        env.close()


def drain(args: argparse.Namespace, mix: dict[str, Any]) -> dict[str, Any]:
    env = Env()
    try:
        env.start_indexer(args.batch)
        env.wait_ready()
        env.stop_indexer()  # the outage: events keep coming, nobody stores them
        total = int(args.rate * args.outage_s)
        pub = _publish(env, mix, cameras=args.cameras, rate=args.rate, total=total)
        pub.join()
        published = pub.result_queue.get()  # type: ignore[attr-defined]
        env.start_indexer(args.batch)
        t0 = time.monotonic()
        wall, _samples = _wait_stored(env, total, timeout_s=args.timeout)
        return {
            "mode": "drain",
            "steady_rate": args.rate,
            "outage_s": args.outage_s,
            "backlog": published["published"],
            "drain_s": round(wall, 1),
            "drain_events_per_s": round(_stored(env.dsn) / max(time.monotonic() - t0, 1e-9)),
            "drain_over_steady": round(_stored(env.dsn) / max(wall, 1e-9) / args.rate, 2),
        }
    finally:
        env.close()


def leases(args: argparse.Namespace, _mix: dict[str, Any]) -> dict[str, Any]:
    from vigil.bus.connection import NatsConnection, NatsSettings
    from vigil.bus.leases import LeaseBench

    env = Env()
    try:
        conn = NatsConnection(NatsSettings(servers=env.nats.urls))
        try:
            result = LeaseBench(conn, n=args.cameras, workers=args.workers).run(rounds=args.rounds)
        finally:
            conn.close()
        return {"mode": "leases", "cameras": args.cameras, **result}
    finally:
        env.close()


def sync_cost(args: argparse.Namespace, mix: dict[str, Any]) -> dict[str, Any]:
    """Publish rate with JetStream's default (fsync every 2 min) against ``sync_interval: always``.

    Both servers run side by side and are measured alternately (A, B, A, B) in one run, so the
    machine's load affects both alike; the ratio is the figure to use.
    """
    from vigil.bus.connection import NatsConnection, NatsSettings
    from vigil.bus.jetstream import JetStreamBus
    from vigil.events import parse_event

    factory = EventFactory(mix, candidate_rate=0.0005)
    rng = random.Random(3)
    results: dict[str, list[float]] = {"default": [], "sync_always": []}
    with tempfile.TemporaryDirectory(prefix="vigil-sync-") as tmp:
        clusters = {
            "default": NatsCluster.plan(Path(tmp) / "a", 1),
            "sync_always": NatsCluster.plan(Path(tmp) / "b", 1, sync_always=True),
        }
        try:
            for cluster in clusters.values():
                cluster.start()  # nats-server < 2.10 refuses `sync_interval` and exits here
            conns = {k: NatsConnection(NatsSettings(servers=c.urls)) for k, c in clusters.items()}
            buses = {k: JetStreamBus(conn) for k, conn in conns.items()}
            for _ in range(args.rounds):
                for name, bus in buses.items():
                    events = []
                    for i in range(args.events):
                        etype = rng.choices(factory.types, factory.weights)[0]
                        events.append(parse_event(factory.make(etype, f"cam-{i % 500}", datetime.now(UTC))[2]))
                    started = time.perf_counter()
                    for e in events:
                        bus.publish(e)
                    assert bus.flush(300)
                    results[name].append(args.events / (time.perf_counter() - started))
            for name, bus in buses.items():
                bus.close(5)
                conns[name].close()
        finally:
            for c in clusters.values():
                c.stop()
    best = {k: round(max(v)) for k, v in results.items()}
    return {
        "mode": "sync",
        "events_per_round": args.events,
        "acked_per_s": {k: [round(x) for x in v] for k, v in results.items()},
        "best_acked_per_s": best,
        "sync_always_over_default": round(best["sync_always"] / best["default"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("mix")
    m.add_argument("--db", type=Path, required=True)
    m.add_argument("--video-s", type=float, required=True, help="total seconds of video over all clips")
    m.add_argument("--cameras", type=int, required=True)
    for name in ("throughput", "latency", "drain", "leases", "sync", "alerts"):
        p = sub.add_parser(name)
        p.add_argument("--cameras", type=int, default=1000)
        p.add_argument("--batch", type=int, default=2000)
        p.add_argument("--timeout", type=float, default=900)
        p.add_argument("--json", action="store_true")
        if name == "throughput":
            p.add_argument("--events", type=int, default=200_000)
            p.add_argument("--baseline-src", type=Path, help="another checkout's src/ to compare against")
            p.add_argument("--baseline-ref", help="compare against this git ref's src/ (git archive into a temp dir)")
            p.add_argument(
                "--lease-headers",
                action="store_true",
                help="events carry a leased worker's four headers (the indexer parses and fences them)",
            )
            p.add_argument("--parallel", type=int, help="scale.indexer_parallel (default: the checkout's)")
            p.add_argument(
                "--baseline-parallel", type=int, help="compare against this scale.indexer_parallel (same checkout)"
            )
            p.add_argument("--baseline-batch", type=int, help="compare against this --batch (same checkout)")
        if name == "sync":
            p.add_argument("--events", type=int, default=10_000)
        if name in ("latency", "drain"):
            p.add_argument("--rate", type=float, default=5000)
        if name == "latency":
            p.add_argument("--parallel", type=int, help="scale.indexer_parallel (default: the checkout's)")
        if name == "alerts":
            p.add_argument("--rate", type=float, default=30, help="candidates/s (60,000 cameras: about 30)")
            p.add_argument("--parallel", type=int, default=4, help="scale.dispatcher_parallel")
        if name in ("latency", "alerts"):
            p.add_argument("--seconds", type=float, default=60)
        if name == "drain":
            p.add_argument("--outage-s", type=float, default=600)
        if name in ("leases", "sync", "throughput"):
            p.add_argument("--rounds", type=int, default=1 if name == "throughput" else 3)
        if name == "leases":
            p.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.mode == "mix":
        MIX_PATH.write_text(json.dumps(measure_mix(args.db, args.video_s, args.cameras), indent=1) + "\n")
        note(f"wrote {MIX_PATH}")
        return 0
    mix = json.loads(MIX_PATH.read_text())
    load_before = load_average()
    result = {"mode": args.mode}
    modes = {
        "leases": leases,
        "throughput": throughput,
        "latency": latency,
        "drain": drain,
        "sync": sync_cost,
        "alerts": alerts,
    }
    result.update(modes[args.mode](args, mix))
    result["machine"] = machine_info()
    result["load_average_before"] = load_before
    result["load_average_after"] = load_average()
    result["note"] = "2-core box shared with ~7 other engineers; services on loopback"
    print(json.dumps(result, indent=1) if not args.json else "")
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
