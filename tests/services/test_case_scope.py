"""Hole 8: a camera-scoped supervisor neither sees nor changes another camera's cases.

Before the cases service, ``GET /api/cases`` listed every case and ``POST /api/cases/{id}/hold``
returned 200 for a case whose ``GET`` returned 403. Now scope is applied once, for every action
and every door, and each refused attempt leaves an ``access.denied`` record.
"""

from __future__ import annotations

from typing import Any

from api_support import Env
from doors import sign_in

from vigil.store.cases import CaseRecord

SUPERVISOR = "supervisor-a"  # scoped to cam-a


def _case(env: Env, name: str, camera: str) -> str:
    made = env.client.post("/api/cases", json={"name": name, "reason": "warrant 17/2291"}, headers=env.root)
    assert made.status_code == 201, made.text
    case_id = str(made.json()["case_id"])
    item = {"item_type": "track", "item_id": env.seeded[camera].track}
    assert env.client.post(f"/api/cases/{case_id}/items", json=item, headers=env.root).status_code == 200
    return case_id


def _denials(env: Env, case_id: str) -> list[dict[str, Any]]:
    return [
        {"actor": r.actor, "attempted": r.detail["attempted"], "camera": r.camera_id, "via": r.detail["via"]}
        for r in env.store.governance.audit.list(limit=1000)
        if r.action == "access.denied" and r.object_id == case_id
    ]


def _unchanged(env: Env, case_id: str) -> CaseRecord:
    case = env.store.governance.cases.get(case_id)
    assert not case.legal_hold
    return case


def test_api_hides_and_refuses_out_of_scope_cases(env: Env) -> None:
    theirs = _case(env, "car park theft", "cam-b")
    ours = _case(env, "entrance assault", "cam-a")
    sup = env.as_role("supervisor")

    listed = env.client.get("/api/cases", headers=sup)
    assert listed.status_code == 200
    assert [c["case_id"] for c in listed.json()] == [ours]
    assert {c["case_id"] for c in env.client.get("/api/cases", headers=env.root).json()} == {ours, theirs}

    hold = {"legal_hold": True, "reason": "preserve for court"}
    for method, path, body in (
        ("GET", f"/api/cases/{theirs}", None),
        ("POST", f"/api/cases/{theirs}/hold", hold),
        ("POST", f"/api/cases/{theirs}/export", {"reason": "disclosure to counsel"}),
        ("POST", f"/api/cases/{theirs}/items", {"item_type": "track", "item_id": env.seeded["cam-a"].track}),
    ):
        r = env.client.request(method, path, json=body, headers=sup)
        assert r.status_code == 403 and r.json()["error"] == "out_of_scope", (method, path, r.text)
    assert len(_unchanged(env, theirs).items) == 1
    assert _denials(env, theirs) == [
        {"actor": SUPERVISOR, "attempted": attempted, "camera": "cam-b", "via": "token"}
        for attempted in ("cases.read", "cases.manage", "exports.create", "cases.manage")
    ]

    assert env.client.post(f"/api/cases/{ours}/hold", json=hold, headers=sup).status_code == 200
    assert env.store.governance.cases.get(ours).legal_hold


def test_web_ui_hides_and_refuses_out_of_scope_cases(env: Env) -> None:
    theirs = _case(env, "car park theft", "cam-b")
    ours = _case(env, "entrance assault", "cam-a")
    browser = sign_in(env, SUPERVISOR)

    page = browser.get("/cases").text
    assert "entrance assault" in page and "car park theft" not in page and theirs not in page
    assert browser.get(f"/cases/{theirs}").status_code == 403
    review = browser.get(f"/review?id={env.seeded['cam-a'].candidate}")  # its "add to case" choice
    assert review.status_code == 200 and ours in review.text and theirs not in review.text
    refused = browser.post(f"/cases/{theirs}/hold", {"legal_hold": "on", "reason": "preserve for court"})
    assert refused.status_code == 303 and "notice" not in refused.headers["location"]
    _unchanged(env, theirs)
    assert _denials(env, theirs) == [
        {"actor": SUPERVISOR, "attempted": a, "camera": "cam-b", "via": "session"}
        for a in ("cases.read", "cases.manage")
    ]

    done = browser.post(f"/cases/{ours}/hold", {"legal_hold": "on", "reason": "preserve for court"})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/cases/{ours}")
    assert env.store.governance.cases.get(ours).legal_hold
