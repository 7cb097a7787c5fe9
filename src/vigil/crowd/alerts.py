"""Alert state machines with hysteresis and a minimum duration.

A condition is *on* when its value reaches the threshold. It must stay on for
``min_duration_s`` before the alert is raised (a single noisy count does not alert), and once
raised it clears only after the value has stayed below ``threshold × (1 − hysteresis)`` for
``clear_after_s`` (so a count hovering at the threshold does not flap).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

AlertKind = Literal["over_capacity", "surge", "counter_flow"]
AlertState = Literal["raised", "cleared"]
AlertUnit = Literal["people", "people_per_m2", "crossings"]


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert was raised or cleared."""

    kind: AlertKind
    subject: str
    """Zone or line id."""
    state: AlertState
    at_s: float
    value: float
    threshold: float
    since_s: float
    """When the condition began (raised) or when the alert was raised (cleared)."""
    unit: AlertUnit = "people"


class HysteresisAlert:
    """One alert (kind × zone or line)."""

    def __init__(
        self,
        kind: AlertKind,
        subject: str,
        threshold: float,
        *,
        min_duration_s: float,
        clear_after_s: float,
        hysteresis: float,
        unit: AlertUnit = "people",
    ) -> None:
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.kind = kind
        self.unit: AlertUnit = unit
        self.subject = subject
        self.threshold = threshold
        self.clear_level = threshold * (1.0 - hysteresis)
        self._min_duration_s = min_duration_s
        self._clear_after_s = clear_after_s
        self.active = False
        self._on_since: float | None = None
        self._off_since: float | None = None
        self._raised_at = 0.0

    def observe(self, t_s: float, value: float) -> AlertChange | None:
        """Feed one value at time ``t_s`` (seconds, monotonic); return a change if the state flipped."""
        if not self.active:
            if value >= self.threshold:
                if self._on_since is None:
                    self._on_since = t_s
                if t_s - self._on_since >= self._min_duration_s:
                    self.active, self._off_since, self._raised_at = True, None, t_s
                    return AlertChange(
                        self.kind, self.subject, "raised", t_s, value, self.threshold, self._on_since, self.unit
                    )
            else:
                self._on_since = None
            return None
        if value < self.clear_level:
            if self._off_since is None:
                self._off_since = t_s
            if t_s - self._off_since >= self._clear_after_s:
                self.active, self._on_since = False, None
                return AlertChange(
                    self.kind, self.subject, "cleared", t_s, value, self.threshold, self._raised_at, self.unit
                )
        else:
            self._off_since = None
        return None


class WindowRate:
    """Change of a value over a sliding window (surge) or a count of events in it (counter-flow)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, t_s: float, value: float) -> None:
        self._samples.append((t_s, value))
        while self._samples and t_s - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def rise(self) -> float:
        """Latest value minus the lowest value in the window (0 when falling or empty)."""
        if not self._samples:
            return 0.0
        return max(0.0, self._samples[-1][1] - min(v for _, v in self._samples))

    def total(self) -> float:
        """Sum of the values in the window."""
        return sum(v for _, v in self._samples)
