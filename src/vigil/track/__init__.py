"""Per-camera multi-object tracking and the lifecycle of each track."""

from vigil.track.bytetrack import ObjectTracker
from vigil.track.lifecycle import TrackChange, TrackLifecycle, TrackState

__all__ = ["ObjectTracker", "TrackChange", "TrackLifecycle", "TrackState"]
