"""Scale-out settings: NATS JetStream, leases, lists on the bus, media, the worker's spool.

Secrets never live in the file or on a command line: NATS credentials come from the
environment (``VIGIL_NATS_USER``/``VIGIL_NATS_PASSWORD``, ``VIGIL_NATS_TOKEN``) or a
credentials file, and the database URL from ``VIGIL_STORE_URL`` or ``store.url_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from vigil.config.base import StrictModel


class NatsConfig(StrictModel):
    """Where the NATS JetStream cluster is and how streams are replicated."""

    servers: tuple[str, ...] = Field(
        default=("nats://127.0.0.1:4222",), min_length=1, description="Seed URLs (any node of the cluster)."
    )
    credentials_file: Path | None = Field(default=None, description="NATS .creds file (JWT + nkey).")
    replicas: Literal[1, 3, 5] = Field(
        default=1, description="Stream replicas; candidates always get 3 when this is > 1 (a cluster)."
    )
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)

    @model_validator(mode="after")
    def _no_password_in_urls(self) -> NatsConfig:
        for url in self.servers:
            if "@" in url.partition("://")[2]:
                raise ValueError(
                    f"servers: {url.split('@', 1)[1]!r} carries credentials in its URL; put them in "
                    "VIGIL_NATS_USER/VIGIL_NATS_PASSWORD or credentials_file instead"
                )
        return self


class LeaseConfig(StrictModel):
    """Camera leases in a JetStream KV bucket."""

    ttl_s: float = Field(default=10.0, ge=1, le=600, description="A dead worker's cameras move after this.")
    renew_every_s: float = Field(default=3.0, gt=0, le=200, description="How often a worker renews its leases.")
    safety_margin_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="A worker stops a camera this long before its lease could be granted elsewhere"
        " (covers clock-rate drift and a slow renewal).",
    )
    max_cameras: int = Field(default=64, ge=1, le=100_000, description="Most cameras one worker holds.")

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> LeaseConfig:
        if self.renew_every_s * 2 > self.ttl_s - self.safety_margin_s:
            raise ValueError(
                f"renew_every_s ({self.renew_every_s}) must allow two renewals within ttl_s - safety_margin_s "
                f"({self.ttl_s - self.safety_margin_s}); lower it or raise ttl_s"
            )
        return self


class ListsConfig(StrictModel):
    """Watchlists, hotlists and thresholds as every worker receives them from the bus."""

    max_staleness_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="A worker whose copy was last confirmed current longer ago than this stops matching.",
    )


class ScaleConfig(StrictModel):
    """The scale-out deployment (``vigil worker``, ``vigil indexer``, ``vigil dispatcher``)."""

    nats: NatsConfig = Field(default_factory=NatsConfig)
    leases: LeaseConfig = Field(default_factory=LeaseConfig)
    lists: ListsConfig = Field(default_factory=ListsConfig)
    spool_max_mb: int = Field(default=256, ge=1, le=1_000_000, description="Worker's edge spool bound on disk.")
    indexer_batch: int = Field(default=2000, ge=1, le=50_000, description="Events per indexer transaction.")
    indexer_max_ack_pending: int = Field(
        default=20_000,
        ge=2,
        le=10_000_000,
        description=(
            "Unacknowledged events the indexers' durable consumer allows per stream, shared by every"
            " indexer on it: each holds up to indexer_parallel + 1 batches, so give it at least"
            " indexers x (indexer_parallel + 1) x indexer_batch (20,000: three indexers at 2,000)."
            " An existing consumer is updated to it at an indexer's start."
        ),
    )
    indexer_parallel: int = Field(
        default=2,
        ge=1,
        le=3,
        description=(
            "Batches of one stream an indexer stores at once, each in its own transaction on its own"
            " PostgreSQL connection (as that many indexers would); 1: one after another. At most 3:"
            " four streams x 3 connections, the lists mirror and the partition upkeep fit the store's"
            " connection pool (15); 3 was not faster than 2 on 2 cores."
        ),
    )
    dispatcher_parallel: int = Field(
        default=4, ge=1, le=64, description="Alerts one dispatcher delivers at once (a slow receiver holds one)."
    )
    media: Literal["nats", "disk"] = Field(
        default="nats", description="Where workers put snapshots and crops: JetStream Object Store or local disk."
    )

    @model_validator(mode="after")
    def _ack_pending_holds_an_indexers_batches(self) -> ScaleConfig:
        held = self.indexer_parallel + 1  # being stored, and one more fetched and decoded
        if self.indexer_max_ack_pending < held * self.indexer_batch:
            raise ValueError(
                f"indexer_max_ack_pending ({self.indexer_max_ack_pending}) must be at least {held} x indexer_batch "
                f"({self.indexer_batch}): an indexer holds up to indexer_parallel + 1 = {held} batches unacknowledged"
            )
        return self
