"""Alerts out: webhooks (HTTP POST, retried, signed) and MQTT (Frigate/Home Assistant style topics).

An alert carries ids, scores and flags — never images — so a receiver cannot become a copy of
the footage. When a receiver stays down after every retry the alert is kept as a dead letter.

MQTT topics: ``<prefix>/<camera>/<kind>`` (e.g. ``vigil/gate-1/candidate``) with a JSON body,
and ``<prefix>/available`` = ``online`` / ``offline`` (last will), as Frigate publishes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="vigil-alerts")
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

    def dispatch(self, alert: Alert) -> int:
        """Deliver ``alert``; returns how many receivers failed (each one dead-lettered)."""
        failed = 0
        for hook in self.webhooks:
            error = _retry(
                self._config.attempts, self._config.backoff_s, functools.partial(hook.send, alert), self._sleep
            )
            if error is not None:
                failed += 1
                self._dead_letters.add(
                    channel="webhook",
                    target=hook.target.url,
                    payload=alert.to_json(),
                    error=error,
                    attempts=self._config.attempts,
                )
        if self.mqtt is not None:
            publisher = self.mqtt
            error = _retry(
                self._config.attempts, self._config.backoff_s, functools.partial(publisher.send, alert), self._sleep
            )
            if error is not None:
                failed += 1
                self._dead_letters.add(
                    channel="mqtt",
                    target=f"{publisher.target.host}:{publisher.target.port}/{publisher.topic(alert)}",
                    payload=alert.to_json(),
                    error=error,
                    attempts=self._config.attempts,
                )
        return failed

    def close(self) -> None:
        self._http.close()
        if self.mqtt is not None:
            self.mqtt.close()
