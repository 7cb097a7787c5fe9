"""The plates stage: builds a :class:`~vigil.workers.stages.FrameStage` for a camera, or None
when the feature is off.

Per vehicle track it reads a few chosen frames (large enough, sharp, track seen at least
twice, spaced in time; at most ``reads_per_track``), searching a generous region around the
vehicle because detector boxes of close-up cars often cut the plate off. Once the last of
those frames has been read (or the track ends sooner) the reads are voted into one, so a car
that stops in view is not waited for; a hotlist hit raises a ``candidate.raised`` (kind ``plate``)
with the plate crop, and the read itself is stored only while retention allows
(``retention_hours`` 0: never).

A vehicle the detector does not see at all (a close-up car filling an ANPR camera's view) has
no track to read. With ``frame_scan_s`` set, the whole frame is also read at that interval;
its plates outside every tracked vehicle's region are grouped into plate tracks of their own
(the same plate text within one edit, or the same place), which end, are voted and checked
against the hotlist like vehicle tracks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from vigil.config.plates import PlatesConfig
from vigil.core.errors import ModelMissingError, VigilError
from vigil.core.frame import Frame
from vigil.core.ids import new_id
from vigil.core.onnx_session import make_session
from vigil.core.openvino_session import choose_runtime
from vigil.events import AnyEvent, BoundingBox, CandidateRaised
from vigil.events.candidates import CandidateFlag
from vigil.events.plates import PlateReadEvent, PlateReadSummary
from vigil.models.install import require, verify
from vigil.models.plate_ocr import check_plate_ocr, plate_ocr_files
from vigil.plates.cct import CctRecogniser
from vigil.plates.hotlist import HotlistPlate, ReadOrigin, match_plate, other_region
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine
from vigil.plates.platedet import PlateDetector
from vigil.plates.reader import PlateRead, PlateReader
from vigil.plates.text import plate_distance
from vigil.plates.vote import VotedRead, vote
from vigil.store.facade import Store
from vigil.store.media import MediaStore, snapshot_path
from vigil.store.policies import PLATE_MIN_CONFIDENCE
from vigil.workers.stages import FrameStage, StageContext, StageInput

log = logging.getLogger(__name__)

HOTLIST_REFRESH_S = 30.0
"""How often the stage reloads the hotlist (new entries match, expired ones stop)."""


@dataclass(slots=True)
class _TrackReads:
    seen: int = 0
    attempts: int = 0
    last_read_pts: float = -1e9
    reads: list[PlateRead] = field(default_factory=list)
    last_frame: Frame | None = None


Box = tuple[float, float, float, float]

SCAN_SAME_PLATE_DISTANCE = 1.0
"""Whole-frame reads this close (edits; a confusable pair counts half) are one plate."""
SCAN_SAME_PLACE_IOU = 0.3
SCAN_SAME_PLACE_DISTANCE = 2.0
"""… as are reads whose boxes overlap this much and whose text is this close (a plate misread in
one scan, still in place); a plate further off is another car, come up to the same spot."""
SCAN_MISSES_TO_END = 3
"""A plate track from whole-frame reads ends after this many scans in a row without it: counted
in scans, not seconds, because the motion gate lets a still view through only now and then."""
SAME_PLATE_WINDOW_S = 60.0
"""A plate voted again this soon after it was last seen voted on this camera is the same sighting
(a plate track after a vehicle track or another plate track; a vehicle track after a plate track):
a car parked in view, seen by scans only now and then, is reported once, not every few scans."""


@dataclass(slots=True)
class _ScanTrack:
    """A plate seen by whole-frame reads: where and as what it was last read, and when."""

    box: Box
    text: str
    last_pts: float
    reported: bool = False  # voted at the reads_per_track bound; still followed, not read again
    misses: int = 0  # scans in a row that did not see it


@dataclass(frozen=True, slots=True)
class _Voted:
    """A plate voted on this camera lately, and whether by a plate track of whole-frame reads."""

    text: str
    last_pts: float
    scan: bool


@dataclass(slots=True)
class PlateStageStats:
    """Cost accounting: frames read and OCR calls, per vehicle."""

    vehicles: int = 0
    vehicles_read: int = 0
    max_frames_per_vehicle: int = 0
    frames_read: int = 0
    ocr_calls: int = 0
    read_s: float = 0.0
    plates: int = 0
    hits: int = 0
    frames_scanned: int = 0
    scan_s: float = 0.0


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of a grey, at most 256 px wide thumbnail (focus and motion blur)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if grey.shape[1] > 256:
        f = 256.0 / grey.shape[1]
        grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class PlatesStage:
    """Reads plates of vehicle tracks of one camera (and, with ``frame_scan_s``, of whole frames)."""

    name = "plates"

    def __init__(
        self,
        camera_id: str,
        cfg: PlatesConfig,
        reader: PlateReader,
        hotlist: Callable[[], list[HotlistPlate]],
        media: MediaStore | None,
        min_confidence: Callable[[], float] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._cfg = cfg
        self._load_min_confidence = min_confidence or (lambda: cfg.min_confidence)
        self._min_confidence = cfg.min_confidence
        self._reader = reader
        self._load_hotlist = hotlist
        self._hotlist: list[HotlistPlate] = []
        self._hotlist_at = -1e9
        self._media = media
        self._tracks: dict[str, _TrackReads] = {}
        self._scans: dict[str, _ScanTrack] = {}  # plate tracks of whole-frame reads (also in _tracks)
        self._last_scan_pts = -1e9
        self._voted: list[_Voted] = []  # to tell a plate seen by both kinds of track (once)
        self._reported: set[str] = set()  # vehicle tracks voted at their bound, still in view
        self.stats = PlateStageStats()

    def process(self, inp: StageInput) -> list[AnyEvent]:
        frame = inp.frame
        tracked = inp.tracked
        vehicle_regions: list[Box] = []
        events: list[AnyEvent] = []
        for i, track_id in enumerate(inp.track_ids):
            cls = int(tracked.class_id[i])
            name = inp.class_names[cls] if 0 <= cls < len(inp.class_names) else ""
            if name not in self._cfg.vehicle_classes:
                continue
            x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
            region = _search_region((x1, y1, x2, y2))
            vehicle_regions.append(region)
            state = self._tracks.get(track_id)
            if state is None:
                if track_id in self._reported:
                    continue  # voted already, while still in view
                state = self._tracks[track_id] = _TrackReads()
                self.stats.vehicles += 1
            state.seen += 1
            if not self._worth_reading(state, frame, (x1, y1, x2, y2)):
                continue
            state.attempts += 1
            if state.attempts == 1:
                self.stats.vehicles_read += 1
            self.stats.max_frames_per_vehicle = max(self.stats.max_frames_per_vehicle, state.attempts)
            state.last_read_pts = frame.pts_s
            reads, seconds = self._read(frame, region)
            self.stats.read_s += seconds
            self.stats.frames_read += 1
            if reads:
                state.reads.append(reads[0])
                state.last_frame = frame
            if state.attempts >= self._cfg.reads_per_track:
                # No frame of it will be read again: vote now, so that a hit is raised while the
                # vehicle is still in view (stopped at a barrier, in a queue), not when it leaves.
                events.extend(self._finalise(track_id))
                self._reported.add(track_id)
        for track_id in inp.ended:
            self._reported.discard(track_id)
            events.extend(self._finalise(track_id))
        if self._cfg.frame_scan_s > 0:
            events.extend(self._scan(frame, vehicle_regions))
        return events

    def _read(self, frame: Frame, roi: Box | None) -> tuple[list[PlateRead], float]:
        """The best plate in ``roi`` (None: the whole frame), and the seconds it took; counts OCR calls."""
        calls0 = self._reader.ocr_calls
        t0 = time.perf_counter()
        # A whole-frame scan (roi None) mostly sees no plate: no full-resolution second look there.
        reads = self._reader.read_scene(frame.image, roi, max_reads=1, full_resolution=roi is not None)
        self.stats.ocr_calls += self._reader.ocr_calls - calls0
        return reads, time.perf_counter() - t0

    def _scan(self, frame: Frame, vehicle_regions: list[Box]) -> list[AnyEvent]:
        """Read the whole frame when the interval is due; end plate tracks no longer seen."""
        cfg = self._cfg
        events: list[AnyEvent] = []
        if frame.pts_s - self._last_scan_pts >= cfg.frame_scan_s:
            self._last_scan_pts = frame.pts_s
            reads, seconds = self._read(frame, None)
            self.stats.scan_s += seconds
            self.stats.frames_scanned += 1
            seen: set[str] = set()
            for read in reads:
                cx, cy = (read.box[0] + read.box[2]) / 2, (read.box[1] + read.box[3]) / 2
                if any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in vehicle_regions):
                    continue  # a tracked vehicle's plate: its track reads it
                events.extend(self._add_scan_read(frame, read, seen))
            for track_id, scan in list(self._scans.items()):
                scan.misses = 0 if track_id in seen else scan.misses + 1
                if scan.misses >= SCAN_MISSES_TO_END:
                    if scan.reported:  # reported long ago, maybe: its sighting lasted until now
                        self._voted.append(_Voted(scan.text, scan.last_pts, scan=True))
                    events.extend(self._finalise(track_id))
        return events

    def _add_scan_read(self, frame: Frame, read: PlateRead, seen: set[str]) -> list[AnyEvent]:
        """Add a whole-frame read to the plate track it continues (or a new one), whose id goes
        into ``seen``; its vote once the track has ``reads_per_track`` reads."""
        track_id = next(
            (
                t
                for t, s in self._scans.items()
                if (distance := plate_distance(read.text, s.text)) <= SCAN_SAME_PLATE_DISTANCE
                or (distance <= SCAN_SAME_PLACE_DISTANCE and box_iou(read.box, s.box) >= SCAN_SAME_PLACE_IOU)
            ),
            None,
        )
        if track_id is None:
            track_id = f"plate-scan-{new_id()}"
            self._tracks[track_id] = _TrackReads()
            self._scans[track_id] = _ScanTrack(read.box, read.text, frame.pts_s)
        scan = self._scans[track_id]
        scan.box, scan.text, scan.last_pts = read.box, read.text, frame.pts_s
        seen.add(track_id)
        if scan.reported:
            return []
        state = self._tracks[track_id]
        state.seen += 1
        state.reads.append(read)
        state.last_frame = frame
        if len(state.reads) < self._cfg.reads_per_track:  # the same bound as a vehicle's
            return []
        # Voted at the bound, like a vehicle's; the plate track is still followed (and ends
        # unreported) so that later scans of the same plate do not start another.
        events = self._finalise(track_id)
        scan.reported = True
        self._scans[track_id] = scan
        return events

    def finish(self) -> list[AnyEvent]:
        events: list[AnyEvent] = []
        for track_id in list(self._tracks):
            events.extend(self._finalise(track_id))
        events.append(self.summary())
        return events

    def summary(self) -> PlateReadSummary:
        """The run's cost and outcome as an event: counters only, nothing about any vehicle."""
        s = self.stats
        read_ms = 1000.0 * s.read_s
        return PlateReadSummary(
            camera_id=self.camera_id,
            occurred_at=datetime.now().astimezone(),
            vehicles=s.vehicles,
            vehicles_read=s.vehicles_read,
            frames_read=s.frames_read,
            reads_per_track=self._cfg.reads_per_track,
            max_frames_per_vehicle=s.max_frames_per_vehicle,
            ocr_calls=s.ocr_calls,
            read_ms=round(read_ms, 1),
            ms_per_vehicle_read=round(read_ms / s.vehicles_read, 1) if s.vehicles_read else 0.0,
            frames_scanned=s.frames_scanned,
            scan_ms=round(1000.0 * s.scan_s, 1),
            plates=s.plates,
            hits=s.hits,
            reads_stored=self._cfg.retention_hours > 0,
        )

    def _worth_reading(self, state: _TrackReads, frame: Frame, box: tuple[float, float, float, float]) -> bool:
        cfg = self._cfg
        if state.attempts >= cfg.reads_per_track or state.seen < 2:
            return False
        if frame.pts_s - state.last_read_pts < cfg.min_interval_s:
            return False
        if box[2] - box[0] < cfg.min_vehicle_px:
            return False
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        crop = frame.image[y1 : max(y1, int(box[3])), x1 : max(x1, int(box[2]))]
        return crop.size > 0 and sharpness(crop) >= cfg.min_sharpness

    def _hotlist_now(self) -> list[HotlistPlate]:
        now = time.monotonic()
        if now - self._hotlist_at >= HOTLIST_REFRESH_S:
            self._hotlist = self._load_hotlist()
            self._min_confidence = self._load_min_confidence()
            self._hotlist_at = now
        return self._hotlist

    def _min_confidence_now(self) -> float:
        self._hotlist_now()  # reloaded together: the list and the bar a read must clear to match it
        return self._min_confidence

    def _finalise(self, track_id: str) -> list[AnyEvent]:
        scan = self._scans.pop(track_id, None) is not None
        state = self._tracks.pop(track_id, None)
        if state is None or not state.reads or state.last_frame is None:
            return []
        voted = vote(state.reads)
        if voted is None or voted.confidence < self._min_confidence_now():
            return []
        if self._seen_already(voted.text, state.last_frame.pts_s, scan):
            return []
        self.stats.plates += 1
        hits = match_plate(
            voted.text, self._hotlist_now(), fuzzy=self._cfg.fuzzy, max_distance=self._cfg.max_edit_distance
        )
        store_read = self._cfg.retention_hours > 0
        if not hits and not store_read:
            return []  # retention 0: a read that hit nothing is never stored, not even its crop
        when = state.last_frame.captured_at
        read_id = new_id()
        crop = self._save_crop(read_id, voted, when)
        events: list[AnyEvent] = []
        origin = ReadOrigin(
            voted.country, voted.country_confidence, voted.best.region, voted.best.strict, self._cfg.regions
        )
        for hit in hits:
            self.stats.hits += 1
            flags: list[CandidateFlag] = []
            why: list[str] = []
            if hit.fuzzy:
                flags.append("fuzzy")
                why.append(f"read {voted.text} differs from listed {hit.plate} (distance {hit.distance:g})")
            foreign = None if hit.region is None else other_region(hit.region, origin)
            if foreign is not None:
                flags.append("other_region")
                why.append(foreign)
            events.append(
                CandidateRaised(
                    camera_id=self.camera_id,
                    occurred_at=when,
                    kind="plate",
                    list_entry_id=hit.entry_id,
                    track_id=track_id,
                    score=voted.confidence,
                    probe_media=crop,
                    observed=voted.text,
                    flags=tuple(flags),
                    detail="; ".join(why) or None,
                )
            )
        if store_read:
            b = voted.best.box
            events.append(
                PlateReadEvent(
                    event_id=read_id,
                    camera_id=self.camera_id,
                    occurred_at=when,
                    track_id=track_id,
                    plate=voted.text,
                    confidence=voted.confidence,
                    region=voted.best.region,
                    country=voted.country,
                    country_confidence=None if voted.country is None else round(voted.country_confidence, 4),
                    n_reads=voted.n_reads,
                    box=BoundingBox(x1=b[0], y1=b[1], x2=max(b[0], b[2]), y2=max(b[1], b[3])),
                    crop=crop,
                    hit=bool(hits),
                )
            )
        return events

    def _seen_already(self, text: str, pts: float, scan: bool) -> bool:
        """Whether this plate was just reported on this camera by a track that whole-frame scans
        may have split from this one (then it is not reported again).

        A scan can see a plate before the tracker confirms its vehicle, or while it loses it;
        and a car parked in view can drop out of a few scans and come back as a new plate track.
        Only the first to end reports it, and a plate track yields to a vehicle still being read.
        Two vehicle tracks are left as they were: without scans nothing changes.
        """
        self._voted = [v for v in self._voted if abs(pts - v.last_pts) <= SAME_PLATE_WINDOW_S]
        match = [
            v for v in self._voted if (scan or v.scan) and plate_distance(text, v.text) <= SCAN_SAME_PLATE_DISTANCE
        ]
        if match:
            # Still in view: the window runs from its latest sighting.
            self._voted = [_Voted(v.text, pts, v.scan) if v in match else v for v in self._voted]
            return True
        same = False
        if scan:
            same = any(
                plate_distance(text, r.text) <= SCAN_SAME_PLATE_DISTANCE
                for t, state in self._tracks.items()
                if t not in self._scans
                for r in state.reads
            )
        if not same:
            self._voted.append(_Voted(text, pts, scan))
        return same

    def _save_crop(self, read_id: str, voted: VotedRead, when: datetime) -> str | None:
        crop = voted.best.crop
        if self._media is None or crop.size == 0:
            return None
        rel = snapshot_path(self.camera_id, read_id, when).replace("snapshots/", "plates/", 1)
        try:
            # The plate's own box, nothing around it: no face to blur, and a false face found in
            # the characters would blur the evidence a reviewer checks the read against.
            return self._media.save_jpeg(rel, crop, keep_faces="plate crop (the plate region only)")
        except VigilError as exc:
            log.warning("camera %s: plate crop not saved: %s", self.camera_id, exc)
            return None


