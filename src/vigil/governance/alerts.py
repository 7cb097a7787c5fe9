"""Alerts out: webhooks (HTTP POST, retried, signed) and MQTT (Frigate/Home Assistant style topics).

An alert carries ids, scores and flags — never images — so a receiver cannot become a copy of
the footage. When a receiver stays down after every retry the alert is kept as a dead letter.

MQTT topics: ``<prefix>/<camera>/<kind>`` (e.g. ``vigil/gate-1/candidate``) with a JSON body,
and ``<prefix>/available`` = ``online`` / ``offline`` (last will), as Frigate publishes.

Delivery is at least once: a webhook carries ``Idempotency-Key: <alert id>`` (the candidate's
event id), so a receiver that sees the same key twice (a sender killed between the receiver's
answer and recording it) drops the second. MQTT bodies carry the same ``id``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vigil.config.governance import AlertsConfig, MqttTarget, WebhookTarget
from vigil.store.candidates import CandidateRecord
from vigil.store.dead_letters import DeadLetterRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: ``kind`` (e.g. ``candidate``), the camera, and a JSON-safe body without images."""

    kind: str
    camera_id: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "camera_id": self.camera_id, **self.body}

    @property
    def key(self) -> str | None:
        """The idempotency key receivers de-duplicate on: the alert's ``id`` (a candidate's event id)."""
        value = self.body.get("id")
        return None if value is None else str(value)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """Inverse of :meth:`to_json` (an alert read back from the bus).

        Raises:
            ValueError: ``kind`` or ``camera_id`` missing or not text.
        """
        body = dict(data)
        kind, camera = body.pop("kind", None), body.pop("camera_id", None)
        if not isinstance(kind, str) or not isinstance(camera, str):
            raise ValueError(f"not an alert: 'kind' and 'camera_id' must be text (got {kind!r}, {camera!r})")
        return cls(kind=kind, camera_id=camera, body=body)


class DeliveryLedger(Protocol):
    """Which receivers already have an alert (scale-out: a bucket shared by every dispatcher).

    ``target`` names one receiver (``webhook <url>``, ``mqtt <host:port/topic>``). A redelivered
    alert skips the receivers recorded, so a dispatcher killed half-way through its receivers
    does not make the next one send the first receivers a second copy.
    """

    def delivered(self, alert: Alert, target: str) -> bool: ...

    def record(self, alert: Alert, target: str) -> None: ...


def candidate_alert(c: CandidateRecord) -> Alert:
    return Alert(
        kind="candidate",
        camera_id=c.camera_id,
        body={
            "id": c.candidate_id,
            "type": c.kind,
            "list_entry_id": c.list_entry_id,
            "occurred_at": c.occurred_at.isoformat(),
            "score": c.score,
            "false_match_rate": c.false_match_rate,
            "flags": list(c.flags),
            "status": c.status,
            "actionable": c.actionable,
        },
    )


def _retry(attempts: int, backoff_s: float, send: Callable[[], None], sleep: Callable[[float], None]) -> str | None:
    """Call ``send`` until it succeeds; None on success, else the last error in words."""
    error = "not attempted"
    for attempt in range(attempts):
        try:
            send()
            return None
        except Exception as exc:  # a receiver's failure must never stop the others
            error = f"{type(exc).__name__}: {exc}"
            log.warning("alert delivery failed (try %d of %d): %s", attempt + 1, attempts, error)
        if attempt + 1 < attempts:
            sleep(backoff_s * (2**attempt))
    return error


class WebhookSender:
    def __init__(self, target: WebhookTarget, config: AlertsConfig, client: httpx.Client) -> None:
        self.target = target
        self._config = config
        self._client = client

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.to_json(), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "vigil-alerts"}
        if alert.key is not None:
            headers["Idempotency-Key"] = alert.key
        if self.target.secret:
            sig = hmac.new(self.target.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Vigil-Signature"] = f"sha256={sig}"
        response = self._client.post(self.target.url, content=body, headers=headers, timeout=self._config.timeout_s)
        response.raise_for_status()


class MqttPublisher:
    """One connection to the broker, opened on first use and re-opened after a failure."""

    def __init__(self, target: MqttTarget, config: AlertsConfig) -> None:
        self.target = target
        self._config = config
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def _connect(self) -> mqtt.Client:
        # A client id of this process's own: a broker disconnects the older of two clients with
        # one id, and several dispatchers (or API replicas) each hold a connection.
        client_id = f"vigil-alerts-{socket.gethostname()}-{os.getpid()}"
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if self.target.username:
            client.username_pw_set(self.target.username, self.target.password)
        client.will_set(f"{self.target.topic_prefix}/available", "offline", qos=1, retain=True)
        client.connect(self.target.host, self.target.port, keepalive=30)
        client.loop_start()
        client.publish(f"{self.target.topic_prefix}/available", "online", qos=1, retain=True)
        return client

    def topic(self, alert: Alert) -> str:
        return f"{self.target.topic_prefix}/{alert.camera_id}/{alert.kind}"

    def send(self, alert: Alert) -> None:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            info = self._client.publish(self.topic(alert), json.dumps(alert.to_json()), qos=self.target.qos)
            try:
                info.wait_for_publish(timeout=self._config.timeout_s)
                if not info.is_published():
                    raise TimeoutError(f"broker did not acknowledge within {self._config.timeout_s} s")
            except Exception:
                self._close_locked()
                raise

    def _close_locked(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None

    def close(self) -> None:
        with self._lock:
            self._close_locked()


class AlertDispatcher:
    """Send each alert to every configured receiver; dead-letter what cannot be delivered."""

    def __init__(
        self,
        config: AlertsConfig,
        dead_letters: DeadLetterRepository,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._dead_letters = dead_letters
        self._sleep = sleep
        self._http = httpx.Client()
        self.webhooks = [WebhookSender(t, config, self._http) for t in config.webhooks]
        self.mqtt = None if config.mqtt is None else MqttPublisher(config.mqtt, config)

    def dispatch(self, alert: Alert, ledger: DeliveryLedger | None = None) -> int:
        """Deliver ``alert``; returns how many receivers failed (each one dead-lettered).

        With a ``ledger``, receivers it records as served are skipped and each success is
        recorded (a dead letter counts as done too: it is kept, not retried by a redelivery).
        """
        failed = 0
        for hook in self.webhooks:
            failed += self._deliver(alert, ledger, "webhook", hook.target.url, functools.partial(hook.send, alert))
        if self.mqtt is not None:
            publisher = self.mqtt
            where = f"{publisher.target.host}:{publisher.target.port}/{publisher.topic(alert)}"
            failed += self._deliver(alert, ledger, "mqtt", where, functools.partial(publisher.send, alert))
        return failed

    def _deliver(
        self, alert: Alert, ledger: DeliveryLedger | None, channel: str, target: str, send: Callable[[], None]
    ) -> int:
        name = f"{channel} {target}"
        if ledger is not None and ledger.delivered(alert, name):
            return 0
        error = _retry(self._config.attempts, self._config.backoff_s, send, self._sleep)
        if error is not None:
            self._dead_letters.add(
                channel=channel, target=target, payload=alert.to_json(), error=error, attempts=self._config.attempts
            )
        if ledger is not None:
            ledger.record(alert, name)
        return 0 if error is None else 1

    def close(self) -> None:
        self._http.close()
        if self.mqtt is not None:
            self.mqtt.close()
