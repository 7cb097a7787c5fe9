"""The face watchlist: enrol, list, show, remove and purge, whichever door asks.

The enrolment rules live here once (they used to be written in the API and the CLI apart):
a subject id that is safe as a file name, a display name, a legal basis, an authoriser, an
expiry (the one rule of :func:`vigil.core.accountability.parse_expiry`) within
``faces.max_expiry_days``, 1 to ``faces.max_reference_images`` images with one provenance for
all or one each, room under ``faces.watchlist_cap``, and exactly one usable face in every image
(every header is checked before any model work). The enroller is the actor, never a typed name.
Nothing is enrolled unless all of it holds, and the enrolment is written with its
``watchlist.enrol`` record in one transaction; removals likewise with ``watchlist.remove``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from vigil.config import VigilConfig
from vigil.core.accountability import Authorisation, parse_expiry
from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, ImageRefusedError, InputError, NotFoundError, PolicyError
from vigil.faces import FacePipeline, read_image
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.recorder import Recorder
from vigil.services.rules import need_reason, optional_reason
from vigil.store.facade import Store
from vigil.store.faces import NewReference, SubjectRecord
from vigil.store.media import MediaStore
from vigil.workers.faces_stage import active_threshold, load_face_pipeline

MANAGE = "watchlist.manage"
READ = "watchlist.read"
_SUBJECT_ID = re.compile(r"[^./\\\x00][^/\\\x00]{0,127}")


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A subject to enrol as a person types it (any door): the expiry is text, read by one rule.

    Attributes:
        provenance: where the images came from: one for all of them, or one per image.
    """

    subject_id: str
    display_name: str
    legal_basis: str
    authorised_by: str
    expires: str
    provenance: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReferenceImage:
    """A reference image on disk and the name a person knows it by (errors name that, not the path)."""

    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class Purged:
    subject_ids: list[str]
    reference_images: int


@dataclass(frozen=True, slots=True)
class SubjectPage:
    """A page of subjects and how many matched."""

    items: list[SubjectRecord]
    total: int


@dataclass(frozen=True, slots=True)
class WatchlistState:
    """The size, the cap and the threshold in force with its false-match rate, shown together:
    false alerts grow with the watchlist's size.

    Attributes:
        false_match_rate: per comparison, measured at the threshold in force (None: not measured there).
        false_match_rate_per_search: the chance that one probe falsely matches some subject,
            ``1 - (1 - FMR)^size``.
    """

    size: int
    cap: int
    threshold: float
    calibrated: bool
    false_match_rate: float | None
    false_match_rate_per_search: float | None


def state(services: Services) -> WatchlistState:
    """The watchlist's size and cap with the threshold in force (counts only: not audited)."""
    return state_of(services.store, services.config)


def state_of(store: Store, config: VigilConfig) -> WatchlistState:
    """:func:`state` of ``store`` (for the transparency report, which is given its store)."""
    size = store.faces.count()
    in_force = active_threshold(store, config, None)
    fmr = in_force.false_match_rate
    return WatchlistState(
        size=size,
        cap=config.faces.watchlist_cap,
        threshold=in_force.threshold,
        calibrated=in_force.source == "calibration",
        false_match_rate=fmr,
        false_match_rate_per_search=None if fmr is None else 1.0 - (1.0 - fmr) ** size,
    )


# -- the face pipeline ------------------------------------------------------------------------

_pipelines: dict[tuple[str, str], FacePipeline] = {}
_pipeline_lock = threading.Lock()
_analysis_lock = threading.Lock()


def face_pipeline(config: VigilConfig) -> FacePipeline:
    """The deployment's face pipeline, loaded once per models dir and settings (per process).

    Raises:
        ModelMissingError: YuNet or SFace is not installed (the message names the command).
    """
    key = (str(config.resolved_models_dir), config.faces.model_dump_json())
    with _pipeline_lock:
        pipe = _pipelines.get(key)
        if pipe is None:
            pipe = _pipelines[key] = load_face_pipeline(config)
        return pipe


def _named(exc: InputError, image: ReferenceImage) -> ImageRefusedError:
    return ImageRefusedError(str(exc).replace(str(image.path), image.name).splitlines()[0])


