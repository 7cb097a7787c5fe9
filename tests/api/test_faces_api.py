"""The face watchlist, subject timeline and calibration over HTTP, on a real SQLite store with the
real face models: enrolment of a real photo, every refusal leaving nothing behind, roles,
redaction of reference images, audit records, retention and the transparency report."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from api_support import Env, build_env

from vigil.config import VigilConfig
from vigil.core.accountability import Authorisation
from vigil.governance.retention import run_retention
from vigil.services.retention import WatchlistRetention
from vigil.store import Store
from vigil.store.faces import CalibrationRecord, NewReference

REPO = Path(__file__).resolve().parents[2]
PORTRAIT = REPO / "samples" / "faces" / "astronaut.jpg"
SEEDED_SUBJECTS = 2


@pytest.fixture
def fenv(tmp_path: Path, store: Store, installed_models_dir: Path) -> Iterator[Env]:
    for env in build_env(tmp_path, store):
        _reconfigure(env, env.ctx.config.model_copy(update={"models_dir": installed_models_dir}))
        yield env


def _reconfigure(env: Env, cfg: VigilConfig) -> None:
    """A changed deployment config for the API and the services behind it."""
    env.ctx.config = cfg
    env.ctx.services = dataclasses.replace(env.ctx.services, config=cfg)


def _form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "subject_id": "case-77",
        "display_name": "Eileen Collins (test)",
        "legal_basis": "WARRANT-77 test court order",
        "authorised_by": "Sam Supervisor",
        "expires": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
        "provenance": "NASA portrait, public domain (samples/faces/README.md)",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def _jpeg(image: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


def _portrait() -> bytes:
    return PORTRAIT.read_bytes()


def _huge_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (refused before decoding)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )


def _enrol(env: Env, role: str, images: list[tuple[str, bytes]], **form: Any) -> Any:
    return env.client.post(
        "/api/faces/watchlist",
        data=_form(**form),
        files=[("images", (name, data, "image/jpeg")) for name, data in images],
        headers=env.as_role(role),
    )


def _reference_files(env: Env) -> list[Path]:
    folder = env.ctx.media.root / "faces" / "references"
    return sorted(folder.glob("*.jpg")) if folder.is_dir() else []


def _audit(env: Env, action: str) -> list[Any]:
    return env.store.governance.audit.list(action=action, limit=100)


def test_enrol_a_real_photo_then_read_redact_and_remove(fenv: Env) -> None:
    env = fenv
    r = _enrol(env, "supervisor", [("astronaut.jpg", _portrait())])
    assert r.status_code == 201, r.text
    body = r.json()
    subject = body["subject"]
    assert subject["subject_id"] == "case-77"
    assert subject["enrolled_by"] == "supervisor-a"  # the signed-in user, not a form field
    assert subject["legal_basis"] == "WARRANT-77 test court order"
    assert subject["expires_at"].startswith((datetime.now(UTC) + timedelta(days=30)).date().isoformat())
    (ref,) = subject["references"]
    assert ref["source_name"] == "astronaut.jpg" and ref["provenance"].startswith("NASA")
    assert ref["face_px"] > 50
    assert body["watchlist"]["size"] == SEEDED_SUBJECTS + 1
    assert body["watchlist"]["cap"] == 1000
    assert body["watchlist"]["false_match_rate"] == pytest.approx(0.0095)
    assert len(_reference_files(env)) == SEEDED_SUBJECTS + 1
    (enrolled,) = _audit(env, "watchlist.enrol")
    assert (enrolled.actor, enrolled.object_id, enrolled.reason) == ("supervisor-a", "case-77", subject["legal_basis"])
    assert enrolled.detail["reference_images"] == 1

    # Viewers read the metadata; the reference image comes blurred.
    listed = env.client.get("/api/faces/watchlist", headers=env.as_role("viewer"))
    assert listed.status_code == 200, listed.text
    assert [s["subject_id"] for s in listed.json()["items"]] == ["case-77", "subject-1", "subject-2"]
    shown = env.client.get("/api/faces/watchlist/case-77", headers=env.as_role("viewer"))
    assert shown.status_code == 200 and shown.json()["references"][0]["image_url"] == ref["image_url"]
    stored = env.store.faces.get("case-77").references[0].media_path
    original = env.ctx.media.path_for(stored).read_bytes()
    blurred = env.client.get(ref["image_url"], headers=env.as_role("viewer"))
    assert blurred.status_code == 200 and blurred.headers["content-type"] == "image/jpeg"
    assert blurred.content != original
    denied = env.client.get(
        ref["image_url"], params={"unredacted": "true", "reason": "need it"}, headers=env.as_role("viewer")
    )
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    no_reason = env.client.get(ref["image_url"], params={"unredacted": "true"}, headers=env.as_role("supervisor"))
    assert no_reason.status_code == 400 and no_reason.json()["error"] == "reason_required"
    clear = env.client.get(
        ref["image_url"],
        params={"unredacted": "true", "reason": "checking the enrolment"},
        headers=env.as_role("supervisor"),
    )
    assert clear.status_code == 200 and clear.content == original
    assert [a.reason for a in _audit(env, "media.view_unredacted")] == ["checking the enrolment"]

    # Removal needs watchlist.manage and a reason; images and embeddings go with the row.
    assert env.client.delete("/api/faces/watchlist/case-77", headers=env.as_role("operator")).status_code == 403
    no_why = env.client.delete("/api/faces/watchlist/case-77", headers=env.as_role("admin"))
    assert no_why.status_code == 400 and no_why.json()["error"] == "reason_required"
    gone = env.client.delete(
        "/api/faces/watchlist/case-77", params={"reason": "warrant withdrawn"}, headers=env.as_role("admin")
    )
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"subject_id": "case-77", "reference_images": 1}
    assert not env.ctx.media.path_for(stored).exists()
    assert len(_reference_files(env)) == SEEDED_SUBJECTS
    (removed,) = _audit(env, "watchlist.remove")
    assert (removed.actor, removed.object_id, removed.reason) == ("admin-a", "case-77", "warrant withdrawn")
    missing = env.client.get("/api/faces/watchlist/case-77", headers=env.as_role("viewer"))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def _several_faces() -> bytes:
    image = cv2.imread(str(PORTRAIT))
    assert image is not None
    return _jpeg(np.hstack([image, image]))


IMAGES: dict[str, Callable[[], bytes]] = {
    "portrait": _portrait,
    "several": _several_faces,
    "wall": lambda: _jpeg(np.full((240, 240, 3), 128, np.uint8)),
    "huge": _huge_png,
    "text": lambda: b"just text, not an image",
}

REFUSALS: dict[str, tuple[dict[str, Any], list[tuple[str, str]], int, str, str]] = {
    "no face": ({}, [("wall.jpg", "wall")], 400, "no_face", "wall.jpg: no face found"),
    "several faces": ({}, [("pair.jpg", "several")], 400, "several_faces", "pair.jpg: 2 usable faces"),
    "second image bad": ({}, [("a.jpg", "portrait"), ("b.jpg", "wall")], 400, "no_face", "b.jpg"),
    "huge image": ({}, [("huge.png", "huge")], 400, "image_too_large", "10000x10000"),
    "not an image": ({}, [("notes.jpg", "text")], 400, "invalid_upload", "notes.jpg"),
    "missing legal basis": ({"legal_basis": None}, [], 422, "policy_violation", "legal_basis"),
    "missing authoriser": ({"authorised_by": " "}, [], 422, "policy_violation", "authorised_by"),
    "missing provenance": ({"provenance": None}, [], 422, "policy_violation", "provenance"),
    "provenance count": ({"provenance": ["one", "two"]}, [], 422, "policy_violation", "provenance"),
    "expiry too far": ({"expires": "2099-01-01"}, [], 422, "policy_violation", "maximum"),
    "expiry in the past": ({"expires": "2020-01-01"}, [], 422, "policy_violation", "past"),
    "bad expiry": ({"expires": "next week"}, [], 400, "invalid_input", "not a date"),
    "duplicate id": ({"subject_id": "subject-1"}, [], 409, "conflict", "already enrolled"),
    "bad id": ({"subject_id": "../etc"}, [], 400, "invalid_input", "subject_id"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_4xx_and_write_nothing(fenv: Env, case: str) -> None:
    env = fenv
    form, images, status, code, words = REFUSALS[case]
    files = [(name, IMAGES[kind]()) for name, kind in (images or [("astronaut.jpg", "portrait")])]
    r = _enrol(env, "admin", files, **form)
    assert r.status_code == status, r.text
    assert r.json()["error"] == code
    assert words in r.json()["message"]
    assert "/tmp" not in r.json()["message"] and "vigil-enrol" not in r.json()["message"]
    assert env.store.faces.count() == SEEDED_SUBJECTS
    assert len(_reference_files(env)) == SEEDED_SUBJECTS
    assert _audit(env, "watchlist.enrol") == []


def test_oversized_upload_and_full_watchlist_are_refused(fenv: Env) -> None:
    env = fenv
    limit = env.ctx.config.governance.max_upload_bytes
    big = _enrol(env, "admin", [("big.jpg", b"\xff" * (limit + 1))])
    assert big.status_code == 413 and big.json()["error"] == "payload_too_large"
    faces = env.ctx.config.faces.model_copy(update={"watchlist_cap": SEEDED_SUBJECTS})
    _reconfigure(env, env.ctx.config.model_copy(update={"faces": faces}))
    full = _enrol(env, "admin", [("astronaut.jpg", _portrait())])
    assert full.status_code == 422 and full.json()["error"] == "policy_violation"
    assert "cap (2)" in full.json()["message"]
    assert env.store.faces.count() == SEEDED_SUBJECTS and len(_reference_files(env)) == SEEDED_SUBJECTS


def test_roles_on_the_watchlist(fenv: Env) -> None:
    env = fenv
    for role in ("viewer", "operator", "supervisor", "admin"):
        assert env.client.get("/api/faces/watchlist", headers=env.as_role(role)).status_code == 200
    auditor = env.client.get("/api/faces/watchlist", headers=env.as_role("auditor"))
    assert auditor.status_code == 403 and auditor.json()["error"] == "forbidden"
    for role in ("viewer", "operator", "auditor"):
        r = _enrol(env, role, [("astronaut.jpg", _portrait())])
        assert r.status_code == 403, (role, r.text)
    assert env.store.faces.count() == SEEDED_SUBJECTS


def test_expiring_soon_and_purge_expired(fenv: Env) -> None:
    env = fenv
    now = datetime.now(UTC)
    _enrol_directly(env, "lapsed", now - timedelta(days=10), days=1)
    _enrol_directly(env, "soon", now - timedelta(days=1), days=3)
    soon = env.client.get("/api/faces/watchlist", params={"expiring_within_days": 7}, headers=env.as_role("viewer"))
    assert soon.status_code == 200, soon.text
    assert [s["subject_id"] for s in soon.json()["items"]] == ["soon"]
    everything = env.client.get("/api/faces/watchlist", headers=env.as_role("viewer")).json()["items"]
    assert {s["subject_id"]: s["expired"] for s in everything}["lapsed"] is True
    active = env.client.get("/api/faces/watchlist", params={"include_expired": "false"}, headers=env.as_role("viewer"))
    assert "lapsed" not in [s["subject_id"] for s in active.json()["items"]]
    assert env.client.post("/api/faces/watchlist/purge-expired", headers=env.as_role("operator")).status_code == 403
    purged = env.client.post(
        "/api/faces/watchlist/purge-expired", json={"reason": "weekly purge"}, headers=env.as_role("supervisor")
    )
    assert purged.status_code == 200, purged.text
    assert purged.json() == {"subjects": 1, "reference_images": 1, "subject_ids": ["lapsed"]}
    (audited,) = _audit(env, "watchlist.purge_expired")
    assert (audited.object_id, audited.reason) == ("lapsed", "weekly purge")
    assert env.store.faces.count() == SEEDED_SUBJECTS + 1


def _enrol_directly(env: Env, sid: str, when: datetime, days: float) -> None:
    rng = np.random.default_rng(1)
    emb = rng.normal(size=128).astype(np.float32)
    env.store.faces.enrol(
        subject_id=sid,
        display_name=sid,
        authorisation=Authorisation("TEST-1 basis", "Sam Supervisor", "test", when + timedelta(days=days)),
        references=[
            NewReference(f"{sid}.jpg", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), emb, "test", 30, 0.9)
        ],
        embedder="sface",
        media=env.ctx.media,
        max_expiry_days=180,
        cap=1000,
        now=when,
    )


def test_subject_timeline_is_scoped_ordered_and_audited(fenv: Env) -> None:
    env = fenv
    url = "/api/faces/subjects/subject-1/timeline"
    op = env.as_role("operator")  # scoped to cam-a
    assert env.client.get(url, params={"reason": "looking"}, headers=op).json()["error"] == "camera_required"
    assert env.client.get(url, params={"camera_id": "cam-a"}, headers=op).json()["error"] == "reason_required"
    out = env.client.get(url, params={"camera_id": "cam-b", "reason": "looking"}, headers=op)
    assert out.status_code == 403 and out.json()["error"] == "out_of_scope"
    assert (
        env.client.get(url, params={"camera_id": "cam-a", "reason": "x"}, headers=env.as_role("viewer")).status_code
        == 403
    )
    mine = env.client.get(url, params={"camera_id": "cam-a", "reason": "case 77 review"}, headers=op)
    assert mine.status_code == 200, mine.text
    assert [i["camera_id"] for i in mine.json()["items"]] == ["cam-a"]
    assert mine.json()["enrolled"] is True

    # Confirm cam-b's sighting, reject cam-a's: rejected sightings drop out of the timeline.
    a, b = env.seeded["cam-a"].candidate, env.seeded["cam-b"].candidate
    for cid, decision, who in ((b, "confirm", env.root), (b, "confirm", env.second_root), (a, "reject", env.root)):
        r = env.client.post(
            f"/api/candidates/{cid}/decision", json={"decision": decision, "reason": "checked by eye"}, headers=who
        )
        assert r.status_code == 200, r.text
    both = env.client.get(url, params={"reason": "case 77 review"}, headers=env.root).json()
    assert [(i["camera_id"], i["status"], i["actionable"]) for i in both["items"]] == [("cam-b", "confirmed", True)]
    reasons = [(x.actor, x.reason, x.camera_id) for x in _audit(env, "subject.timeline")]
    assert reasons == [("operator-a", "case 77 review", "cam-a"), ("root", "case 77 review", None)]


def test_timeline_lists_pending_and_confirmed_in_time_order(fenv: Env) -> None:
    env = fenv
    r = env.client.get("/api/faces/subjects/subject-1/timeline", params={"reason": "review"}, headers=env.root)
    items = r.json()["items"]
    assert [i["status"] for i in items] == ["pending", "pending"]
    times = [i["occurred_at"] for i in items]
    assert times == sorted(times) and {i["camera_id"] for i in items} == {"cam-a", "cam-b"}
    unknown = env.client.get("/api/faces/subjects/nobody/timeline", params={"reason": "review"}, headers=env.root)
    assert unknown.status_code == 200 and unknown.json() == {
        "subject_id": "nobody",
        "enrolled": False,
        "camera_id": None,
        "items": [],
        "truncated": False,
    }


def test_calibration_report_and_history(fenv: Env) -> None:
    env = fenv
    aud = env.as_role("auditor")
    state = env.client.get("/api/faces/calibrations/active", headers=aud)
    assert state.status_code == 200, state.text
    body = state.json()
    assert body["threshold"] == 0.40 and body["floor"] == 0.30
    active = body["active"]
    assert active["calibration_id"] == "cal-1" and active["supported"] is True and active["below_floor"] is False
    assert "| 1e-2 | 0.4000 |" in active["table_markdown"]
    assert active["figures"] == [
        "/api/faces/calibrations/cal-1/figures/roc.png",
        "/api/faces/calibrations/cal-1/figures/histograms.png",
    ]
    for url in active["figures"]:
        fig = env.client.get(url, headers=aud)
        assert fig.status_code == 200 and fig.headers["content-type"] == "image/png"
        assert fig.content.startswith(b"\x89PNG")
    missing = env.client.get("/api/faces/calibrations/cal-0/figures/roc.png", headers=aud)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    history = env.client.get("/api/faces/calibrations", headers=aud).json()
    assert [(c["calibration_id"], c["active"]) for c in history] == [("cal-0", False), ("cal-1", True)]
    assert env.client.get("/api/faces/calibrations", headers=env.as_role("viewer")).status_code == 403
    assert env.client.get("/api/faces/calibrations/nope", headers=aud).status_code == 404
    # Auditors read the report but change nothing.
    r = env.client.post("/api/faces/calibrations/cal-0/activate", json={"reason": "audit"}, headers=aud)
    assert r.status_code == 403


def test_threshold_change_from_a_stored_calibration(fenv: Env) -> None:
    env = fenv
    store = env.store
    low = CalibrationRecord(
        "cal-low", datetime.now(UTC), "synthetic", "sface", 61, 0, 140, 1690, 0.0, 1e-2, 0.02, 0.25, 1.0,
        "test", "Boss", True,
    )  # fmt: skip
    store.faces.set_calibration(low, floor=0.3)
    raise_back = env.client.post(
        "/api/faces/calibrations/cal-1/activate",
        json={"reason": "back to the reviewed one"},
        headers=env.as_role("admin"),
    )
    assert raise_back.status_code == 200, raise_back.text
    new = raise_back.json()
    assert new["threshold"] == 0.40 and new["active"] is True and new["set_by"] == "admin-a"
    assert new["calibration_id"] not in ("cal-1", "cal-low")
    assert len(new["figures"]) == 2  # the report came with it
    assert (
        env.client.post(
            "/api/faces/calibrations/cal-1/activate", json={"reason": "again please"}, headers=env.root
        ).status_code
        == 200
    )
    active_id = store.faces.active_calibration().calibration_id  # type: ignore[union-attr]
    again = env.client.post(
        f"/api/faces/calibrations/{active_id}/activate", json={"reason": "again please"}, headers=env.root
    )
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    # Lowering below the floor: a supervisor with a reason, never an admin alone.
    url = "/api/faces/calibrations/cal-low/activate"
    admin = env.client.post(url, json={"reason": "more alerts please"}, headers=env.as_role("admin"))
    assert admin.status_code == 403 and admin.json()["error"] == "forbidden"
    short = env.client.post(url, json={"reason": "x"}, headers=env.as_role("supervisor"))
    assert short.status_code == 400 and short.json()["error"] == "reason_required"
    ok = env.client.post(url, json={"reason": "pilot needs recall, approved"}, headers=env.as_role("supervisor"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["below_floor"] is True and ok.json()["supervisor"] == "supervisor-a"
    assert store.faces.active_calibration().threshold == 0.25  # type: ignore[union-attr]
    changes = [a for a in _audit(env, "policy.change") if a.object_id == "faces.threshold"]
    assert [(c.actor, c.detail["old"], c.detail["new"], c.detail["below_floor"]) for c in changes] == [
        ("admin-a", 0.25, 0.40, False),
        ("root", 0.40, 0.40, False),
        ("supervisor-a", 0.40, 0.25, True),
    ]
    assert changes[-1].reason == "pilot needs recall, approved"


def test_retention_task_and_transparency_section(fenv: Env) -> None:
    env = fenv
    now = datetime.now(UTC)
    _enrol_directly(env, "lapsed", now - timedelta(days=10), days=1)
    lapsed_image = env.store.faces.get("lapsed").references[0].media_path
    report = run_retention(
        env.store, env.ctx.media, env.ctx.config.governance.retention, now=now, tasks=[WatchlistRetention()]
    )
    assert report.counts["faces.watchlist.face_subjects"] == 1
    assert report.counts["faces.watchlist.face_reference_images"] == 1
    assert not env.ctx.media.path_for(lapsed_image).exists()
    assert env.store.faces.count() == SEEDED_SUBJECTS
    (run,) = [a for a in _audit(env, "retention.run") if a.object_id == "faces.watchlist"]
    assert run.detail == {"face_subjects": 1, "face_reference_images": 1}  # counts, never content

    a, b = env.seeded["cam-a"].candidate, env.seeded["cam-b"].candidate
    for cid, decision, who in ((a, "confirm", env.root), (a, "confirm", env.second_root), (b, "reject", env.root)):
        env.client.post(f"/api/candidates/{cid}/decision", json={"decision": decision, "reason": "by eye"}, headers=who)
    since = (now - timedelta(days=400)).isoformat()
    r = env.client.get("/api/reports/transparency", params={"since": since}, headers=env.as_role("auditor"))
    assert r.status_code == 200, r.text
    faces = r.json()["sections"]["faces"]
    assert faces["watchlist_size"] == SEEDED_SUBJECTS and faces["watchlist_cap"] == 1000
    assert faces["calibrated_false_match_rate"] == pytest.approx(0.0095)
    assert faces["threshold"] == 0.40 and faces["calibrated"] == 1
    assert (faces["candidates_confirmed"], faces["candidates_rejected"]) == (1, 1)
    assert r.json()["retention_deleted"]["face_subjects"] == 1
