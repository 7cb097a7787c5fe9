"""``vigil dispatcher``: real NATS, real PostgreSQL, a real HTTP receiver on loopback, real Mosquitto.

Candidates go through the real ``vigil indexer`` (which turns each stored one into an alert)
to real ``vigil dispatcher`` processes. The receiver fails the first attempts of every alert
and records each accepted delivery by its ``Idempotency-Key``.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from scale_rig import Rig, wait_for

from vigil.bus.alerts import DeliveryBucket
from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.jetstream import JetStreamBus, StreamOptions
from vigil.config.governance import AlertsConfig, WebhookTarget
from vigil.core.accountability import Authorisation
from vigil.events import CandidateRaised
from vigil.governance.alerts import Alert, AlertDispatcher
from vigil.store import Store
from vigil.store.plates import NewHotlistEntry
from vigil.workers.dispatcher import AlertDelivery, LedgerOnBus

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


class Receiver:
    """A webhook receiver that answers 503 to the first ``fail_first`` attempts of each alert."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.attempts: Counter[str] = Counter()
        self.accepted: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.attempts[key] += 1
                    ok = receiver.attempts[key] > receiver.fail_first
                    if ok:
                        receiver.accepted.append(key)
                self.send_response(204 if ok else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[[int], Receiver]]:
    made: list[Receiver] = []

    def make(fail_first: int) -> Receiver:
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_alerts(rig: Rig, alerts: dict[str, Any]) -> None:
    cfg = yaml.safe_load(rig.config.read_text())
    cfg["governance"] = {"alerts": alerts}
    rig.config.write_text(yaml.safe_dump(cfg))


def _candidates(rig: Rig, n: int) -> list[CandidateRaised]:
    """``n`` plate candidates against a listed hotlist entry (the indexer refuses unlisted ones)."""
    now = datetime.now(UTC)
    auth = Authorisation("warrant 7", "Insp. Lee", "operator", now + timedelta(days=2))
    with Store.open(rig.dsn.replace("postgresql://", "postgresql+psycopg://", 1)) as store:
        [entry] = store.plates.add_entries([NewHotlistEntry("AB12CDE", auth)], max_days=30, now=now)
    return [
        CandidateRaised(
            camera_id=f"gate-{k % 3}",
            occurred_at=now - timedelta(seconds=n - k),
            kind="plate",
            list_entry_id=entry.entry_id,
            score=0.9,
        )
        for k in range(n)
    ]


def _publish(rig: Rig, events: list[CandidateRaised]) -> None:
    conn = NatsConnection(NatsSettings(servers=rig.nats.urls))
    try:
        bus = JetStreamBus(conn, streams=StreamOptions())
        for e in events:
            bus.publish(e)
        assert bus.flush(30), f"{bus.outstanding} candidates never acknowledged"
        bus.close(5)
    finally:
        conn.close()