def _references(
    config: VigilConfig, images: Sequence[ReferenceImage], provenance: Sequence[str], pipe: FacePipeline | None
) -> tuple[list[NewReference], str]:
    """Every header and decode first (no model work for a bad file), then one usable face each."""
    for image in images:
        try:
            read_image(image.path, config.faces.max_image_megapixels)
        except InputError as exc:
            raise _named(exc, image) from exc
    pipe = pipe or face_pipeline(config)
    refs: list[NewReference] = []
    for i, image in enumerate(images):
        try:
            with _analysis_lock:  # one OpenCV network per process: not safe across threads
                ref = pipe.reference(image.path)
        except InputError as exc:
            raise _named(exc, image) from exc
        refs.append(
            NewReference(
                source_name=image.name,
                image=ref.image,
                embedding=ref.embedding,
                provenance=provenance[i if len(provenance) > 1 else 0],
                face_px=ref.face.verdict.face_px,
                detector_score=ref.face.verdict.score,
                face_box=ref.face.box,
            )
        )
    return refs, pipe.embedder.name


# -- changes ---------------------------------------------------------------------------------


def enrol(
    services: Services,
    actor: Actor,
    enrolment: Enrolment,
    images: Sequence[ReferenceImage],
    *,
    pipeline: FacePipeline | None = None,
) -> SubjectRecord:
    """Enrol a subject: all images or none; ``actor`` is recorded as the enroller.

    Raises:
        AccessDeniedError: the actor may not manage the watchlist (the attempt is recorded).
        ImageRefusedError: an image is unreadable, too large, or has not exactly one usable face.
        InputError, PolicyError, ConflictError: a rule (see the module), in one line.
        ModelMissingError: the face models are not installed.
    """
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="face_subject", object_id=enrolment.subject_id[:128])
    subject_id = enrolment.subject_id.strip()
    if not _SUBJECT_ID.fullmatch(subject_id):
        raise InputError("subject_id is required: 1-128 characters, no '/', '\\' or NUL, not starting with '.'")
    if not enrolment.expires.strip():
        raise PolicyError("expires is required: every watchlist entry needs an expiry date")
    authorisation = Authorisation(
        enrolment.legal_basis, enrolment.authorised_by, actor.username, parse_expiry(enrolment.expires)
    )

    def write(session: Session, record: SubjectRecord) -> None:
        recorder.within(
            session,
            "watchlist.enrol",
            object_type="face_subject",
            object_id=record.subject_id,
            reason=record.legal_basis,
            authorised_by=record.authorised_by,
            expires_at=record.expires_at.isoformat(),
            reference_images=len(record.references),
            provenance=[r.provenance for r in record.references],
        )

    return write_enrolment(
        services.config,
        services.store,
        services.media,
        subject_id=subject_id,
        display_name=enrolment.display_name,
        authorisation=authorisation,
        images=images,
        provenance=enrolment.provenance,
        pipeline=pipeline,
        on_written=write,
    )


def write_enrolment(
    config: VigilConfig,
    store: Store,
    media: MediaStore,
    *,
    subject_id: str,
    display_name: str,
    authorisation: Authorisation,
    images: Sequence[ReferenceImage],
    provenance: Sequence[str],
    pipeline: FacePipeline | None = None,
    now: datetime | None = None,
    on_written: Callable[[Session, SubjectRecord], None] | None = None,
) -> SubjectRecord:
    """The enrolment rules and the write, for a caller whose authorisation is made already
    (:func:`enrol`, and the demo, which enrols as its own operator). ``on_written`` runs in the
    enrolling transaction (the audit record).

    Raises:
        ImageRefusedError, InputError, PolicyError, ConflictError: one line naming the rule or image.
    """
    cfg = config.faces
    when = now or utcnow()
    authorisation.check(when, cfg.max_expiry_days)
    if not display_name.strip():
        raise InputError("display_name is required")
    if not images:
        raise InputError("at least one reference image is required")
    if len(images) > cfg.max_reference_images:
        raise InputError(f"{len(images)} images given; at most {cfg.max_reference_images} per subject")
    notes = [p.strip() for p in provenance if p.strip()]
    if len(notes) not in (1, len(images)):
        raise PolicyError(
            f"provenance (where each image came from) is required: one for all images or one per image; "
            f"got {len(notes)} for {len(images)}"
        )
    size = store.faces.count()
    if size >= cfg.watchlist_cap:  # checked before any image is analysed; the store checks again
        raise PolicyError(
            f"the watchlist holds {size} subjects, this deployment's cap ({cfg.watchlist_cap}); "
            "remove or purge entries first"
        )
    try:
        store.faces.get(subject_id)
    except NotFoundError:
        pass
    else:
        raise ConflictError(f"subject {subject_id!r} is already enrolled; remove it first")
    refs, embedder = _references(config, images, notes, pipeline)
    return store.faces.enrol(
        subject_id=subject_id,
        display_name=display_name.strip(),
        authorisation=authorisation,
        references=refs,
        embedder=embedder,
        media=media,
        max_expiry_days=cfg.max_expiry_days,
        cap=cfg.watchlist_cap,
        now=when,
        on_written=on_written,
    )


