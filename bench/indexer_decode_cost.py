"""CPU per message of the indexer's consuming loop's own work: headers and event decode.

    python bench/indexer_decode_cost.py --rounds 5

One process, no server: 2,000 messages of the measured mix (``bench/event_mix.json``, fresh
ids, the five headers a leased worker's event carries), alternating rounds of

- ``headers``: nats-py's ``Client._process_headers`` as it ships (``nats_py``) and with
  ``bus/headers.py`` installed (``vigil``), the call nats-py makes for every delivered message;
- ``decode``: ``parse_event`` (pydantic-core, what the indexer runs) and, for the
  ``track.updated`` messages only, the fast path the fifth round proposed: parse the JSON in
  Python (``json``; ``orjson`` too when importable, it is not a Vigil dependency) and check by
  hand the fields the bulk store reads, then build the model without validation. Kept here as
  the evidence for not adopting it: it costs more than pydantic-core's single pass;
- ``message``: headers + ``parse_event``, old (nats-py's headers) vs new;
- ``copy``: the bulk store's ``COPY`` block of the decoded events, as before
  (``model_dump_json`` per event, joined as ``str``, encoded) and as ``store/bulk.py:
  copy_block`` builds it (the serializer's bytes joined); the same bytes (checked);
- ``wire``: the whole per-message work of the consuming loop short of the indexer's own: the
  protocol bytes of the 2,000 deliveries (``HMSG`` frames, fed in 32 KiB reads) through nats-py's
  parser into a subscription's queue, then each taken off it and decoded (``parse_event``).

CPU is ``time.process_time`` of this process (one thread); ratios are within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import random
import re
import resource
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from benchlib import emit_json, load_average, machine_info
from vigil.bus.headers import install
from vigil.events import parse_event
from vigil.events.models import BoundingBox, TrackUpdated
from vigil.store.bulk import copy_block

MIX = Path(__file__).with_name("event_mix.json")


def _messages(n: int) -> list[tuple[bytes, bytes, str]]:
    mix = json.loads(MIX.read_text())
    rates = {k: v for k, v in mix["per_camera_s"].items() if v > 0}
    rng = random.Random(19)
    out = []
    for i in range(n):
        etype = rng.choices(list(rates), list(rates.values()))[0]
        event = copy.deepcopy(mix["templates"][etype])
        event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        headers = (
            f"NATS/1.0\r\nNats-Msg-Id: {event['event_id']}\r\nVigil-Lease-Epoch: {1000 + i % 7}\r\n"
            f"Vigil-Lease-Since: 1765000000.{i:06d}\r\nVigil-Worker: worker-{i % 13}\r\n"
            f"Vigil-Published-At: 1765000100.{i:06d}\r\n\r\n"
        ).encode()
        out.append((headers, data, etype))
    return out


# --- the rejected fast path (track.updated only), as it would have to be written -----------
_KEYS = frozenset(TrackUpdated.model_fields)
_BOX = frozenset(("x1", "y1", "x2", "y2"))
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")
_set = object.__setattr__


def _built(cls: Any, values: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _fast_track_updated(data: bytes, loads: Callable[[bytes], Any]) -> Any:
    d = loads(data)
    if type(d) is not dict or d.keys() != _KEYS or d["type"] != "track.updated" or d["schema_version"] != 1:
        return None
    box = d["box"]
    if type(box) is not dict or box.keys() != _BOX:
        return None
    for v in box.values():
        if type(v) is not float or not math.isfinite(v):
            return None
    if box["x2"] < box["x1"] or box["y2"] < box["y1"]:
        return None
    conf, frame = d["confidence"], d["frame_index"]
    if type(conf) is not float or not 0.0 <= conf <= 1.0 or type(frame) is not int or frame < 0:
        return None
    for key, longest in (("event_id", 64), ("camera_id", 128), ("track_id", 128), ("class_name", 64)):
        s = d[key]
        if type(s) is not str or not 0 < len(s) <= longest or not s.isascii():
            return None
    when = d["occurred_at"]
    if type(when) is not str or not _TIME.match(when):
        return None
    values = {
        "event_id": d["event_id"],
        "camera_id": d["camera_id"],
        "occurred_at": datetime.fromisoformat(when).astimezone(UTC),
        "track_id": d["track_id"],
        "class_name": d["class_name"],
        "box": _built(BoundingBox, {k: box[k] for k in ("x1", "y1", "x2", "y2")}),
        "confidence": conf,
        "frame_index": frame,
        "type": "track.updated",
        "schema_version": 1,
    }
    return _built(TrackUpdated, values)


def _cpu_us(fn: Callable[[], object], n: int) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    msgs = _messages(args.messages)
    updates = [data for _, data, etype in msgs if etype == "track.updated"]
    plain, fast = Client(), Client()
    install(fast)
    loops: dict[str, Callable[[bytes], Any]] = {"json": json.loads}
    try:
        import orjson  # type: ignore[import-not-found]  # optional: not a Vigil dependency

        loops["orjson"] = orjson.loads
    except ImportError:
        pass
    for loads in loops.values():  # the prototype must agree with pydantic where it answers
        for data in updates[:50]:
            assert _fast_track_updated(data, loads) == parse_event(data)

    async def headers(client: Client) -> None:
        for raw, _, _ in msgs:
            await client._process_headers(raw)

    async def message(client: Client) -> None:
        for raw, data, _ in msgs:
            await client._process_headers(raw)
            parse_event(data)

    wire = b"".join(
        b"HMSG vigil.tracks.cam %d $JS.ACK.VIGIL_TRACKS.indexer.1.%d.%d.1765000000000000000.0 %d %d\r\n%s%s\r\n"
        % (7, i + 1, i + 1, len(raw), len(raw) + len(data), raw, data)
        for i, (raw, data, _) in enumerate(msgs)
    )

    async def through_wire(client: Client) -> None:
        sub = Subscription(client, 7, "vigil.tracks.>", pending_msgs_limit=0, pending_bytes_limit=0)
        client._subs[7] = sub
        for at in range(0, len(wire), 32768):
            await client._ps.parse(wire[at : at + 32768])
        queue = sub._pending_queue
        while not queue.empty():
            parse_event(queue.get_nowait().data)
        assert sub._received == len(msgs)

    events = [parse_event(data) for _, data, _ in msgs]

    def copy_before() -> bytes:
        return ("\n".join([e.model_dump_json() for e in events]).replace("\\", "\\\\") + "\n").encode()

    assert copy_block(events) == copy_before()
    loop = asyncio.new_event_loop()
    n, nu = len(msgs), len(updates)
    variants: dict[str, Callable[[], float]] = {
        "headers_nats_py": lambda: _cpu_us(lambda: loop.run_until_complete(headers(plain)), n),
        "headers_vigil": lambda: _cpu_us(lambda: loop.run_until_complete(headers(fast)), n),
        "decode_pydantic_all": lambda: _cpu_us(lambda: [parse_event(d) for _, d, _ in msgs], n),
        "decode_pydantic_track_updated": lambda: _cpu_us(lambda: [parse_event(d) for d in updates], nu),
        "message_old": lambda: _cpu_us(lambda: loop.run_until_complete(message(plain)), n),
        "message_new": lambda: _cpu_us(lambda: loop.run_until_complete(message(fast)), n),
        "copy_old": lambda: _cpu_us(copy_before, n),
        "copy_new": lambda: _cpu_us(lambda: copy_block(events), n),
        "wire_old": lambda: _cpu_us(lambda: loop.run_until_complete(through_wire(plain)), n),
        "wire_new": lambda: _cpu_us(lambda: loop.run_until_complete(through_wire(fast)), n),
    }
    for name, loads in loops.items():
        variants[f"decode_fast_{name}_track_updated"] = lambda loads=loads: _cpu_us(
            lambda: [_fast_track_updated(d, loads) for d in updates], nu
        )
    load_before = [round(x, 2) for x in load_average()]
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            samples[name].append(round(run(), 3))
    best = {k: min(v) for k, v in samples.items()}
    result = {
        "machine": machine_info(),
        "messages": n,
        "track_updated_messages": nu,
        "rounds": args.rounds,
        "load_avg_before": load_before,
        "load_avg_after": [round(x, 2) for x in load_average()],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_us_per_message": samples,
        "best_us": best,
        "headers_new_over_old": round(best["headers_vigil"] / best["headers_nats_py"], 3),
        "message_new_over_old": round(best["message_new"] / best["message_old"], 3),
        "wire_new_over_old": round(best["wire_new"] / best["wire_old"], 3),
        "copy_new_over_old": round(best["copy_new"] / best["copy_old"], 3),
        **{
            f"fast_{name}_over_pydantic": round(
                best[f"decode_fast_{name}_track_updated"] / best["decode_pydantic_track_updated"], 3
            )
            for name in loops
        },
    }
    emit_json(result)


if __name__ == "__main__":
    main()