class MqttWatcher:
    def __init__(self, prefix: str) -> None:
        self.ids: list[str] = []
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)

        def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
            self.ids.append(json.loads(msg.payload)["id"])

        self.client.on_message = on_message
        try:
            self.client.connect("127.0.0.1", 1883)
        except OSError as exc:
            pytest.skip(f"no MQTT broker on 127.0.0.1:1883 ({exc})")
        self.client.subscribe(f"{prefix}/+/candidate", qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_two_dispatchers_share_the_alerts_each_delivered_once_to_webhook_and_mqtt_dead_letters_kept(
    rig_factory: Callable[..., Rig], receiver: Callable[[int], Receiver]
) -> None:
    rig = rig_factory(nodes=1)
    hook = receiver(1)  # every alert's first attempt fails
    prefix = f"vigil-test-{uuid.uuid4().hex[:8]}"
    dead_url = f"http://127.0.0.1:{_closed_port()}/gone"  # nothing listens: every try fails
    _with_alerts(
        rig,
        {
            "webhooks": [{"url": hook.url}, {"url": dead_url}],
            "mqtt": {"host": "127.0.0.1", "topic_prefix": prefix},
            "attempts": 3,
            "backoff_s": 0.2,
            "timeout_s": 2,
        },
    )
    watcher = MqttWatcher(prefix)
    try:
        rig.start("indexer-1")
        rig.wait_log("indexer-1", "indexer: consuming")
        for name in ("dispatcher-1", "dispatcher-2"):
            rig.start(name)
            rig.wait_log(name, "dispatcher: delivering alerts")
        events = _candidates(rig, 24)
        ids = {e.event_id for e in events}
        sent = time.monotonic()
        _publish(rig, events)
        wait_for(lambda: set(hook.accepted) == ids, 90, "every alert to reach the webhook receiver")
        took = time.monotonic() - sent
        wait_for(lambda: set(watcher.ids) == ids, 30, "every alert on MQTT")
        wait_for(lambda: rig.query("SELECT count(*) FROM dead_letters") == [(24,)], 30, "a dead letter per alert")
        time.sleep(2.0)  # anything delivered twice would have arrived by now
        assert Counter(hook.accepted) == dict.fromkeys(ids, 1)  # none twice, none lost
        assert all(hook.attempts[i] == 2 for i in ids)  # the failed first try, then the success
        assert Counter(watcher.ids) == dict.fromkeys(ids, 1)
        dead = rig.query("SELECT target, payload FROM dead_letters")
        assert {t for t, _ in dead} == {dead_url}
        assert sorted(json.loads(p)["id"] if isinstance(p, str) else p["id"] for _, p in dead) == sorted(ids)
        shares = [rig.log(n).count("dispatcher: alert ") for n in ("dispatcher-1", "dispatcher-2")]
        assert sum(shares) == 24 and min(shares) > 0, shares  # shared, each alert handled by one
        print(f"24 alerts delivered (with one retry each) in {took:.1f} s; shares {shares}")
    finally:
        watcher.close()


@pytest.mark.fault
def test_kill_9_of_a_dispatcher_mid_delivery_loses_no_alert_and_delivers_none_twice(
    rig_factory: Callable[..., Rig], receiver: Callable[[int], Receiver]
) -> None:
    rig = rig_factory(nodes=1)
    hook = receiver(3)  # tries at 0, 1, 3 s fail; the fourth (7 s) would succeed
    _with_alerts(rig, {"webhooks": [{"url": hook.url}], "attempts": 8, "backoff_s": 1.0, "timeout_s": 2})
    rig.start("indexer-1")
    rig.wait_log("indexer-1", "indexer: consuming")
    rig.start("dispatcher-1")
    rig.wait_log("dispatcher-1", "dispatcher: delivering alerts")
    events = _candidates(rig, 6)
    ids = {e.event_id for e in events}
    _publish(rig, events)
    wait_for(lambda: sum(hook.attempts.values()) >= 6, 60, "the dispatcher to be retrying")
    assert hook.accepted == []  # mid-delivery: every alert is between its retries
    rig.kill9("dispatcher-1")
    killed = time.monotonic()
    rig.start("dispatcher-2")
    wait_for(lambda: set(hook.accepted) == ids, 120, "the second dispatcher to deliver what the first held")
    resumed = time.monotonic() - killed
    time.sleep(2.0)
    assert Counter(hook.accepted) == dict.fromkeys(ids, 1)
    assert rig.query("SELECT count(*) FROM dead_letters") == [(0,)]
    print(f"all 6 delivered {resumed:.1f} s after the kill")


def test_a_redelivered_alert_skips_the_receivers_the_ledger_has(
    nats_node: Any, receiver: Callable[[int], Receiver], tmp_path: Path
) -> None:
    """The ledger closes the window of a dispatcher killed after some receivers were served."""
    hook = receiver(0)
    conn = NatsConnection(NatsSettings(servers=nats_node.urls))
    try:
        with Store.open(f"sqlite:///{tmp_path / 'v.db'}") as store:
            config = AlertsConfig(webhooks=(WebhookTarget(url=hook.url),), attempts=1)
            dispatcher = AlertDispatcher(config, store.governance.dead_letters)
            delivery = AlertDelivery(dispatcher, LedgerOnBus(DeliveryBucket(conn)))
            data = json.dumps(Alert("candidate", "gate-1", {"id": "cand-1"}).to_json()).encode()
            delivery(data)
            delivery(data)  # JetStream redelivers it (the first dispatcher died before its ack)
            delivery(json.dumps(Alert("candidate", "gate-1", {"id": "cand-2"}).to_json()).encode())
            dispatcher.close()
    finally:
        conn.close()
    assert hook.accepted == ["cand-1", "cand-2"]


def test_dispatcher_on_the_embedded_bus_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "embedded.yaml"
    config.write_text("bus: {type: memory}\n")
    env = dict(os.environ, VIGIL_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "dispatcher", "-c", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(lines) == 1 and "bus.type must be 'nats' for `vigil dispatcher`" in lines[0], result.stderr
