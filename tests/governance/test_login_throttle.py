"""The lockout rules of vigil.governance.login_throttle, on each engine, with the clock in hand."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from vigil.config.governance import AuthConfig
from vigil.governance.login_throttle import Admitted, LoginThrottle, Refused, address_key
from vigil.store import Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = AuthConfig(
    login_max_failures=3,
    login_lockout_s=10,
    login_lockout_max_s=60,
    login_window_s=3600,
    login_address_max_failures=6,
    login_account_max_failures=8,
    login_guard_window_s=600,
)


def guess(throttle: LoginThrottle, user: str, remote: str, at: datetime, *, right: bool = False) -> bool:
    """One attempt: True if it got to check its password."""
    admission = throttle.admit(user, remote, at)
    if isinstance(admission, Refused):
        return False
    if right:
        throttle.succeeded(admission, at)
    return True


@pytest.fixture
def throttle(db_url: str) -> Iterator[LoginThrottle]:
    with Store.open(db_url) as store:
        yield LoginThrottle(store.governance.logins, RULES)


def test_lockouts_double_up_to_the_cap() -> None:
    rules = LoginThrottle.__new__(LoginThrottle)
    rules._config = RULES
    assert [rules.lock_s(n) for n in range(1, 9)] == [0, 0, 10, 20, 40, 60, 60, 60]
    assert rules.lock_s(10**9) == 60  # no overflow however long the streak


def test_backoff_and_a_lock_that_attempts_do_not_extend(throttle: LoginThrottle) -> None:
    at = T0
    for _ in range(3):
        assert guess(throttle, "alice", "203.0.113.7", at)
    # Locked for 10 s from the third failure: every attempt meanwhile is refused unread, the
    # correct password included, and none of them moves the end of the lock.
    for dt in (1, 5, 9.5):
        refusal = throttle.admit("alice", "203.0.113.7", at + timedelta(seconds=dt))
        assert isinstance(refusal, Refused) and refusal.retry_after_s == pytest.approx(10 - dt, abs=1)
    at += timedelta(seconds=10)
    assert guess(throttle, "alice", "203.0.113.7", at)  # fourth failure: 20 s
    assert not guess(throttle, "alice", "203.0.113.7", at + timedelta(seconds=19))
    at += timedelta(seconds=20)
    assert guess(throttle, "alice", "203.0.113.7", at, right=True)  # success forgives the streak
    for i in range(3):
        assert guess(throttle, "alice", "203.0.113.7", at + timedelta(seconds=i))


def test_failures_are_forgotten_after_the_window(throttle: LoginThrottle) -> None:
    for i in range(2):
        assert guess(throttle, "alice", "203.0.113.7", T0 + timedelta(seconds=i))
    later = T0 + timedelta(seconds=RULES.login_window_s + 5)
    for i in range(2):  # a fresh streak: two more do not lock
        assert guess(throttle, "alice", "203.0.113.7", later + timedelta(seconds=i))
    assert guess(throttle, "alice", "203.0.113.7", later + timedelta(seconds=3))


def test_password_spraying_from_one_address_spares_known_accounts(throttle: LoginThrottle) -> None:
    assert guess(throttle, "bob", "203.0.113.7", T0, right=True)  # bob signs in from the office
    for i, user in enumerate(["u1", "u2", "u3", "u4", "u5", "u6"]):
        assert guess(throttle, user, "203.0.113.7", T0 + timedelta(seconds=i))  # one guess each
    at = T0 + timedelta(seconds=30)
    refusal = throttle.admit("carol", "203.0.113.7", at)
    assert isinstance(refusal, Refused) and "from your address" in refusal.message  # a new account there
    assert guess(throttle, "bob", "203.0.113.7", at, right=True)  # bob still signs in
    assert guess(throttle, "carol", "198.51.100.1", at)  # and carol from elsewhere
    assert guess(throttle, "carol", "203.0.113.7", at + timedelta(seconds=RULES.login_guard_window_s + 1))


def test_guessing_one_account_from_many_addresses_spares_its_known_address(throttle: LoginThrottle) -> None:
    assert guess(throttle, "alice", "203.0.113.7", T0, right=True)
    for i in range(8):
        assert guess(throttle, "alice", f"192.0.2.{i + 1}", T0 + timedelta(seconds=i))
    at = T0 + timedelta(seconds=20)
    assert not guess(throttle, "alice", "192.0.2.99", at)  # a new address for alice
    assert guess(throttle, "alice", "203.0.113.7", at, right=True)  # alice at her usual address


def test_ipv6_clients_are_keyed_by_their_slash_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("testclient") == "testclient"


def test_replicas_racing_on_one_pair_admit_only_the_free_tries(db_url: str) -> None:
    """Two API replicas (two stores on one database), 24 concurrent guesses at one pair."""
    with Store.open(db_url) as one, Store.open(db_url) as two:
        throttles = [LoginThrottle(one.governance.logins, RULES), LoginThrottle(two.governance.logins, RULES)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i: throttles[i % 2].admit("alice", "198.51.100.9", T0), range(24)))
    assert sum(isinstance(r, Admitted) for r in results) == RULES.login_max_failures


def test_retention_deletes_pairs_idle_past_the_login_records(db_url: str) -> None:
    from vigil.store.retention import PurgeCutoffs

    with Store.open(db_url) as store:
        throttle = LoginThrottle(store.governance.logins, RULES)
        old, recent = T0 - timedelta(days=40), T0 - timedelta(days=1)
        assert guess(throttle, "alice", "203.0.113.7", old, right=True)
        assert guess(throttle, "mallory", "198.51.100.9", old)
        assert guess(throttle, "bob", "203.0.113.7", recent)
        cutoff = T0 - timedelta(days=30)
        result = store.governance.retention.purge(
            PurgeCutoffs(cutoff, cutoff, cutoff, cutoff, login_attempts_before=cutoff), actor="test"
        )
        assert result.counts["login_throttle"] == 2
        rows = store.governance.logins
        assert rows.state("alice", "203.0.113.7") is None and rows.state("bob", "203.0.113.7") is not None
