"""Cases and case exports: open, list, show, add evidence, attach documents, hold, release, export.

A case is in a reader's camera scope when every item in it is (items with no camera, such as
attachments, are in everyone's scope). That one rule is applied here for every action, so a
camera-scoped supervisor can neither list, show, hold, release, add to nor export a case that
holds another camera's evidence, and each refused attempt is recorded (``access.denied``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from vigil.core.errors import InputError, NotFoundError, UploadError
from vigil.core.ids import new_id
from vigil.governance.export import build_case_package
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import need_reason
from vigil.store.cases import CaseRecord

ItemType = Literal["event", "track", "candidate", "plate_read"]
ITEM_TYPES: tuple[ItemType, ...] = ("event", "track", "candidate", "plate_read")

ATTACHMENT_TYPES = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
"""Attachments (warrants, authorisations) are checked by content, not by name."""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True)
class CaseExport:
    """A case package: the zip's bytes, a file name for it, and what the audit record says."""

    data: bytes
    filename: str
    files: int
    manifest_sha256: str


def safe_name(text: str) -> str:
    """``text`` with anything but letters, digits, ``_``, ``.`` and ``-`` replaced (file names)."""
    return _SAFE_NAME.sub("_", text)


def _outside(actor: Actor, case: CaseRecord) -> str | None:
    """The first camera of ``case`` outside the actor's scope, or None when all are in it."""
    return next((i.camera_id for i in case.items if not actor.sees(i.camera_id)), None)


def _scoped(services: Services, actor: Actor, action: str, case_id: str) -> CaseRecord:
    """The case, once ``actor`` may ``action`` and sees every camera in it.

    Raises:
        AccessDeniedError: the role may not, or the case holds an out-of-scope camera's
            evidence (recorded as ``access.denied`` first).
        NotFoundError: no such case.
    """
    recorder = services.recorder(actor)
    recorder.allow(action, object_type="case", object_id=case_id)
    case = services.store.governance.cases.get(case_id)
    camera = _outside(actor, case)
    if camera is not None:
        recorder.allow(action, camera_id=camera, object_type="case", object_id=case_id)
    return case


def list_cases(services: Services, actor: Actor, *, limit: int = 100, offset: int = 0) -> list[CaseRecord]:
    """Cases newest first, only those wholly in the actor's camera scope."""
    services.recorder(actor).allow("cases.read")
    return services.store.governance.cases.list(limit=limit, offset=offset, cameras=actor.cameras)


def show(services: Services, actor: Actor, case_id: str) -> CaseRecord:
    """One case (recorded as ``case.view``)."""
    case = _scoped(services, actor, "cases.read", case_id)
    services.recorder(actor).read("case.view", object_type="case", object_id=case_id)
    return case


def create(services: Services, actor: Actor, name: str, *, reason: str | None, legal_hold: bool = False) -> CaseRecord:
    """Open a case with its legal basis as the reason; ``legal_hold`` suspends retention of its items."""
    recorder = services.recorder(actor)
    recorder.allow("cases.manage", object_type="case")
    why = need_reason(services.config, reason, "opening a case")
    return services.store.governance.cases.create(
        name.strip(),
        reason=why,
        legal_hold=legal_hold,
        created_by=actor.username,
        audit=recorder.entry("case.create", object_type="case", reason=why, legal_hold=legal_hold),
    )


def _item_camera(services: Services, item_type: ItemType, item_id: str) -> str | None:
    store = services.store
    if item_type == "event":
        event = store.events.get(item_id)
        if event is None:
            raise NotFoundError(f"no event {item_id!r}")
        return event.camera_id
    if item_type == "track":
        track = store.tracks.get(item_id)
        if track is None:
            raise NotFoundError(f"no track {item_id!r}")
        return track.camera_id
    if item_type == "plate_read":
        return store.plates.get_read(item_id).camera_id
    return store.candidates.get(item_id).camera_id


