"""fast-plate-ocr's CCT recognisers: a whole plate crop in, one character per slot and a country out.

The graph takes the plate crop stretched to a fixed size (uint8, scaling inside the graph) and
gives, for each of its character slots, probabilities over the alphabet (the pad character means
"no character here"); v2 also scores the plate's country (its region head). Slots are positions
from the left, not time steps, so a read is a plain argmax per slot: no CTC decoding, and each
character keeps its alternatives for the regional grammars (:mod:`vigil.plates.formats`).

The contract (alphabet, slots, input size, colour, regions) is checked against the graph by
:mod:`vigil.models.plate_ocr` when the model is installed and when it is loaded; the recogniser
here is given it already checked.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vigil.core.frame import BGRImage
from vigil.plates.ctc import Probs
from vigil.plates.text import PLATE_CHARS

_INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos4": cv2.INTER_LANCZOS4,
}


@dataclass(frozen=True, slots=True)
class CctRead:
    """One plate crop as the recogniser read it.

    Attributes:
        text: the characters of the non-pad slots, left to right (only A–Z0–9 are kept).
        confidence: mean probability of those characters (0 when none).
        alternatives: ``(len(text), 36)`` probabilities over A–Z0–9 for each character (the
            slot's probabilities without the pad, renormalised).
        country: the region head's most likely plate country, or None (v1 has no region head).
        country_confidence: its probability.
        least: probability of the least sure character (0 when none): what decides whether
            PP-OCR is asked for a second opinion.
    """

    text: str
    confidence: float
    alternatives: Probs = field(repr=False, compare=False)
    country: str | None = None
    country_confidence: float = 0.0
    least: float = 0.0


class CctRecogniser:
    """A checked CCT graph on ONNX Runtime, reading batches of plate crops."""

    def __init__(
        self,
        session: Any,
        *,
        name: str,
        alphabet: str,
        pad_char: str,
        height: int,
        width: int,
        rgb: bool = True,
        keep_aspect_ratio: bool = False,
        interpolation: str = "linear",
        input_name: str = "input",
        plate_output: str = "plate",
        region_output: str | None = None,
        regions: Sequence[str] = (),
        fixed_batch: bool = False,
        partner: CctRecogniser | None = None,
        workers: int = 1,
    ) -> None:
        """``workers``: how many runs of the graphs go at once (:meth:`_run_graphs`): the two graphs
        side by side, and a batch one graph reads alone split between them; 1 runs everything on
        the calling thread. Meant for sessions of one intra-op thread each (``workers`` threads
        in all), as the plates stage builds them (``vigil.workers.plates_stage.CCT_PARALLEL``)."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.name = name
        self._partner = partner
        self._session = session
        self._alphabet = alphabet
        self._height = height
        self._width = width
        self._rgb = rgb
        self._keep_ratio = keep_aspect_ratio
        self._interpolation = _INTERPOLATION[interpolation]
        self._input = input_name
        self._outputs = [plate_output] + ([region_output] if region_output else [])
        self.regions = tuple(regions)
        self._fixed_batch = fixed_batch
        # Columns of the alphabet that are plate characters, in PLATE_CHARS order.
        self._plate_cols = np.array([alphabet.index(c) if c in alphabet else -1 for c in PLATE_CHARS])
        self._pad = alphabet.index(pad_char)
        self._lock = threading.Lock()  # guards ``calls``: one recogniser serves several cameras
        self.calls = 0
        self.workers = workers
        # The calling thread is one worker; the pool holds the others (ONNX Runtime's sessions may
        # be run from several threads at once).
        self._pool = ThreadPoolExecutor(workers - 1, thread_name_prefix=f"{name}-run") if workers > 1 else None

    @property
    def has_region_head(self) -> bool:
        return len(self._outputs) == 2

    def _prepare(self, crop: BGRImage) -> np.ndarray[Any, np.dtype[np.uint8]]:
        h, w = crop.shape[:2]
        if self._keep_ratio:
            scale = min(self._width / w, self._height / h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            small = cv2.resize(crop, (nw, nh), interpolation=self._interpolation)
            image: np.ndarray[Any, np.dtype[np.uint8]] = np.zeros((self._height, self._width, 3), np.uint8)
            image[:nh, :nw] = small
        else:
            image = np.asarray(
                cv2.resize(crop, (self._width, self._height), interpolation=self._interpolation), dtype=np.uint8
            )
        if self._rgb:
            return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)[:, :, np.newaxis]

    @property
    def partner_name(self) -> str | None:
        """The second graph whose per-slot probabilities are averaged with this one's, if any."""
        return self._partner.name if self._partner is not None else None

    def read(self, crops: Sequence[BGRImage], *, with_partner: bool = True) -> list[CctRead]:
        """Read plate crops (BGR), in one batched call where the graph allows; empty crops read as ''.

        With a partner graph (v1 beside v2) the two graphs' per-slot probabilities are averaged
        over the slots both have (slots are left-aligned positions, so they correspond); the
        country comes from the graph with a region head. Measured on the US crops and labelled
        boxes, 2-fold: more exact reads than either graph alone (docs/plates.md). ``with_partner``
        False reads with this graph alone (the scene candidates: see the reader)."""
        usable = [i for i, c in enumerate(crops) if c.size and c.shape[0] >= 2 and c.shape[1] >= 2]
        out: list[CctRead] = [CctRead("", 0.0, np.zeros((0, 36), np.float32)) for _ in crops]
        if not usable:
            return out
        partner = self._partner if with_partner else None
        (plates, regions), got = self._run_graphs([crops[i] for i in usable], partner)
        if got is not None:
            other = got[0]
            n = min(plates.shape[1], other.shape[1])
            if other.shape[2] == plates.shape[2]:
                plates = plates.copy()
                plates[:, :n] = (plates[:, :n] + other[:, :n]) / 2
        for row, i in enumerate(usable):
            out[i] = self._decode(plates[row], None if regions is None else regions[row])
        return out

    def read_views(self, views: Sequence[BGRImage]) -> CctRead:
        """One plate read from several crops of it (``views``): per-slot probabilities averaged
        over the views, then with the partner graph's (averaged the same way), as :meth:`read`
        does for one crop; the country from the region head's averaged scores. Empty views are
        left out; none usable reads as ''."""
        return self.read_plates_views([views])[0]

    def read_plates_views(self, plates: Sequence[Sequence[BGRImage]]) -> list[CctRead]:
        """Several plates, each read from its views as :meth:`read_views` does, with one batched
        run of each graph for all of them."""
        empty = CctRead("", 0.0, np.zeros((0, 36), np.float32))
        usable = [[v for v in views if v.size and v.shape[0] >= 2 and v.shape[1] >= 2] for views in plates]
        flat = [v for views in usable for v in views]
        if not flat:
            return [empty for _ in plates]
        (probs, regions), got = self._run_graphs(flat, self._partner)
        other = got[0] if got is not None else None
        out: list[CctRead] = []
        start = 0
        for views in usable:
            if not views:
                out.append(empty)
                continue
            part = slice(start, start + len(views))
            start += len(views)
            slots = probs[part].mean(axis=0)
            if other is not None:
                n = min(slots.shape[0], other.shape[1])
                if other.shape[2] == slots.shape[1]:
                    slots = slots.copy()
                    slots[:n] = (slots[:n] + other[part, :n].mean(axis=0)) / 2
            out.append(self._decode(slots, None if regions is None else regions[part].mean(axis=0)))
        return out

    def probabilities(self, crops: Sequence[BGRImage]) -> tuple[Probs, Probs | None]:
        """The graph's raw outputs for non-empty crops: per-slot ``(N, slots, classes)`` and, with a
        region head, ``(N, regions)``."""
        return self._run_graphs(crops, None)[0]

    def _run_graphs(
        self, crops: Sequence[BGRImage], partner: CctRecogniser | None
    ) -> tuple[tuple[Probs, Probs | None], tuple[Probs, Probs | None] | None]:
        """:meth:`probabilities` of this graph and of ``partner`` (None: this graph alone), with up
        to :attr:`workers` runs at once: each graph's batch is cut into ``workers // graphs`` parts
        (at least one), and the parts run side by side, the first on the calling thread. The
        outputs are those of one run over the whole batch, bit for bit (each crop's numbers do not
        depend on the others in its batch nor on the threads: ``bench/plates_cct_parallel.py``)."""
        graphs = [self] if partner is None else [self, partner]
        batches = [g._batch(crops) for g in graphs]
        per_graph = max(1, self.workers // len(graphs))
        jobs: list[tuple[CctRecogniser, np.ndarray[Any, np.dtype[np.uint8]]]] = []
        for graph, batch in zip(graphs, batches, strict=True):
            jobs += [(graph, part) for part in np.array_split(batch, min(per_graph, len(batch))) if len(part)]
        pool = self._pool
        later = [pool.submit(g._run_batch, part) for g, part in jobs[1:]] if pool is not None else []
        done = [jobs[0][0]._run_batch(jobs[0][1])]
        done += [f.result() for f in later] if pool is not None else [g._run_batch(part) for g, part in jobs[1:]]
        results: list[tuple[Probs, Probs | None]] = []
        for graph in graphs:
            with graph._lock:
                graph.calls += 1
            mine = [out for (g, _), out in zip(jobs, done, strict=True) if g is graph]
            plates = np.concatenate([np.asarray(m[0], dtype=np.float32) for m in mine])
            regions = np.concatenate([np.asarray(m[1], dtype=np.float32) for m in mine]) if len(mine[0]) > 1 else None
            results.append((plates, regions))
        return results[0], (results[1] if partner is not None else None)

    def _batch(self, crops: Sequence[BGRImage]) -> np.ndarray[Any, np.dtype[np.uint8]]:
        return np.stack([self._prepare(c) for c in crops])

    def _run_batch(self, batch: np.ndarray[Any, np.dtype[np.uint8]]) -> list[Any]:
        """One run of the graph over ``batch`` (one crop at a time for a fixed-batch graph)."""
        if self._fixed_batch:
            parts = [self._session.run(self._outputs, {self._input: batch[j : j + 1]}) for j in range(len(batch))]
            results = [np.concatenate([p[k] for p in parts]) for k in range(len(self._outputs))]
        else:
            results = list(self._session.run(self._outputs, {self._input: batch}))
        return results

    def _decode(self, slots: Probs, region: Probs | None) -> CctRead:
        best = slots.argmax(axis=1)
        keep = [s for s in range(len(best)) if best[s] != self._pad and self._alphabet[best[s]] in PLATE_CHARS]
        text = "".join(self._alphabet[best[s]] for s in keep)
        probs = [float(slots[s, best[s]]) for s in keep]
        conf = float(np.mean(probs)) if keep else 0.0
        alt = np.zeros((len(keep), len(PLATE_CHARS)), np.float32)
        for row, s in enumerate(keep):
            have = self._plate_cols >= 0
            alt[row, have] = slots[s, self._plate_cols[have]]
            total = float(alt[row].sum())
            if total > 0:
                alt[row] /= total
        country: str | None = None
        country_conf = 0.0
        if region is not None and len(self.regions) == len(region):
            k = int(region.argmax())
            country, country_conf = self.regions[k], float(region[k])
        return CctRead(text, conf, alt, country, country_conf, min(probs) if probs else 0.0)
