"""Sign-in lockout that stops password guessing without handing anyone a denial of service.

The unit of lockout is the pair (user name, client address): five wrong passwords for alice
from one address lock alice out *from that address* for ``login_lockout_s``, doubling with each
further failure up to ``login_lockout_max_s``. So:

- one address's failures never lock other users there (an office behind one NAT address);
- one attacker's failures never lock the real alice out from her own address;
- while a pair is locked its attempts are refused unread: a correct password neither gets in
  nor extends the lock, and a wrong one does not extend it either; the lock simply runs out;
- a success forgives the pair's failures; so does ``login_window_s`` without a failure.

Two guards catch guessing spread over many pairs, and apply only to pairs that have never
signed in (within ``login_known_days``), so people keep signing in from where they always do:
an address with ``login_address_max_failures`` failures (over all user names) within
``login_guard_window_s`` may not try new accounts (password spraying), and an account with
``login_account_max_failures`` failures (over all addresses) may not be tried from new addresses
(distributed guessing). IPv6 clients are keyed by their /64, which one host can fill at will.

Every attempt is counted *before* the password is checked (compare-and-set in the database, see
:mod:`vigil.store.logins`), so a burst of concurrent guesses on any number of API replicas gets
no more tries than one guess at a time would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv6Address, ip_address, ip_network

from vigil.config.governance import AuthConfig
from vigil.store.logins import LoginThrottleRepository, ThrottleState

CLAIM_TRIES = 5
"""Compare-and-set rounds before an attempt that keeps losing races is refused as busy."""


def address_key(remote: str) -> str:
    """The lockout key of a client address: itself, or its /64 for IPv6."""
    try:
        address = ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class Admitted:
    """This attempt may check its password; it is already counted as a failure."""

    username: str
    remote: str


@dataclass(frozen=True, slots=True)
class Refused:
    """This attempt is refused without reading its password."""

    retry_after_s: int
    message: str


class LoginThrottle:
    """The rules above over the shared throttle rows."""

    def __init__(self, rows: LoginThrottleRepository, config: AuthConfig) -> None:
        self._rows = rows
        self._config = config

    def lock_s(self, failures: int) -> int:
        """Seconds a pair is locked after its ``failures``-th failure in a row (0: not locked)."""
        over = failures - self._config.login_max_failures
        if over < 0:
            return 0
        return min(self._config.login_lockout_max_s, self._config.login_lockout_s * (1 << min(over, 40)))

    def admit(self, username: str, remote: str, now: datetime) -> Admitted | Refused:
        """Count an attempt at ``username`` from ``remote``, or refuse it."""
        key = address_key(remote)
        for _ in range(CLAIM_TRIES):
            state = self._rows.state(username, key)
            if state is not None and state.locked_until is not None and state.locked_until > now:
                wait = max(1, int((state.locked_until - now).total_seconds() + 0.999))
                return Refused(
                    wait, f"too many failed sign-ins for this account from your address; try again in {wait} s"
                )
            if not self._known(state, now):
                guard = self._guard(username, key, now)
                if guard is not None:
                    return guard
            forgotten = (
                state is None
                or state.last_failure_at is None
                or (now - state.last_failure_at > timedelta(seconds=self._config.login_window_s))
            )
            failures = 1 if forgotten or state is None else state.failures + 1
            lock = self.lock_s(failures)
            if self._rows.claim(
                username,
                key,
                expected_failures=None if state is None else state.failures,
                failures=failures,
                locked_until=now + timedelta(seconds=lock) if lock else None,
                now=now,
            ):
                return Admitted(username, key)
        return Refused(1, "too many sign-in attempts at once for this account; try again in a moment")

    def succeeded(self, admitted: Admitted, now: datetime) -> None:
        """The password was right: forgive the pair's failures."""
        self._rows.succeeded(admitted.username, admitted.remote, now)

    def _known(self, state: ThrottleState | None, now: datetime) -> bool:
        return (
            state is not None
            and state.last_success_at is not None
            and now - state.last_success_at <= timedelta(days=self._config.login_known_days)
        )

    def _guard(self, username: str, key: str, now: datetime) -> Refused | None:
        since = now - timedelta(seconds=self._config.login_guard_window_s)
        wait = self._config.login_guard_window_s
        if self._rows.failures_from(key, since) >= self._config.login_address_max_failures:
            return Refused(
                wait,
                "too many failed sign-ins from your address; only accounts that signed in from it before may "
                f"sign in now; try again in {wait} s",
            )
        if self._rows.failures_for(username, since) >= self._config.login_account_max_failures:
            return Refused(
                wait,
                "too many failed sign-ins for this account; it may sign in only from addresses it used before; "
                f"try again in {wait} s",
            )
        return None
