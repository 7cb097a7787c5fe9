"""The watchlist gallery in memory: cosine similarity of a probe against every enrolled embedding.

A brute-force matrix product over L2-normalised float32 vectors: measured at about 1 ms for
100k entries of 128 floats on 2 cores (bench/faces_search.py), so no ANN index is needed.
Expiry is checked at match time, so an entry stops matching the moment it expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """One enrolled reference image's embedding."""

    subject_id: str
    reference_media: str
    embedding: NDArray[np.float32]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class GalleryMatch:
    """The best subject for a probe, when its similarity reached the threshold."""

    subject_id: str
    reference_media: str
    score: float


class Gallery:
    """Enrolled embeddings as one (N, D) matrix; a probe matches at most one subject."""

    def __init__(self, entries: Sequence[GalleryEntry], dim: int = 128) -> None:
        self.dim = dim
        self._subjects = np.array([e.subject_id for e in entries], dtype=object)
        self._media = [e.reference_media for e in entries]
        self._expires = np.array([e.expires_at.timestamp() for e in entries], dtype=np.float64)
        if entries:
            matrix = np.stack([np.asarray(e.embedding, np.float32).reshape(-1) for e in entries])
            if matrix.shape[1] != dim:
                raise ValueError(f"expected embeddings of length {dim}, got {matrix.shape[1]}")
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._matrix = np.ascontiguousarray(matrix / np.maximum(norms, 1e-12), np.float32)
        else:
            self._matrix = np.zeros((0, dim), np.float32)

    def __len__(self) -> int:
        return len(self._media)

    @property
    def subject_ids(self) -> frozenset[str]:
        return frozenset(str(s) for s in self._subjects)

    def scores(self, probe: NDArray[np.float32]) -> NDArray[np.float32]:
        """(N,) cosine similarity of ``probe`` ((D,), any norm) with every entry."""
        p = np.asarray(probe, np.float32).reshape(-1)
        if p.shape != (self.dim,):
            raise ValueError(f"expected a probe of shape ({self.dim},), got {p.shape}")
        return np.asarray(self._matrix @ (p / max(float(np.linalg.norm(p)), 1e-12)), np.float32)

    def match(self, probe: NDArray[np.float32], threshold: float, now: datetime) -> GalleryMatch | None:
        """The single best unexpired subject scoring at least ``threshold``, or None."""
        if len(self) == 0:
            return None
        scores = self.scores(probe)
        t = now.timestamp()
        best = int(np.argmax(scores))
        if not self._expires[best] > t:
            # Rare: the best entry has expired; search again among the live ones only.
            live = self._expires > t
            if not live.any():
                return None
            scores = np.where(live, scores, -np.inf)
            best = int(np.argmax(scores))
        if not float(scores[best]) >= threshold:
            return None
        return GalleryMatch(str(self._subjects[best]), self._media[best], float(scores[best]))