def add_item(services: Services, actor: Actor, case_id: str, item_type: ItemType, item_id: str) -> CaseRecord:
    """Add an event, track, candidate or plate read in the actor's scope to a case in its scope.

    Raises:
        InputError: an item type that is not one of :data:`ITEM_TYPES`.
        NotFoundError: no such item (or retention removed it).
        ConflictError: the item is in the case already.
    """
    if item_type not in ITEM_TYPES:
        raise InputError(f"item type {item_type!r} is not one of {', '.join(ITEM_TYPES)}")
    _scoped(services, actor, "cases.manage", case_id)
    camera_id = _item_camera(services, item_type, item_id)
    recorder = services.recorder(actor)
    recorder.allow("cases.manage", camera_id=camera_id, object_type=item_type, object_id=item_id, case=case_id)
    return services.store.governance.cases.add_item(
        case_id,
        item_type=item_type,
        item_id=item_id,
        camera_id=camera_id,
        added_by=actor.username,
        audit=recorder.entry(
            "case.add_item", object_type=item_type, object_id=item_id, camera_id=camera_id, case=case_id
        ),
    )


def attach(services: Services, actor: Actor, case_id: str, filename: str | None, data: bytes) -> CaseRecord:
    """Attach a document (PDF, JPEG or PNG, checked by content), such as the warrant behind the case.

    Raises:
        InputError: larger than ``governance.max_upload_bytes``.
        UploadError: not a PDF, JPEG or PNG.
    """
    _scoped(services, actor, "cases.manage", case_id)
    limit = services.config.governance.max_upload_bytes
    if len(data) > limit:
        raise InputError(f"attachments are limited to {limit} bytes")
    kind = next((ct for ct, magic in ATTACHMENT_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise UploadError("the attachment is not a PDF, JPEG or PNG file")
    name = safe_name((filename or "attachment").rsplit("/", 1)[-1]).lstrip(".")[:80] or "attachment"
    rel = f"cases/{safe_name(case_id)}/{new_id()}-{name}"
    path = services.media.path_for(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        return services.store.governance.cases.add_item(
            case_id,
            item_type="attachment",
            item_id=rel,
            camera_id=None,
            added_by=actor.username,
            audit=services.recorder(actor).entry(
                "case.attach", object_type="attachment", object_id=rel, case=case_id, content_type=kind
            ),
        )
    except BaseException:
        path.unlink(missing_ok=True)  # nothing half-written
        raise


def set_hold(services: Services, actor: Actor, case_id: str, *, legal_hold: bool, reason: str | None) -> CaseRecord:
    """Place (``legal_hold``) or lift a legal hold; retention skips every item of a held case.

    Both are recorded as ``case.hold`` with ``legal_hold`` true or false, and need a reason.
    """
    _scoped(services, actor, "cases.manage", case_id)
    why = need_reason(services.config, reason, "placing a legal hold" if legal_hold else "lifting a legal hold")
    return services.store.governance.cases.set_hold(
        case_id,
        legal_hold=legal_hold,
        audit=services.recorder(actor).entry(
            "case.hold", object_type="case", object_id=case_id, reason=why, legal_hold=legal_hold
        ),
    )


def hold(services: Services, actor: Actor, case_id: str, *, reason: str | None) -> CaseRecord:
    """Place a legal hold (see :func:`set_hold`)."""
    return set_hold(services, actor, case_id, legal_hold=True, reason=reason)


def release(services: Services, actor: Actor, case_id: str, *, reason: str | None) -> CaseRecord:
    """Lift a legal hold (see :func:`set_hold`)."""
    return set_hold(services, actor, case_id, legal_hold=False, reason=reason)


def export(
    services: Services, actor: Actor, case_id: str, *, reason: str | None, unredacted: bool = False
) -> CaseExport:
    """A zip: events as JSON, media (redacted unless ``unredacted``, which needs
    ``exports.unredacted``), attachments, the case's audit extract and a manifest with the
    SHA-256 of every file; recorded as ``export.create``.
    """
    case = _scoped(services, actor, "exports.create", case_id)
    recorder = services.recorder(actor)
    if unredacted:
        recorder.allow("exports.unredacted", object_type="case", object_id=case_id)
    why = need_reason(services.config, reason, "an export")
    package = build_case_package(
        case,
        services.store,
        services.media,
        services.redaction,
        unredacted=unredacted,
        exported_by=actor.username,
    )
    recorder.read(
        "export.create",
        object_type="case",
        object_id=case_id,
        reason=why,
        redacted=not unredacted,
        files=package.files,
        manifest_sha256=package.manifest_sha256,
    )
    return CaseExport(
        data=package.data,
        filename=f"case-{safe_name(case_id)}.zip",
        files=package.files,
        manifest_sha256=package.manifest_sha256,
    )


@dataclass(frozen=True, slots=True)
class CaseItemView:
    """A case item as people read it: what it is, where, when and who or what it shows.

    ``missing`` is True when retention removed what the item points at (the case keeps the
    reference; the export lists it as missing).
    """

    item_type: str
    item_id: str
    kind: str
    camera_id: str | None
    camera: str | None
    at: datetime | None
    what: str
    media: str | None
    added_by: str
    added_at: datetime
    missing: bool = False


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One export of a case, as its ``export.create`` audit record holds it."""

    at: datetime
    by: str
    reason: str | None
    redacted: bool
    files: int | None
    manifest_sha256: str | None


def _describe(services: Services, item_type: str, item_id: str) -> tuple[str, datetime | None, str, str | None]:
    """(kind, when, what, media) of one item; raises NotFoundError when it is gone."""
    store = services.store
    if item_type == "candidate":
        c = store.candidates.get(item_id)
        if c.kind == "plate":
            entry = next(
                (e for e in store.plates.list_entries(include_expired=True) if e.entry_id == c.list_entry_id), None
            )
            listed = entry.plate if entry is not None else "a removed hotlist entry"
            return (
                "plate candidate",
                c.occurred_at,
                f"read {c.observed or '?'} · listed {listed} · {c.status}",
                c.probe_media,
            )
        return "face candidate", c.occurred_at, f"{c.list_entry_id} · score {c.score:.3f} · {c.status}", c.probe_media
    if item_type == "plate_read":
        r = store.plates.get_read(item_id)
        return "plate read", r.occurred_at, f"{r.plate} · confidence {r.confidence:.0%}", r.crop
    if item_type == "track":
        t = store.tracks.get(item_id)
        if t is None:
            raise NotFoundError(f"no track {item_id!r}")
        span = int((t.last_seen - t.first_seen).total_seconds())
        return f"{t.class_name} track", t.first_seen, f"seen for {span} s", t.snapshot
    if item_type == "event":
        e = store.events.get(item_id)
        if e is None:
            raise NotFoundError(f"no event {item_id!r}")
        data: dict[str, Any] = e.model_dump()
        what = str(data.get("plate") or data.get("list_entry_id") or data.get("class_name") or data.get("kind") or "")
        if data.get("type") == "crowd.alert":
            what = (
                f"{str(data['kind']).replace('_', ' ')} · {data['subject_type']} {data['subject_id']} · "
                f"{data['value']:g} / {data['threshold']:g} {data['unit']}"
            )
        media = data.get("crop") or data.get("snapshot") or data.get("probe_media")
        return str(data.get("type", "event")).replace("_", " ").replace(".", " "), e.occurred_at, what, media
    return "attachment", None, item_id.rsplit("/", 1)[-1], None


def describe_items(services: Services, case: CaseRecord) -> list[CaseItemView]:
    """The items of ``case`` (already shown to the actor by :func:`show`) described for reading."""
    names = {c.id: c.display_name for c in services.config.cameras}
    out: list[CaseItemView] = []
    for i in case.items:
        try:
            kind, at, what, media = _describe(services, i.item_type, i.item_id)
            missing = False
        except NotFoundError:
            kind, at, what, media, missing = i.item_type.replace("_", " "), None, "removed by retention", None, True
        camera = None if i.camera_id is None else names.get(i.camera_id, i.camera_id)
        out.append(CaseItemView(i.item_type, i.item_id, kind, i.camera_id, camera, at, what, media, i.added_by,
                                i.added_at, missing))  # fmt: skip
    return out


def exports(services: Services, actor: Actor, case_id: str, *, limit: int = 100) -> list[ExportRecord]:
    """The case's export history, newest first, from its ``export.create`` audit records (the
    audit log is where an export is kept; the package itself is not stored)."""
    _scoped(services, actor, "cases.read", case_id)
    records = services.store.governance.audit.list(action="export.create", object_id=case_id, limit=10_000)
    out = [
        ExportRecord(
            at=r.at,
            by=r.actor,
            reason=r.reason,
            redacted=bool(r.detail.get("redacted", True)),
            files=r.detail.get("files"),
            manifest_sha256=r.detail.get("manifest_sha256"),
        )
        for r in records
    ]
    return out[::-1][:limit]
