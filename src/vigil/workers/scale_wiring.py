"""Connections for the scale-out roles: NATS settings and the database URL from config + env.

Secrets are read here, from the environment or files, never from the command line.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy.engine import make_url

from vigil.bus.connection import NatsSettings
from vigil.config import VigilConfig
from vigil.core.errors import ConfigError, StoreError
from vigil.store.facade import Store

log = logging.getLogger(__name__)


def nats_settings(cfg: VigilConfig, name: str) -> NatsSettings:
    """NATS settings for a process named ``name`` (credentials from ``VIGIL_NATS_*``)."""
    n = cfg.scale.nats
    creds = os.environ.get("VIGIL_NATS_CREDS") or (str(n.credentials_file) if n.credentials_file else None)
    if creds is not None and not os.path.isfile(creds):
        raise ConfigError(f"scale.nats.credentials_file: {creds} is not a readable file")
    return NatsSettings(
        servers=n.servers,
        name=name,
        user=os.environ.get("VIGIL_NATS_USER"),
        password=os.environ.get("VIGIL_NATS_PASSWORD"),
        token=os.environ.get("VIGIL_NATS_TOKEN"),
        credentials_file=creds,
        connect_timeout_s=n.connect_timeout_s,
    )


def store_url(cfg: VigilConfig) -> str:
    """The database URL: ``VIGIL_STORE_URL``, else the file named by ``VIGIL_STORE_URL_FILE``, else config."""
    if url := os.environ.get("VIGIL_STORE_URL"):
        return url.strip()
    if path := os.environ.get("VIGIL_STORE_URL_FILE"):
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"VIGIL_STORE_URL_FILE: cannot read {path}: {exc.strerror or exc}") from exc
    return cfg.store_url


def masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _is_auth_failure(exc: StoreError) -> bool:
    text = str(exc).lower()
    return "password authentication failed" in text or ("role" in text and "does not exist" in text)


def open_store_with_backoff(
    url: str, stop: threading.Event, *, max_wait_s: float = 30.0, partition_hours: int = 24
) -> Store:
    """Open (and migrate) the store, retrying an unreachable database with backoff.

    A refused login is not retried: it is one clear error.

    Raises:
        StoreError: wrong credentials, a failed migration, or ``stop`` set while waiting.
    """
    delay = 0.5
    while True:
        try:
            return Store.open(url, partition_hours=partition_hours)
        except StoreError as exc:
            if _is_auth_failure(exc) or stop.is_set():
                raise
            log.warning("database %s not reachable (%s); retrying in %.1f s", masked(url), exc, delay)
            if stop.wait(delay):
                raise
            delay = min(delay * 2, max_wait_s)


def wait_s(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
