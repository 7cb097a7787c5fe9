"""Alerts out: webhooks retried then dead-lettered (real HTTP server), MQTT to the local broker."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from vigil.config.governance import AlertsConfig, MqttTarget, WebhookTarget
from vigil.governance.alerts import Alert, AlertDispatcher
from vigil.store import Store

ALERT = Alert(kind="candidate", camera_id="gate-1", body={"id": "c-1", "score": 0.8})


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                status = 503 if len(receiver.calls) <= receiver.fail_first else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(fail_first: int) -> Receiver:
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _dispatcher(store: Store, **kwargs: Any) -> AlertDispatcher:
    return AlertDispatcher(
        AlertsConfig(attempts=3, backoff_s=0.01, timeout_s=2, **kwargs), store.governance.dead_letters
    )


def test_webhook_retries_until_delivered_and_is_signed(sqlite_store: Store, receiver_factory: Any) -> None:
    receiver = receiver_factory(fail_first=2)
    secret = "s" * 32
    dispatcher = _dispatcher(sqlite_store, webhooks=(WebhookTarget(url=receiver.url, secret=secret),))
    try:
        assert dispatcher.dispatch(ALERT) == 0
    finally:
        dispatcher.close()
    assert len(receiver.calls) == 3 and receiver.calls[-1] == ALERT.to_json()
    assert receiver.headers[-1]["X-Vigil-Signature"].startswith("sha256=")
    assert sqlite_store.governance.dead_letters.list() == []


def test_receiver_down_leaves_a_dead_letter(sqlite_store: Store, receiver_factory: Any) -> None:
    receiver = receiver_factory(fail_first=99)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    targets = (WebhookTarget(url=receiver.url), WebhookTarget(url=f"http://127.0.0.1:{closed_port}/x"))
    dispatcher = _dispatcher(sqlite_store, webhooks=targets)
    try:
        assert dispatcher.dispatch(ALERT) == 2
    finally:
        dispatcher.close()
    letters = sqlite_store.governance.dead_letters.list()
    assert [(d.channel, d.target, d.attempts) for d in letters] == [("webhook", t.url, 3) for t in targets]
    assert "503" in letters[0].error and "ConnectError" in letters[1].error
    assert letters[0].payload == ALERT.to_json()


def test_mqtt_alert_reaches_a_subscriber(sqlite_store: Store) -> None:
    prefix = f"vigiltest{uuid.uuid4().hex[:8]}"
    got: list[tuple[str, dict[str, Any]]] = []
    ready, received = threading.Event(), threading.Event()
    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    sub.on_subscribe = lambda *a: ready.set()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        got.append((msg.topic, json.loads(msg.payload)))
        received.set()

    sub.on_message = on_message
    try:
        sub.connect("127.0.0.1", 1883)
    except OSError as exc:
        pytest.skip(f"no MQTT broker on 127.0.0.1:1883 ({exc})")
    sub.subscribe(f"{prefix}/+/candidate", qos=1)
    sub.loop_start()
    try:
        assert ready.wait(5)
        dispatcher = _dispatcher(sqlite_store, mqtt=MqttTarget(host="127.0.0.1", topic_prefix=prefix))
        try:
            assert dispatcher.dispatch(ALERT) == 0
        finally:
            dispatcher.close()
        assert received.wait(5)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert got == [(f"{prefix}/gate-1/candidate", ALERT.to_json())]


def test_mqtt_broker_down_leaves_a_dead_letter(sqlite_store: Store) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dispatcher = _dispatcher(sqlite_store, mqtt=MqttTarget(host="127.0.0.1", port=port))
    try:
        assert dispatcher.dispatch(ALERT) == 1
    finally:
        dispatcher.close()
    [letter] = sqlite_store.governance.dead_letters.list()
    assert letter.channel == "mqtt" and letter.target.endswith("vigil/gate-1/candidate")