@dataclass(slots=True)
class _Removed:
    """Appends ``watchlist.remove`` / ``watchlist.purge_expired`` per subject in the change's
    transaction, and counts the reference images for the caller's reply."""

    recorder: Recorder
    action: str
    reason: str | None
    images: list[int] = field(default_factory=list)

    def __call__(self, session: Session, record: SubjectRecord) -> None:
        self.images.append(len(record.references))
        self.recorder.within(
            session,
            self.action,
            object_type="face_subject",
            object_id=record.subject_id,
            reason=self.reason,
            reference_images=len(record.references),
            expires_at=record.expires_at.isoformat(),
        )


def remove(services: Services, actor: Actor, subject_id: str, reason: str | None) -> SubjectRecord:
    """Remove a subject with its reference images and embeddings (a reason is required).

    Raises:
        AccessDeniedError: the actor may not manage the watchlist (recorded).
        ReasonRequiredError: no reason, or too short a one.
        NotFoundError: no such subject.
    """
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="face_subject", object_id=subject_id)
    why = need_reason(services.config, reason, "removing a watchlist entry")
    return services.store.faces.remove(
        subject_id, services.media, on_written=_Removed(recorder, "watchlist.remove", why)
    )


def purge_expired(services: Services, actor: Actor, reason: str | None = None) -> Purged:
    """Delete every expired subject's images and embeddings (each removal audited with it)."""
    recorder = services.recorder(actor)
    recorder.allow(MANAGE, object_type="watchlist")
    hook = _Removed(recorder, "watchlist.purge_expired", optional_reason(reason))
    ids = services.store.faces.purge_expired(services.media, on_written=hook)
    return Purged(ids, sum(hook.images))


# -- reads -----------------------------------------------------------------------------------


def subjects(
    services: Services,
    actor: Actor,
    *,
    include_expired: bool = True,
    expiring_within_days: float | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> SubjectPage:
    """Enrolled subjects by id; ``expiring_within_days``: unexpired ones about to expire, soonest
    first. The listing is audited (``watchlist.list``)."""
    recorder = services.recorder(actor)
    recorder.allow(READ, object_type="watchlist")
    now = utcnow()
    found = services.store.faces.list(include_expired=include_expired and expiring_within_days is None, now=now)
    if expiring_within_days is not None:
        horizon = now + timedelta(days=expiring_within_days)
        found = sorted((s for s in found if s.expires_at <= horizon), key=lambda s: s.expires_at)
    page = found[offset : offset + limit]
    recorder.read(
        "watchlist.list", object_type="watchlist", results=len(page), expiring_within_days=expiring_within_days
    )
    return SubjectPage(page, len(found))


def show(services: Services, actor: Actor, subject_id: str) -> SubjectRecord:
    """Everything recorded about one subject (no embeddings); audited (``watchlist.view``).

    Raises:
        NotFoundError: no such subject.
    """
    recorder = services.recorder(actor)
    recorder.allow(READ, object_type="face_subject", object_id=subject_id)
    record = services.store.faces.get(subject_id)
    recorder.read("watchlist.view", object_type="face_subject", object_id=subject_id)
    return record
