"""Sign-in lockout attacked over real HTTP, on two API replicas sharing one database.

The test process plays the reverse proxy in front of the replicas (it connects from 127.0.0.1,
the one trusted proxy), so ``X-Forwarded-For`` names the client each request stands for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from api_support import PASSWORD, make_config, replica

from vigil.api import ApiContext
from vigil.config import VigilConfig
from vigil.config.api import ApiConfig
from vigil.store import Store

OFFICE = "203.0.113.7"  # one NAT address for a whole office
ATTACKER = "198.51.100.9"
FREE_TRIES = 5


def deployment(tmp_path: Path, *, trusted: tuple[str, ...], lockout_s: int = 60) -> VigilConfig:
    cfg = make_config(tmp_path)
    auth = cfg.governance.auth.model_copy(update={"login_max_failures": FREE_TRIES, "login_lockout_s": lockout_s})
    return cfg.model_copy(
        update={
            "governance": cfg.governance.model_copy(update={"auth": auth}),
            "api": ApiConfig.model_validate({"trusted_proxies": list(trusted)}),
        }
    )


@pytest.fixture
def replicas(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Two replicas on one SQLite database, behind the test acting as their trusted proxy."""
    options = getattr(request, "param", {})
    cfg = deployment(tmp_path, trusted=options.get("trusted", ("127.0.0.1",)), lockout_s=options.get("lockout_s", 60))
    url = f"sqlite:///{tmp_path / 'data' / 'vigil.db'}"
    with Store.open(url) as store:
        ctx = ApiContext.build(cfg, store, poll_alerts=False)
        for name in ("alice", "bob"):
            ctx.auth.add_user(name, PASSWORD, "operator", None, actor="test")
    with ExitStack() as stack:
        yield [stack.enter_context(replica(cfg, url)) for _ in range(2)]


def sign_in(base: str, user: str, password: str, client_address: str | None) -> httpx.Response:
    headers = {} if client_address is None else {"X-Forwarded-For": client_address}
    return httpx.post(
        f"{base}/api/auth/login", json={"username": user, "password": password}, headers=headers, timeout=30
    )


def fail(replicas: list[str], user: str, client_address: str, times: int) -> None:
    for i in range(times):
        r = sign_in(replicas[i % 2], user, "wrong password!", client_address)
        assert r.status_code == 401, r.text


def test_failures_at_one_account_do_not_lock_other_users_at_that_address(replicas: list[str]) -> None:
    fail(replicas, "alice", OFFICE, FREE_TRIES)  # spread over both replicas
    locked = sign_in(replicas[0], "alice", PASSWORD, OFFICE)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0, locked.text
    assert sign_in(replicas[1], "alice", PASSWORD, OFFICE).status_code == 429  # the other replica knows
    assert sign_in(replicas[0], "bob", PASSWORD, OFFICE).status_code == 200  # a colleague at the same address


def test_an_attacker_cannot_lock_the_real_user_out(replicas: list[str]) -> None:
    fail(replicas, "alice", ATTACKER, FREE_TRIES)
    assert sign_in(replicas[0], "alice", PASSWORD, ATTACKER).status_code == 429
    assert sign_in(replicas[1], "alice", PASSWORD, OFFICE).status_code == 200  # alice, from her office


@pytest.mark.parametrize("replicas", [{"lockout_s": 1}], indirect=True)
def test_a_correct_password_does_not_extend_the_lockout(replicas: list[str]) -> None:
    fail(replicas, "alice", OFFICE, FREE_TRIES)
    locked_at = time.monotonic()
    refused = 0
    while True:  # the real alice keeps trying her correct password through the lock
        r = sign_in(replicas[refused % 2], "alice", PASSWORD, OFFICE)
        if r.status_code == 200:
            break
        assert r.status_code == 429, r.text
        refused += 1
        assert time.monotonic() - locked_at < 1 + 5, "the lock outlived its 1 s: retries extended it"
        time.sleep(0.1)
    assert refused >= 1  # she did hit the lock, and it still ran out on time


def test_a_burst_of_guesses_gets_no_more_tries_than_one_at_a_time(replicas: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda i: sign_in(replicas[i % 2], "alice", "wrong password!", ATTACKER).status_code, range(24))
        )
    assert statuses.count(401) == FREE_TRIES, statuses  # passwords checked: exactly the free tries
    assert statuses.count(429) == 24 - FREE_TRIES, statuses


@pytest.mark.parametrize("replicas", [{"trusted": ()}], indirect=True)
def test_forwarded_headers_from_an_untrusted_peer_are_ignored(replicas: list[str]) -> None:
    """No proxy configured: a client cannot pick a fresh address per guess to dodge the lockout."""
    for i in range(FREE_TRIES):
        r = sign_in(replicas[i % 2], "alice", "wrong password!", f"192.0.2.{i + 1}")
        assert r.status_code == 401
    assert sign_in(replicas[0], "alice", "wrong password!", "192.0.2.200").status_code == 429


def test_a_client_cannot_choose_its_address_behind_the_proxy(replicas: list[str]) -> None:
    """The proxy appends the real client to whatever the client sent: the rightmost hop counts."""
    for i in range(FREE_TRIES):
        r = sign_in(replicas[i % 2], "alice", "wrong password!", f"192.0.2.{i + 1}, {ATTACKER}")
        assert r.status_code == 401
    assert sign_in(replicas[0], "alice", PASSWORD, f"192.0.2.99, {ATTACKER}").status_code == 429
    assert sign_in(replicas[0], "alice", PASSWORD, OFFICE).status_code == 200
