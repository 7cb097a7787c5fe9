"""End to end over a real uvicorn server on a loopback port: sign in, search, live alerts (SSE)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from api_support import PASSWORD, make_config

from vigil.api import ApiContext
from vigil.config.governance import AlertsConfig, AuthConfig, GovernanceConfig
from vigil.core.clock import utcnow
from vigil.events import CandidateRaised
from vigil.server import create_app
from vigil.store import Store


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    cfg = make_config(tmp_path)
    gov = GovernanceConfig(
        auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024), alerts=AlertsConfig(poll_interval_s=0.2)
    )
    cfg = cfg.model_copy(update={"governance": gov})
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'vigil.db'}") as store:
        ctx = ApiContext.build(cfg, store)
        ctx.auth.add_user("op", PASSWORD, "operator", ("cam-a",), actor="test")
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(ctx), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        try:
            yield f"http://127.0.0.1:{port}", store
        finally:
            server.should_exit = True
            thread.join(10)


def _raise(store: Store, camera: str) -> str:
    event = CandidateRaised(
        camera_id=camera, occurred_at=utcnow() - timedelta(seconds=1), kind="plate", list_entry_id="hot-1", score=0.9
    )
    store.events.add_many([event])
    return event.event_id


def test_sign_in_and_receive_live_alerts_over_sse(live: tuple[str, Store]) -> None:
    base, store = live
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert "/api/events" in client.get("/openapi.json").json()["paths"]
        r = client.post("/api/auth/login", json={"username": "op", "password": PASSWORD})
        assert r.status_code == 200, r.text
        with client.stream("GET", "/api/alerts/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == ": connected"
            _raise(store, "cam-b")  # out of this operator's scope: never delivered
            wanted = _raise(store, "cam-a")
            data = None
            for line in lines:
                if line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    break
        assert data is not None
        assert (data["id"], data["camera_id"], data["kind"], data["actionable"]) == (
            wanted,
            "cam-a",
            "candidate",
            False,
        )
    assert [r.action for r in store.governance.audit.list()] == ["user.create", "login", "alerts.stream"]
