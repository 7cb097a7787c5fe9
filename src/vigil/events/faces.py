"""Events of the faces feature. Matches are ``candidate.raised`` events (``events/candidates.py``);
what is here carries counters only: never a crop, an embedding or anything about a person.

``FACE_EVENTS`` is the union that ``events/registry.py`` includes in ``AnyEvent``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.events.models import EventBase


class FaceSearchSummary(EventBase):
    """What the faces stage of one camera did during a run (published when the stream ends)."""

    type: Literal["faces.search_summary"] = "faces.search_summary"
    schema_version: Literal[1] = 1
    tracks_searched: int = Field(ge=0, description="Person tracks whose best frames were searched.")
    frames_searched: int = Field(ge=0, description="Person crops searched for a face.")
    faces_detected: int = Field(ge=0)
    faces_embedded: int = Field(ge=0, description="Faces that passed the quality gate (embeddings discarded).")
    rejected: dict[str, int] = Field(default_factory=dict, description="Quality-gate rejections by reason.")
    candidates: int = Field(ge=0, description="Candidates raised.")
    watchlist_size: int = Field(ge=0, description="Unexpired subjects matched against.")


FACE_EVENTS = FaceSearchSummary
