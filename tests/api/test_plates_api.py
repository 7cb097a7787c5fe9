"""Plates over HTTP on a real SQLite store: the hotlist with its accountability fields, CSV import
(all or nothing unless partial), plate search (reason required, audited), crops (redacted),
retention and the report section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from api_support import Env

from vigil.events.candidates import CandidateRaised
from vigil.events.plates import PlateReadEvent
from vigil.governance.retention import run_retention
from vigil.governance.witness import verify_store
from vigil.services.retention import PlatesRetention, feature_tasks
from vigil.store.audit import AuditRecord


def _expiry(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _audit(env: Env, action: str) -> list[AuditRecord]:
    return env.store.governance.audit.list(action=action, limit=100)


def test_add_show_list_remove_audited_with_the_signed_in_enterer(env: Env) -> None:
    sup = env.as_role("supervisor")
    body = {"plate": "kl-55 abc", "legal_basis": "WARRANT-77", "authorised_by": "Judge Dee", "expires": _expiry()}
    r = env.client.post("/api/plates/hotlist", json=body, headers=sup)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["plate"] == "KL55ABC" and entry["entered_by"] == "supervisor-a" and not entry["expired"]
    (rec,) = _audit(env, "hotlist.add")
    assert rec.object_id == entry["entry_id"] and rec.reason == "WARRANT-77" and rec.actor == "supervisor-a"

    listed = env.client.get("/api/plates/hotlist", headers=env.as_role("operator")).json()
    assert {e["plate"] for e in listed["items"]} == {"ABC1234", "XYZ9876", "KL55ABC"} and listed["size"] == 3
    shown = env.client.get(f"/api/plates/hotlist/{entry['entry_id']}", headers=env.as_role("operator"))
    assert shown.status_code == 200 and shown.json()["authorised_by"] == "Judge Dee"

    again = env.client.post("/api/plates/hotlist", json=body, headers=sup)
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    no_reason = env.client.delete(f"/api/plates/hotlist/{entry['entry_id']}", headers=sup)
    assert no_reason.status_code == 400 and no_reason.json()["error"] == "reason_required"
    gone = env.client.delete(
        f"/api/plates/hotlist/{entry['entry_id']}", params={"reason": "warrant withdrawn"}, headers=sup
    )
    assert gone.status_code == 200 and gone.json()["plate"] == "KL55ABC"
    (removal,) = _audit(env, "hotlist.remove")
    assert removal.reason == "warrant withdrawn"
    assert env.client.get(f"/api/plates/hotlist/{entry['entry_id']}", headers=sup).status_code == 404
    assert verify_store(env.store).ok


def test_entries_without_accountability_fields_are_refused_and_nothing_written(env: Env) -> None:
    sup = env.as_role("supervisor")
    good = {"plate": "NEW1234", "legal_basis": "WARRANT-1", "authorised_by": "Judge Dee", "expires": _expiry()}
    for change, code in (
        ({"legal_basis": ""}, "policy_violation"),
        ({"authorised_by": " "}, "policy_violation"),
        ({"expires": ""}, "policy_violation"),
        ({"expires": _expiry(-2)}, "policy_violation"),
        ({"expires": _expiry(4000)}, "policy_violation"),
        ({"expires": "soon"}, "invalid_input"),
        ({"plate": "AB$12"}, "invalid_input"),
    ):
        r = env.client.post("/api/plates/hotlist", json={**good, **change}, headers=sup)
        assert r.status_code in (400, 422) and r.json()["error"] == code, (change, r.text)
        assert r.json()["message"]
    assert not _audit(env, "hotlist.add")
    assert len(env.store.plates.list_entries()) == 2
    viewer = env.client.post("/api/plates/hotlist", json=good, headers=env.as_role("operator"))
    assert viewer.status_code == 403


def test_csv_import_names_bad_rows_and_imports_nothing_unless_partial(env: Env) -> None:
    sup = env.as_role("supervisor")
    csv_text = (
        "plate,legal_basis,authorised_by,expires_at,note\n"
        f"AAA1111,WARRANT-1,Judge Dee,{_expiry()},stolen\n"
        f"B$D,WARRANT-2,Judge Dee,{_expiry()},\n"
        f"CCC3333,,Judge Dee,{_expiry()},\n"
        f"DDD4444,WARRANT-4,Judge Dee,{_expiry()},\n"
        "EEE5555,WARRANT-5,Judge Dee\n"
    )
    files = {"file": ("list.csv", csv_text.encode(), "text/csv")}
    r = env.client.post("/api/plates/hotlist/import", files=files, headers=sup)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_rows" and "nothing imported" in body["message"]
    assert [row["row"] for row in body["rows"]] == [3, 4, 6]
    assert len(env.store.plates.list_entries()) == 2 and not _audit(env, "hotlist.import")

    r = env.client.post("/api/plates/hotlist/import", files=files, data={"partial": "true"}, headers=sup)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [e["plate"] for e in out["imported"]] == ["AAA1111", "DDD4444"]
    assert out["imported"][0]["note"] == "stolen" and out["imported"][0]["entered_by"] == "supervisor-a"
    assert [s["row"] for s in out["skipped"]] == [3, 4, 6]
    assert {a.object_id for a in _audit(env, "hotlist.import")} == {e["entry_id"] for e in out["imported"]}

    bad_header = {"file": ("x.csv", b"plate,expires_at\nAAA1,2030-01-01\n", "text/csv")}
    r = env.client.post("/api/plates/hotlist/import", files=bad_header, headers=sup)
    assert r.status_code == 400 and r.json()["error"] == "invalid_upload" and "legal_basis" in r.json()["message"]
    assert "/tmp" not in r.json()["message"]
    for junk in (b"", b"\xff\xfe\x00\x81 not utf-8", b"plate,legal_basis,authorised_by,expires_at\n"):
        r = env.client.post("/api/plates/hotlist/import", files={"file": ("x.csv", junk, "text/csv")}, headers=sup)
        assert r.status_code == 400 and r.json()["error"] == "invalid_upload", (junk, r.text)
    assert len(env.store.plates.list_entries()) == 4


def test_plate_search_needs_a_reason_and_is_audited(env: Env) -> None:
    op = env.as_role("operator")
    r = env.client.get("/api/plates/reads", params={"plate": "ABC1234", "camera_id": "cam-a"}, headers=op)
    assert r.status_code == 400 and r.json()["error"] == "reason_required"
    assert not _audit(env, "plates.search")

    r = env.client.get(
        "/api/plates/reads", params={"plate": "abc-1234", "camera_id": "cam-a", "reason": "case 42 lookup"}, headers=op
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert [i["read_id"] for i in out["items"]] == ["plate-read-cam-a"] and out["retention_hours"] == 24
    (rec,) = _audit(env, "plates.search")
    assert rec.object_id == "ABC1234" and rec.reason == "case 42 lookup" and rec.actor == "operator-a"
    assert rec.camera_id == "cam-a" and rec.detail["results"] == 1

    # scoped users must name a camera, and may not name another one
    assert (
        env.client.get("/api/plates/reads", params={"plate": "ABC1234", "reason": "x" * 10}, headers=op).status_code
        == 400
    )
    out_of_scope = env.client.get(
        "/api/plates/reads", params={"plate": "ABC1234", "camera_id": "cam-b", "reason": "x" * 10}, headers=op
    )
    assert out_of_scope.status_code == 403
    # an unscoped admin sees both cameras; reads outside retention are not found
    both = env.client.get("/api/plates/reads", params={"plate": "ABC1234", "reason": "audit check"}, headers=env.root)
    assert {i["camera_id"] for i in both.json()["items"]} == {"cam-a", "cam-b"}
    old = PlateReadEvent(
        camera_id="cam-a",
        occurred_at=datetime.now(UTC) - timedelta(hours=30),
        plate="OLD1234",
        confidence=0.9,
        n_reads=2,
    )
    env.store.events.add_many([old])
    gone = env.client.get("/api/plates/reads", params={"plate": "OLD1234", "reason": "audit check"}, headers=env.root)
    assert gone.json()["items"] == []
    injection = env.client.get(
        "/api/plates/reads", params={"plate": "' OR 1=1 --", "reason": "audit check"}, headers=env.root
    )
    assert injection.status_code == 400 and injection.json()["error"] == "invalid_input"


def test_plate_crop_is_redacted_unless_a_supervisor_gives_a_reason(env: Env) -> None:
    url = "/api/plates/reads/plate-read-cam-a/crop"
    original = env.ctx.media.path_for("plates/cam-a/plate-read-cam-a.jpg").read_bytes()
    r = env.client.get(url, headers=env.as_role("viewer"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content != original
    blurred = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert blurred is not None and blurred.std() < 40
    assert env.client.get(url, params={"unredacted": "true"}, headers=env.as_role("operator")).status_code == 403
    no_reason = env.client.get(url, params={"unredacted": "true"}, headers=env.as_role("supervisor"))
    assert no_reason.status_code == 400
    clear = env.client.get(
        url, params={"unredacted": "true", "reason": "confirm hit"}, headers=env.as_role("supervisor")
    )
    assert clear.status_code == 200 and clear.content == original
    (rec,) = _audit(env, "media.view_unredacted")
    assert rec.object_id == "plate-read-cam-a" and rec.reason == "confirm hit"
    assert env.client.get(url, headers=env.as_role("auditor")).status_code == 403
    assert env.client.get("/api/plates/reads/plate-read-cam-b/crop", headers=env.as_role("viewer")).status_code == 403


def test_retention_deletes_non_hit_reads_and_expired_entries_by_count(env: Env) -> None:
    now = datetime.now(UTC)
    hit = PlateReadEvent(camera_id="cam-a", occurred_at=now - timedelta(hours=1), plate="ABC1234",
                         confidence=0.9, n_reads=2, hit=True)  # fmt: skip
    env.store.events.add_many([hit])
    later = now + timedelta(days=40)  # reads out of retention, seeded entries expired
    tasks = feature_tasks(env.ctx.config)
    assert isinstance(tasks[0], PlatesRetention)
    report = run_retention(env.store, env.ctx.media, env.ctx.config.governance.retention, now=later, tasks=tasks)
    assert report.counts["plates.plate_reads"] == 2 and report.counts["plates.plate_crops"] == 2
    assert report.counts["plates.hotlist_entries"] == 2
    assert env.store.plates.count_reads() == 1  # the hit stays with its candidate
    assert not env.ctx.media.path_for("plates/cam-a/plate-read-cam-a.jpg").exists()
    (rec,) = [a for a in _audit(env, "retention.run") if a.object_id == "plates"]
    assert rec.detail == {"plate_reads": 2, "plate_crops": 2, "hotlist_entries": 2}
    assert "ABC1234" not in str(rec.detail)


def test_purge_expired_over_http_and_report_section(env: Env) -> None:
    r = env.client.post("/api/plates/hotlist/purge-expired", json={"reason": "weekly"}, headers=env.as_role("admin"))
    assert r.status_code == 200 and r.json() == {"entries": 0}
    (rec,) = _audit(env, "hotlist.purge_expired")
    assert rec.detail["entries"] == 0 and rec.reason == "weekly"
    report = env.client.get(
        "/api/reports/transparency",
        params={"since": "2026-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
        headers=env.as_role("auditor"),
    )
    assert report.status_code == 200, report.text
    section = report.json()["sections"]["plates"]
    assert section["hotlist_size"] == 2 and section["plate_reads_stored"] == 2
    assert section["hits"] == 0 and section["candidates_confirmed"] == 0 and section["candidates_rejected"] == 0
    assert env.client.get("/api/plates/hotlist", headers=env.as_role("auditor")).status_code == 403


def test_an_entry_names_its_region_and_a_candidate_from_another_is_flagged(env: Env) -> None:
    sup = env.as_role("supervisor")
    body = {"plate": "AB12CDE", "legal_basis": "WARRANT-77", "authorised_by": "Judge Dee", "expires": _expiry()}
    bad = env.client.post("/api/plates/hotlist", json={**body, "region": "England"}, headers=sup)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_input"
    assert "'England' is not known; use one of br, eu, hk, uk, us" in bad.json()["message"]
    r = env.client.post("/api/plates/hotlist", json={**body, "region": "UK"}, headers=sup)
    assert r.status_code == 201 and r.json()["region"] == "uk"
    listed = env.client.get("/api/plates/hotlist", headers=sup).json()["items"]
    assert {e["plate"]: e["region"] for e in listed}["AB12CDE"] == "uk"

    cand = CandidateRaised(
        camera_id="cam-a",
        occurred_at=datetime.now(UTC),
        kind="plate",
        list_entry_id=r.json()["entry_id"],
        score=0.97,
        observed="AB12CDE",
        flags=("other_region",),
        detail="read as a plate of United States (region us; country 1.00), listed for uk",
    )
    env.store.events.add_many([cand])
    shown = env.client.get(f"/api/candidates/{cand.event_id}", headers=sup).json()
    assert shown["flags"] == ["other_region"] and shown["detail"].endswith("listed for uk")
