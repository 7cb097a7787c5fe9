"""Impossible travel: the same subject at two cameras further apart than the time between allows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two WGS 84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a subject was last seen (a pending or confirmed candidate)."""

    camera_id: str
    at: datetime
    lat: float
    lon: float


def impossible_travel(previous: Sighting, current: Sighting, max_speed_kmh: float) -> str | None:
    """A sentence explaining why ``current`` is implausible after ``previous``, or None if plausible."""
    if previous.camera_id == current.camera_id:
        return None
    distance_km = haversine_km(previous.lat, previous.lon, current.lat, current.lon)
    hours = abs((current.at - previous.at).total_seconds()) / 3600.0
    if distance_km < 0.05:
        return None  # cameras at the same spot
    speed = distance_km / hours if hours > 0 else math.inf
    if speed <= max_speed_kmh:
        return None
    return (
        f"last seen at camera {previous.camera_id} at {previous.at.isoformat(timespec='seconds')}, "
        f"{distance_km:.1f} km away {hours * 60:.1f} min earlier: that needs {speed:,.0f} km/h, "
        f"above the {max_speed_kmh:g} km/h maximum; likely a false match"
    )
