"""Case packages: a zip with the case's events as JSON, its media (redacted unless a supervisor
asked otherwise with a reason), its attachments, the audit extract for the case, and a manifest
with the SHA-256 of every file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from vigil.core.clock import utcnow
from vigil.core.errors import NotFoundError
from vigil.governance.redaction import RedactionRegistry, for_camera, redact_for_viewing
from vigil.store.audit import AuditRecord
from vigil.store.candidates import CandidateRecord
from vigil.store.cases import CaseRecord
from vigil.store.facade import Store
from vigil.store.media import MediaStore

MAX_AUDIT_EXTRACT = 10_000


@dataclass(frozen=True, slots=True)
class CasePackage:
    data: bytes
    manifest_sha256: str
    files: int


def candidate_json(c: CandidateRecord) -> dict[str, Any]:
    return {
        "candidate_id": c.candidate_id,
        "kind": c.kind,
        "camera_id": c.camera_id,
        "list_entry_id": c.list_entry_id,
        "track_id": c.track_id,
        "occurred_at": c.occurred_at.isoformat(),
        "score": c.score,
        "threshold": c.threshold,
        "false_match_rate": c.false_match_rate,
        "observed": c.observed,
        "flags": list(c.flags),
        "detail": c.detail,
        "status": c.status,
        "actionable": c.actionable,
        "probe_media": c.probe_media,
        "reference_media": c.reference_media,
        "decisions": [
            {"actor": d.actor, "decision": d.decision, "reason": d.reason, "at": d.decided_at.isoformat()}
            for d in c.decisions
        ],
    }


def audit_json(r: AuditRecord) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": r.at.isoformat(),
        "actor": r.actor,
        "action": r.action,
        "object_type": r.object_type,
        "object_id": r.object_id,
        "camera_id": r.camera_id,
        "reason": r.reason,
        "detail": r.detail,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }


def _redacted(rel: str, data: bytes, store: Store, media: MediaStore, redaction: RedactionRegistry) -> bytes:
    """A file as a redacted export holds it, by the rule the media endpoint serves it by: a
    bystander's snapshot was blurred by region as it was written, so it goes as stored; a
    candidate's track snapshot, probe or reference image (kept clear for review) goes through
    the deployment's redactor (the whole image where there is none)."""
    regions = redaction.regions(rel)
    index = store.governance.media_index
    owner = index.owner(rel)
    if not regions and owner is not None and owner[1] == "snapshot" and not index.kept_faces(rel):
        return data
    return redact_for_viewing(data, for_camera(media.redactor, owner[0] if owner else None), regions)


def build_case_package(
    case: CaseRecord,
    store: Store,
    media: MediaStore,
    redaction: RedactionRegistry,
    *,
    unredacted: bool,
    exported_by: str,
) -> CasePackage:
    """Assemble the zip in memory. Items that retention already removed are listed as missing."""
    events: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    plate_reads: list[dict[str, Any]] = []
    media_paths: dict[str, bool] = {}  # path -> may stay unredacted (the adjudicated subject)
    attachments: list[str] = []
    missing: list[str] = []
    for item in case.items:
        if item.item_type == "event":
            event = store.events.get(item.item_id)
            if event is None:
                missing.append(f"event:{item.item_id}")
            else:
                events.append(event.model_dump(mode="json"))
        elif item.item_type == "track":
            track = store.tracks.get(item.item_id)
            if track is None:
                missing.append(f"track:{item.item_id}")
                continue
            events += [e.model_dump(mode="json") for e in store.events.search(track_id=item.item_id, limit=10_000)]
            if track.snapshot:
                media_paths.setdefault(track.snapshot, False)
        elif item.item_type == "candidate":
            try:
                cand = store.candidates.get(item.item_id)
            except NotFoundError:
                missing.append(f"candidate:{item.item_id}")
                continue
            candidates.append(candidate_json(cand))
            for p in (cand.probe_media, cand.reference_media):
                if p:
                    media_paths[p] = media_paths.get(p, False) or cand.status == "confirmed"
        elif item.item_type == "plate_read":
            try:
                read = store.plates.get_read(item.item_id)
            except NotFoundError:
                missing.append(f"plate_read:{item.item_id}")
                continue
            plate_reads.append(
                {
                    "read_id": read.read_id,
                    "camera_id": read.camera_id,
                    "track_id": read.track_id,
                    "occurred_at": read.occurred_at.isoformat(),
                    "plate": read.plate,
                    "confidence": read.confidence,
                    "region": read.region,
                    "crop": read.crop,
                    "hit": read.hit,
                }
            )
            if read.crop:
                media_paths[read.crop] = True  # the plate crop is the evidence itself
        elif item.item_type == "attachment":
            attachments.append(item.item_id)

    ids = {case.case_id, *(i.item_id for i in case.items)}
    extract = [audit_json(r) for r in store.governance.audit.list(object_ids=ids, limit=MAX_AUDIT_EXTRACT)]
    files: dict[str, bytes] = {
        "events.json": _dump({"events": events, "candidates": candidates, "plate_reads": plate_reads}),
        "audit.json": _dump({"records": extract}),
    }
    for rel, subject in media_paths.items():
        try:
            data = media.path_for(rel).read_bytes()
        except (ValueError, OSError):
            missing.append(f"media:{rel}")
            continue
        files[f"media/{rel}"] = data if unredacted or subject else _redacted(rel, data, store, media, redaction)
    for rel in attachments:
        try:
            files[f"attachments/{rel.rsplit('/', 1)[-1]}"] = media.path_for(rel).read_bytes()
        except (ValueError, OSError):
            missing.append(f"attachment:{rel}")
    files["case.json"] = _dump(
        {
            "case_id": case.case_id,
            "name": case.name,
            "reason": case.reason,
            "legal_hold": case.legal_hold,
            "created_by": case.created_by,
            "created_at": case.created_at.isoformat(),
            "items": [{"type": i.item_type, "id": i.item_id, "camera_id": i.camera_id} for i in case.items],
            "missing": missing,
        }
    )
    manifest = {
        "case_id": case.case_id,
        "exported_at": utcnow().isoformat(),
        "exported_by": exported_by,
        "redacted": not unredacted,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    manifest_bytes = _dump(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
        zf.writestr("manifest.json", manifest_bytes)
    return CasePackage(buffer.getvalue(), hashlib.sha256(manifest_bytes).hexdigest(), len(files) + 1)


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()
