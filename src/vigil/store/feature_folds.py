"""Folding of feature events (candidates, faces, plates, crowd) into their tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from vigil.store.candidates import fold_candidates
from vigil.store.clips import fold_clips
from vigil.store.crowd import fold_crowd
from vigil.store.faces import fold_faces
from vigil.store.plates import fold_plates


def fold_features(session: Session, events: Sequence[Any]) -> None:
    """Each feature folds the newly stored events of its own types, in the batch's transaction."""
    fold_candidates(session, events)
    fold_faces(session, events)
    fold_plates(session, events)
    fold_crowd(session, events)
    fold_clips(session, events)
