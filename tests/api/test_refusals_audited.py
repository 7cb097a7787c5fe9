"""Hole 9: refused attempts left no record.

Through the real API and web UI: an out-of-scope read, a viewer making itself admin, a viewer
deciding a candidate or exporting a case — each is refused *and* leaves an ``access.denied``
record naming who tried what, where; and nothing changed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from api_support import Env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from doors import flash_of, sign_in


def _denials(env: Env) -> list[dict[str, Any]]:
    return [
        {
            "actor": r.actor,
            "attempted": r.detail["attempted"],
            "camera": r.camera_id,
            "via": r.detail["via"],
            "request": r.detail.get("request") or r.detail.get("page"),
        }
        for r in env.store.governance.audit.list(action="access.denied", limit=100)
    ]


def test_out_of_scope_reads_are_refused_and_recorded(env: Env) -> None:
    theirs = env.seeded["cam-b"]
    op = env.as_role("operator")  # scoped to cam-a
    for path in (f"/api/tracks/{theirs.track}", f"/api/candidates/{theirs.candidate}"):
        r = env.client.get(path, headers=op)
        assert (r.status_code, r.json()["error"]) == (403, "out_of_scope"), r.text
    listing = env.client.get("/api/candidates", params={"camera_id": "cam-b"}, headers=op)
    assert listing.status_code == 403
    # Each refusal is recorded once, by the service that refused it (services.events for the
    # track, services.candidates for the candidate and the listing).
    assert _denials(env) == [
        {"actor": "operator-a", "attempted": "tracks.read", "camera": "cam-b", "via": "token", "request": None},
        {"actor": "operator-a", "attempted": "candidates.read", "camera": "cam-b", "via": "token", "request": None},
        {"actor": "operator-a", "attempted": "candidates.read", "camera": "cam-b", "via": "token", "request": None},
    ]
    # The refusals are refusals: no view of those objects was recorded.
    assert env.store.governance.audit.list(action="candidate.view", limit=10) == []


def test_a_viewer_cannot_make_itself_admin_and_the_attempt_is_recorded(env: Env) -> None:
    r = env.client.patch("/api/users/viewer-a", json={"role": "admin"}, headers=env.as_role("viewer"))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    assert env.store.governance.users.by_username("viewer-a").role == "viewer"  # type: ignore[union-attr]
    [record] = env.store.governance.audit.list(action="access.denied", limit=10)
    assert (record.actor, record.detail["attempted"], record.detail["request"]) == (
        "viewer-a",
        "users.manage",
        "PATCH /api/users/{username}",
    )
    assert record.detail["params"] == {"username": "viewer-a"} and record.detail["code"] == "forbidden"

    # The same attempt through the web UI's user form: refused, recorded with the change asked for.
    browser = sign_in(env, "viewer-a", landing="/")
    page = browser.post("/users/viewer-a", {"role": "admin", "cameras": "", "disabled": ""})
    assert page.status_code == 303 and flash_of(page) == {"error": "role 'viewer' may not users.manage"}
    assert env.store.governance.users.by_username("viewer-a").role == "viewer"  # type: ignore[union-attr]
    web = env.store.governance.audit.list(action="access.denied", limit=10)[-1]
    assert (web.actor, web.detail["attempted"], web.detail["via"]) == ("viewer-a", "users.manage", "session")
    assert web.detail["changes"]["role"] == "admin"
    assert env.store.governance.audit.list(action="user.update", limit=10) == []


def test_viewers_deciding_or_exporting_are_recorded_whichever_door(env: Env) -> None:
    mine = env.seeded["cam-a"]
    viewer = env.as_role("viewer")
    decide = env.client.post(f"/api/candidates/{mine.candidate}/decision", json={"decision": "confirm"}, headers=viewer)
    assert decide.status_code == 403
    made = env.client.post("/api/cases", json={"name": "case 1", "reason": "warrant W-9"}, headers=env.root)
    assert made.status_code == 201, made.text
    case = made.json()
    export = env.client.post(f"/api/cases/{case['case_id']}/export", json={"reason": "for court"}, headers=viewer)
    assert export.status_code == 403

    # The same viewer through the web UI (a form post with the page's CSRF token, as a browser).
    browser = sign_in(env, "viewer-a", landing="/")
    page = browser.post(f"/review/{mine.candidate}/decide", {"decision": "confirm"})
    assert page.status_code == 303
    assert env.store.candidates.get(mine.candidate).decisions == ()

    attempts = [(d["actor"], d["attempted"], d["via"]) for d in _denials(env)]
    assert attempts == [
        ("viewer-a", "candidates.decide", "token"),
        ("viewer-a", "exports.create", "token"),
        ("viewer-a", "candidates.decide", "session"),
    ]
