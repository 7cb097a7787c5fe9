"""Event bus: the contract and its in-memory implementation."""

from vigil.bus.base import (
    BusClosedError,
    BusError,
    BusFullError,
    DeadLetterStats,
    EventBus,
    EventHandler,
)
from vigil.bus.memory import InMemoryBus

__all__ = [
    "BusClosedError",
    "BusError",
    "BusFullError",
    "DeadLetterStats",
    "EventBus",
    "EventHandler",
    "InMemoryBus",
]