def _search_region(box: Box) -> Box:
    """Where a vehicle's plate is looked for: generous, because plates sit low on a vehicle and
    detector boxes cut close-up cars off."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return (x1 - 0.25 * w, y1 - 0.1 * h, x2 + 0.25 * w, y2 + 0.4 * h)


PLATEDET_MODEL = "platedet"
PLATEDET_FILE = "platedet.onnx"


def build_plate_reader(
    cfg: PlatesConfig,
    models_dir: Path,
    regions: tuple[str, ...] | None = None,
    localiser: str | None = None,
    recogniser: str | None = None,
) -> PlateReader:
    """The plate reader ``cfg`` asks for (``regions``/``localiser`` override the config).

    Raises:
        ModelMissingError: localiser 'platedet' and the optional model is not installed.
        ModelError: text_detector_runtime 'openvino' and OpenVINO is not installed.
    """
    detector = None
    if (localiser or cfg.localiser) == "platedet":
        # Optional AGPL-3.0 model: only ever loaded when the operator chose it.
        path = require(models_dir, PLATEDET_MODEL) / PLATEDET_FILE
        detector = PlateDetector(make_session(path, cfg.threads), confidence=cfg.detector_confidence)
    choice = choose_runtime(cfg.text_detector_runtime)
    log.info("plates: text detector on %s %s (%s)", choice.runtime, choice.precision, choice.why)
    return PlateReader(
        RapidTextEngine(threads=cfg.threads, detector_runtime=choice),
        regions or cfg.regions,
        scene_text=cfg.scene_text,
        detector=detector,
        detector_fallback=cfg.detector_fallback,
        formats=cfg.formats,
        cct=build_cct(recogniser or cfg.recogniser, models_dir, cfg.threads),
    )


CCT_SPIN = False
"""Whether the CCT recogniser's ONNX Runtime threads spin while idle (see :func:`make_session`)."""

