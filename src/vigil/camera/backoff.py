"""Exponential reconnect backoff with jitter; pure (the caller passes the clock)."""

from __future__ import annotations

import random


class Backoff:
    """Delays between reconnect attempts: ``initial_s * factor**n``, capped, with jitter.

    The attempt counter resets once a connection has stayed up for ``stable_after_s``
    seconds, so a camera that drops once a day does not wait ``max_s`` on its next drop.

    Args:
        initial_s: delay before the first retry, in seconds.
        max_s: upper bound of any delay, in seconds (jitter included).
        factor: growth per failed attempt (>= 1).
        jitter: relative spread in ``[0, 1)``: each delay is drawn from
            ``[d * (1 - jitter), d * (1 + jitter)]`` so many cameras behind one failed
            switch do not reconnect in lockstep.
        stable_after_s: seconds a connection must last to reset the counter.
        rng: random source (pass a seeded one in tests).
    """

    def __init__(
        self,
        initial_s: float = 0.5,
        max_s: float = 30.0,
        factor: float = 2.0,
        *,
        jitter: float = 0.2,
        stable_after_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if initial_s <= 0:
            raise ValueError(f"initial_s must be > 0 seconds, got {initial_s}")
        if max_s < initial_s:
            raise ValueError(f"max_s must be >= initial_s ({initial_s}), got {max_s}")
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if stable_after_s < 0:
            raise ValueError(f"stable_after_s must be >= 0 seconds, got {stable_after_s}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self.stable_after_s = stable_after_s
        self._rng = rng if rng is not None else random.Random()
        self._attempt = 0
        self._connected_at: float | None = None

    @property
    def attempt(self) -> int:
        """Failed attempts since the last reset."""
        return self._attempt

    def connected(self, now_s: float) -> None:
        """Record that a connection was established at monotonic time ``now_s``."""
        self._connected_at = now_s

    def next_delay(self, now_s: float) -> float:
        """Record a failure at monotonic time ``now_s`` and return the seconds to wait."""
        if self._connected_at is not None and now_s - self._connected_at >= self.stable_after_s:
            self._attempt = 0
        self._connected_at = None
        base = min(self.max_s, self.initial_s * self.factor**self._attempt)
        self._attempt += 1
        spread = base * self.jitter
        return min(self.max_s, max(0.0, base + self._rng.uniform(-spread, spread)))

    def reset(self) -> None:
        """Forget all failures."""
        self._attempt = 0
        self._connected_at = None
