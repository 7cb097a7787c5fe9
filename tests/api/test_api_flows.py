"""What the endpoints do: redaction, adjudication, audit records, exports, policy floors, reports."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from api_support import Env


def test_viewer_gets_redacted_snapshot_supervisor_can_unredact_with_reason(env: Env) -> None:
    snap = env.seeded["cam-a"].snapshot
    original = (env.ctx.media.root / snap).read_bytes()
    redacted = env.client.get(f"/api/media/{snap}", headers=env.as_role("viewer"))
    assert redacted.status_code == 200 and redacted.headers["content-type"] == "image/jpeg"
    assert redacted.content != original
    r = env.client.get(
        f"/api/media/{snap}", params={"unredacted": "true", "reason": "incident 42"}, headers=env.as_role("supervisor")
    )
    assert r.status_code == 200 and r.content == original
    [view] = env.store.governance.audit.list(action="media.view_unredacted")
    assert (view.actor, view.reason, view.object_id, view.camera_id) == ("supervisor-a", "incident 42", snap, "cam-a")


def test_reviewers_see_probe_crops_viewers_do_not(env: Env) -> None:
    probe = env.seeded["cam-a"].probe
    assert (
        env.client.get(f"/api/media/{probe}", headers=env.as_role("operator")).content
        == (env.ctx.media.root / probe).read_bytes()
    )
    assert env.client.get(f"/api/media/{probe}", headers=env.as_role("viewer")).status_code == 403


def test_every_personal_data_read_is_audited(env: Env) -> None:
    n = env.store.governance.audit.count()
    env.client.get(
        "/api/events", params={"camera_id": "cam-a", "reason": "looking for x"}, headers=env.as_role("viewer")
    )
    env.client.get(f"/api/tracks/{env.seeded['cam-a'].track}", headers=env.as_role("viewer"))
    records = env.store.governance.audit.list(offset=n)
    assert [r.action for r in records] == ["events.search", "track.view"]
    assert records[0].reason == "looking for x" and records[0].actor == "viewer-a"


def test_two_person_rule_and_rejection_reason(env: Env) -> None:
    object.__setattr__(env.ctx.config.candidates, "required_confirmations", 2)
    cid = env.seeded["cam-a"].candidate
    url = f"/api/candidates/{cid}/decision"
    r = env.client.post(url, json={"decision": "confirm"}, headers=env.as_role("operator"))
    assert r.status_code == 200 and r.json()["status"] == "pending"
    r = env.client.post(url, json={"decision": "confirm"}, headers=env.as_role("operator"))
    assert r.status_code == 422 and r.json()["error"] == "policy_violation"
    r = env.client.post(url, json={"decision": "confirm"}, headers=env.as_role("supervisor"))
    assert r.json()["status"] == "confirmed" and r.json()["actionable"]
    other = env.seeded["cam-b"].candidate
    r = env.client.post(f"/api/candidates/{other}/decision", json={"decision": "reject"}, headers=env.root)
    assert r.status_code == 400 and r.json()["error"] == "reason_required"
    decisions = env.store.governance.audit.list(action="candidate.decide")
    assert [d.actor for d in decisions] == ["operator-a", "supervisor-a"]


def test_case_export_is_a_redacted_package_with_a_manifest(env: Env) -> None:
    s = env.seeded["cam-a"]
    case_id = env.client.post("/api/cases", json={"name": "case 1", "reason": "warrant W-1"}, headers=env.root).json()[
        "case_id"
    ]
    for item_type, item_id in (("track", s.track), ("candidate", s.candidate), ("event", s.event)):
        r = env.client.post(
            f"/api/cases/{case_id}/items", json={"item_type": item_type, "item_id": item_id}, headers=env.root
        )
        assert r.status_code == 200, r.text
    r = env.client.post(
        f"/api/cases/{case_id}/export", json={"reason": "court request"}, headers=env.as_role("supervisor")
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["redacted"] is True
    assert set(manifest["files"]) == set(zf.namelist()) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    assert zf.read(f"media/{s.snapshot}") != (env.ctx.media.root / s.snapshot).read_bytes()
    events = json.loads(zf.read("events.json"))
    assert {e["event_id"] for e in events["events"]} >= {s.event} and events["candidates"][0][
        "candidate_id"
    ] == s.candidate
    audit = json.loads(zf.read("audit.json"))["records"]
    assert {a["action"] for a in audit} >= {"case.create", "case.add_item"}
    r = env.client.post(f"/api/cases/{case_id}/export", json={"reason": "court", "unredacted": True}, headers=env.root)
    assert r.status_code == 403
    [export] = env.store.governance.audit.list(action="export.create")
    assert export.detail["manifest_sha256"] == hashlib.sha256(zf.read("manifest.json")).hexdigest()


def test_transparency_report_counts_without_personal_data(env: Env) -> None:
    # A face candidate needs two different accounts' confirmations by default.
    for who in (env.root, env.as_role("supervisor")):
        env.client.post(
            f"/api/candidates/{env.seeded['cam-a'].candidate}/decision", json={"decision": "confirm"}, headers=who
        )
    env.client.post(
        f"/api/candidates/{env.seeded['cam-b'].candidate}/decision",
        json={"decision": "reject", "reason": "different person"},
        headers=env.root,
    )
    r = env.client.get(
        "/api/reports/transparency",
        params={"since": "2026-10-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
        headers=env.as_role("auditor"),
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["confirmed"], report["rejected"], report["false_alert_rate"]) == (1, 1, 0.5)
    assert report["active_cameras"] == 2
    assert "subject-1" not in r.text and "cam-a" not in r.text


def test_errors_carry_a_code_and_a_message(env: Env) -> None:
    for r in (
        env.client.get("/api/nothing-here", headers=env.root),
        env.client.get("/api/events/nope", headers=env.root),
        env.client.get("/api/events", params={"limit": 0, "reason": "paging"}, headers=env.root),
        env.client.delete("/api/cameras", headers=env.root),
        env.client.get(
            "/api/events", params={"since": "2026-01-01T00:00:00", "reason": "naive time"}, headers=env.root
        ),
    ):
        assert 400 <= r.status_code < 500, r.text
        body = r.json()
        assert set(body) == {"error", "message"} and body["error"] and body["message"]