CCT_PARALLEL = True
"""The CCT graphs' ``plates.threads`` are spent on runs side by side instead of inside each run:
every graph gets a session of one intra-op thread, and the recogniser runs up to ``plates.threads``
of them at once (v2 beside v1 on a plate's views, a batch read by one graph split between them;
``CctRecogniser(workers=...)``). A graph of a few ms has some 200 small steps, each of which two
intra-op threads that do not spin (:data:`CCT_SPIN`) had to hand over between them; two graphs side by
side hand over once. The outputs are the same bit for bit (``bench/plates_cct_parallel.py``: every
crop, both ways). Measured in one process on a 2-core AMD EPYC (docs/plates.md, eleventh round).
(False: one graph at a time on ``plates.threads`` intra-op threads, the reader before; for the bench.)"""

CCT_MODELS = {"cct": ("plates-cct", "plates-cct-v1"), "cct-v1": ("plates-cct-v1",)}
"""Installed models tried for each recogniser choice, in order: CCT-XS v1 is v2's fallback."""


def build_cct(recogniser: str, models_dir: Path, threads: int) -> CctRecogniser | None:
    """The plate-trained recogniser chosen, its config checked against its graph; None for 'ppocr'.

    Raises:
        ModelMissingError: none of its models is installed (the message names the install command).
        ModelError: the installed config disagrees with the graph.
    """
    names = CCT_MODELS.get(recogniser)
    if names is None:
        return None
    missing: ModelMissingError | None = None
    for name in names:
        try:
            model_dir = require(models_dir, name)
        except ModelMissingError as exc:
            missing = missing or exc
            continue
        if name != names[0]:
            log.warning("plates: %s; reading plates with its fallback %s", missing, name)
        # v1 beside v2: their per-slot probabilities are averaged (more exact reads than either).
        partner = None
        if name == "plates-cct" and verify(models_dir, ["plates-cct-v1"])[0].status == "ok":
            partner = _load_cct("plates-cct-v1", models_dir / "plates-cct-v1", threads, lead=False)
        return _load_cct(name, model_dir, threads, partner)
    assert missing is not None
    raise missing


