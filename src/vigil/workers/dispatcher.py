"""``vigil dispatcher``: alert delivery as its own role (webhooks, MQTT), off the shared alerts stream.

The same delivery code as the embedded mode (``governance.alerts.AlertDispatcher``: retries with
backoff, signed webhooks, MQTT topics, dead letters in the database); only where alerts come
from differs. Several dispatchers share one durable consumer, so each alert is delivered by
one of them; an alert is acknowledged only after every receiver got it or it was
dead-lettered (see ``vigil.bus.alerts`` for the at-least-once window and the ledger).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

from vigil.bus.alerts import AlertConsumer, DeliveryBucket, UnreadableAlertError
from vigil.bus.connection import NatsConnection
from vigil.bus.jetstream import StreamOptions, ensure_streams
from vigil.config import VigilConfig
from vigil.governance.alerts import Alert, AlertDispatcher
from vigil.workers.scale_wiring import masked, nats_settings, open_store_with_backoff, store_url

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DispatcherStats:
    delivered: int = 0
    """Alerts every receiver got (or already had)."""
    dead_lettered: int = 0
    """(alert, receiver) pairs that failed every try and were kept as dead letters."""


class LedgerOnBus:
    """``governance.alerts.DeliveryLedger`` on the bus's KV bucket."""

    def __init__(self, bucket: DeliveryBucket) -> None:
        self._bucket = bucket

    def delivered(self, alert: Alert, target: str) -> bool:
        return alert.key is not None and self._bucket.delivered(alert.key, target)

    def record(self, alert: Alert, target: str) -> None:
        if alert.key is not None:
            self._bucket.record(alert.key, target)


class AlertDelivery:
    """The handler of one alert message: decode, deliver to every receiver, count."""

    def __init__(self, dispatcher: AlertDispatcher, ledger: LedgerOnBus) -> None:
        self._dispatcher = dispatcher
        self._ledger = ledger
        self._lock = threading.Lock()
        self.stats = DispatcherStats()

    def __call__(self, data: bytes) -> None:
        try:
            alert = Alert.from_json(json.loads(data))
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            raise UnreadableAlertError(str(exc)) from exc
        failed = self._dispatcher.dispatch(alert, self._ledger)
        with self._lock:
            self.stats.delivered += 1
            self.stats.dead_lettered += failed
        log.info("dispatcher: alert %s (%s, %s) done, %d dead letters", alert.key, alert.kind, alert.camera_id, failed)


def run_dispatcher(cfg: VigilConfig, stop: threading.Event, *, report_every_s: float = 10.0) -> DispatcherStats:
    """Deliver alerts until ``stop`` is set; returns the counters.

    Raises:
        BusAuthError, StoreError: wrong credentials or a failed migration (not retried).
    """
    url = store_url(cfg)
    conn = NatsConnection.connect_with_backoff(nats_settings(cfg, "vigil-dispatcher"), stop=stop)
    try:
        store = open_store_with_backoff(url, stop, partition_hours=cfg.store.partition_hours)
        try:
            replicas = cfg.scale.nats.replicas
            conn.call(ensure_streams(conn, StreamOptions(replicas=replicas)), timeout_s=60)
            alerts = cfg.governance.alerts
            dispatcher = AlertDispatcher(alerts, store.governance.dead_letters)
            delivery = AlertDelivery(dispatcher, LedgerOnBus(DeliveryBucket(conn, replicas)))
            consumer = AlertConsumer(conn, delivery, parallel=cfg.scale.dispatcher_parallel).start()
            receivers = [f"webhook {h.url}" for h in alerts.webhooks]
            if alerts.mqtt is not None:
                receivers.append(f"mqtt {alerts.mqtt.host}:{alerts.mqtt.port}")
            if not receivers:
                log.warning(
                    "dispatcher: no receivers configured (governance.alerts.webhooks, governance.alerts.mqtt); "
                    "alerts are acknowledged without being sent anywhere"
                )
            log.warning(
                "dispatcher: delivering alerts from %s to %s (dead letters in %s)",
                ", ".join(cfg.scale.nats.servers),
                ", ".join(receivers) or "no receiver",
                masked(url),
            )
            last = time.monotonic()
            while not stop.wait(1.0):
                if time.monotonic() - last >= report_every_s:
                    last = time.monotonic()
                    s = delivery.stats
                    log.info("dispatcher: %d alerts delivered, %d dead letters", s.delivered, s.dead_lettered)
            consumer.stop()
            dispatcher.close()
            return delivery.stats
        finally:
            store.close()
    finally:
        conn.close()
