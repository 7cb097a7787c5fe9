"""Alerts on JetStream: the ``VIGIL_ALERTS`` stream, its shared consumer and the delivery ledger.

The indexer publishes one alert per candidate it stored (after the commit, before it acks the
candidate), with ``Nats-Msg-Id: alert-<id>`` so a re-publish after a crash is dropped by the
server. Every ``vigil dispatcher`` pulls from one durable consumer, so each alert goes to one
dispatcher at a time; it is acknowledged only after every receiver got it or it was
dead-lettered. While a delivery is retrying, the dispatcher tells JetStream it is still
working (``in_progress``) so the alert is not handed to another dispatcher meanwhile; a killed
dispatcher stops doing so and its alert goes to another within ``ACK_WAIT_S``.

The ledger (KV bucket ``VIGIL_ALERT_DELIVERIES``) records each (alert, receiver) delivered, so a
redelivered alert skips the receivers served already. What is left is the window between a
receiver's answer and the ledger write (milliseconds): a dispatcher killed inside it makes the
next one send that receiver the alert again, with the same ``Idempotency-Key``.

This module moves bytes; what an alert is and how it is sent is ``vigil.governance.alerts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api
from nats.js.kv import KeyValue

from vigil.bus.base import BusError
from vigil.bus.connection import NatsConnection
from vigil.bus.subjects import ALERTS_STREAM, DAY_S, alert_subject
from vigil.core.errors import EventDecodeError

log = logging.getLogger(__name__)

CONSUMER = "dispatcher"
"""Durable consumer name every dispatcher shares."""
ACK_WAIT_S = 10.0
"""An alert whose dispatcher stops reporting progress goes to another dispatcher after this."""
LEDGER_BUCKET = "VIGIL_ALERT_DELIVERIES"
LEDGER_TTL_S = 7 * DAY_S
"""As long as the alerts stream keeps an alert: no redelivery can come later than that."""


class UnreadableAlertError(EventDecodeError):
    """A message on the alerts stream that is not an alert: terminated, never retried."""


def msg_id(key: str) -> str:
    return f"alert-{key}"


def publish_alerts(conn: NatsConnection, alerts: list[tuple[str, str, bytes]], *, timeout_s: float = 10.0) -> None:
    """Publish ``(camera_id, key, json)`` alerts and wait for every ack.

    Raises:
        BusError: an ack did not come (the caller retries: the message ids make it idempotent).
    """
    try:
        conn.call(_publish(conn, alerts), timeout_s=timeout_s)
    except Exception as exc:
        raise BusError(
            f"could not publish {len(alerts)} alerts to {ALERTS_STREAM}: {type(exc).__name__}: {exc}"
        ) from exc


async def _publish(conn: NatsConnection, alerts: list[tuple[str, str, bytes]]) -> None:
    futures = [
        await conn.js.publish_async(alert_subject(camera), data, headers={"Nats-Msg-Id": msg_id(key)})
        for camera, key, data in alerts
    ]
    await asyncio.gather(*futures)


class DeliveryBucket:
    """The ledger: one key per (alert, receiver) delivered or dead-lettered, kept ``LEDGER_TTL_S``."""

    def __init__(self, conn: NatsConnection, replicas: int = 1) -> None:
        self._conn = conn
        self._kv: KeyValue = conn.call(self._open(replicas))

    async def _open(self, replicas: int) -> KeyValue:
        try:
            return await self._conn.js.key_value(LEDGER_BUCKET)
        except nats.js.errors.BucketNotFoundError:
            pass
        config = api.KeyValueConfig(bucket=LEDGER_BUCKET, history=1, ttl=LEDGER_TTL_S, replicas=replicas)
        try:
            return await self._conn.js.create_key_value(config)
        except nats.js.errors.BadRequestError:
            return await self._conn.js.key_value(LEDGER_BUCKET)  # another dispatcher created it

    @staticmethod
    def _key(key: str, target: str) -> str:
        # Alert ids and URLs hold characters KV keys forbid; a digest is one safe token.
        return "d." + hashlib.sha256(f"{key}\n{target}".encode()).hexdigest()[:40]

    def delivered(self, key: str, target: str) -> bool:
        async def get() -> bool:
            try:
                entry = await self._kv.get(self._key(key, target))
            except nats.js.errors.KeyNotFoundError:
                return False
            return entry.value is not None

        return self._conn.call(get())

    def record(self, key: str, target: str) -> None:
        self._conn.call(self._kv.put(self._key(key, target), b"1"))


AlertHandler = Callable[[bytes], None]
"""Delivers one alert (its JSON); returning means done. Raises UnreadableAlertError or retries."""


@dataclass(slots=True)
class ConsumerStats:
    handled: int = 0
    failed: int = 0
    unreadable: int = 0
    in_progress_sent: int = 0


@dataclass(slots=True)
class AlertConsumer:
    """``parallel`` pullers on the shared durable consumer, each delivering one alert at a time."""

    conn: NatsConnection
    handler: AlertHandler
    parallel: int = 4
    name: str = CONSUMER
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    _stop: threading.Event = field(default_factory=threading.Event)
    _executor: ThreadPoolExecutor | None = None
    _tasks: list[Any] = field(default_factory=list)  # concurrent futures of the loop thread

    def start(self) -> AlertConsumer:
        self._executor = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="alerts")
        psubs = self.conn.call(self._bind())
        self._tasks = [self.conn.spawn(self._pull(p)) for p in psubs]
        return self

    async def _bind(self) -> list[object]:
        config = api.ConsumerConfig(
            durable_name=self.name,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_deliver=-1,  # a receiver outage ends in a dead letter (kept), never in a dropped alert
            max_ack_pending=1_000,
            deliver_policy=api.DeliverPolicy.ALL,
        )
        return [
            await self.conn.js.pull_subscribe("", durable=self.name, stream=ALERTS_STREAM, config=config)
            for _ in range(self.parallel)
        ]

    async def _pull(self, psub: object) -> None:
        loop = asyncio.get_running_loop()
        while not (self._stop.is_set() or self.conn.closing):
            try:
                msgs: list[Msg] = await psub.fetch(1, timeout=1.0)  # type: ignore[attr-defined]
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # disconnected, or the stream's leader is moving
                log.debug("alerts: fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                assert self._executor is not None
                work = loop.run_in_executor(self._executor, self.handler, msg.data)
                await self._while_working(msg, work)

    async def _while_working(self, msg: Msg, work: asyncio.Future[None]) -> None:
        # Retries with backoff can outlast the ack wait: say so every third of it, or JetStream
        # would hand the alert to another dispatcher while this one is still sending it.
        while True:
            done, _ = await asyncio.wait({work}, timeout=ACK_WAIT_S / 3)
            if done:
                break
            with contextlib.suppress(Exception):
                await msg.in_progress()
                self.stats.in_progress_sent += 1
        exc = work.exception()
        if exc is None:
            await msg.ack()
            self.stats.handled += 1
        elif isinstance(exc, UnreadableAlertError):
            log.error("alerts: dropped a message that is not an alert: %s", exc)
            self.stats.unreadable += 1
            await msg.term()
        else:
            log.warning("alerts: delivery failed (%s); redelivered in 2 s", exc)
            self.stats.failed += 1
            await msg.nak(delay=2.0)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the alerts in progress (acking them), then stop pulling."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                task.result(timeout_s)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