def _load_cct(
    name: str, model_dir: Path, threads: int, partner: CctRecogniser | None = None, *, lead: bool = True
) -> CctRecogniser:
    """One CCT graph, its threads as :data:`CCT_PARALLEL` says; ``lead`` False: a partner graph, run
    by its lead's workers."""
    contract = check_plate_ocr(*plate_ocr_files(model_dir))
    return CctRecogniser(
        # Small graphs, a few ms a run: threads that spin between runs only burn the shared cores
        # (bench/plates_cct_threads.py, docs/plates.md: same reads, 0.73x the time on a loaded box).
        make_session(contract.onnx_path, 1 if CCT_PARALLEL else threads, spin=CCT_SPIN),
        name=name,
        alphabet=contract.alphabet,
        pad_char=contract.pad_char,
        height=contract.height,
        width=contract.width,
        rgb=contract.rgb,
        keep_aspect_ratio=contract.keep_aspect_ratio,
        interpolation=contract.interpolation,
        input_name=contract.input_name,
        plate_output=contract.plate_output,
        region_output=contract.region_output,
        regions=contract.regions,
        fixed_batch=contract.fixed_batch,
        partner=partner,
        workers=threads if CCT_PARALLEL and lead else 1,
    )


def build_plates_stage(ctx: StageContext) -> FrameStage | None:
    """The plates stage for ``ctx.camera``, or None when the feature is off."""
    cfg = ctx.cfg.plates
    if not (cfg.enabled or "plates" in ctx.features):
        return None
    if ctx.camera.plates_frame_scan_s is not None:
        cfg = cfg.model_copy(update={"frame_scan_s": ctx.camera.plates_frame_scan_s})
    reader = build_plate_reader(cfg, ctx.cfg.resolved_models_dir)
    store = ctx.store
    # A scale-out worker's store answers from its lists replica with a live view (current at
    # every match, empty while stale), which the stage's 30 s reload must not freeze.
    live: Callable[[], list[HotlistPlate]] | None = getattr(store.plates, "live_hotlist", None)

    def hotlist() -> list[HotlistPlate]:
        if live is not None:
            return live()
        return store.plates.active_plates()

    def min_confidence() -> float:
        return plate_min_confidence(store, cfg)

    return PlatesStage(ctx.camera.id, cfg, reader, hotlist, ctx.media, min_confidence)


def plate_min_confidence(store: Store, cfg: PlatesConfig) -> float:
    """The least voted-read confidence in force: the ``plates.min_confidence`` policy where set
    (and no laxer than the config's), else the config's. A scale-out worker's ``store`` answers
    from its lists replica."""
    policy = store.governance.policies.get(PLATE_MIN_CONFIDENCE)
    value = None if policy is None else policy.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(float(value), cfg.min_confidence)
    return cfg.min_confidence
