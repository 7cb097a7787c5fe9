"""Explore through the API and the web UI: the same items, the same ``explore.search`` and
``explore.view`` records (except ``via``), and the same refusal of a camera out of scope."""

from __future__ import annotations

from typing import Any

from api_support import Env
from doors import sign_in

from vigil.governance.auth import principal_of
from vigil.store.audit import AuditRecord

WHO = "operator-a"  # scoped to cam-a
REASON = "incident 2291 at the entrance"


def _last(env: Env, action: str) -> AuditRecord:
    return env.store.governance.audit.list(action=action, limit=1000, newest_first=True)[0]


def _fields(record: AuditRecord) -> dict[str, Any]:
    return {
        "actor": record.actor,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "camera_id": record.camera_id,
        "reason": record.reason,
        "detail": {k: v for k, v in record.detail.items() if k != "via"},
    }


def test_explore_is_the_same_through_the_api_and_the_web(env: Env) -> None:
    user = env.store.governance.users.by_username(WHO)
    assert user is not None
    token = env.ctx.auth.issue_token(principal_of(user, "session"), "test", 1)[0]
    api = {"Authorization": f"Bearer {token}"}
    browser = sign_in(env, WHO, landing="/explore")
    track = env.seeded["cam-a"].track
    query = {"camera_id": "cam-a", "reason": REASON}

    listed = env.client.get("/api/explore", params=query, headers=api)
    assert listed.status_code == 200, listed.text
    api_search = _last(env, "explore.search")
    page = browser.get("/explore?camera_id=cam-a&reason=incident+2291+at+the+entrance")
    assert page.status_code == 200, page.text
    web_search = _last(env, "explore.search")
    ids = [i["id"] for i in listed.json()["items"]]
    assert track in ids and all(f"/{i}" in page.text for i in ids)
    assert api_search.detail["via"] == "token" and web_search.detail["via"] == "session"
    assert _fields(api_search) == _fields(web_search)

    assert env.client.get(f"/api/explore/track/{track}", headers=api).status_code == 200
    api_view = _last(env, "explore.view")
    assert browser.get(f"/explore/track/{track}").status_code == 200
    assert _fields(api_view) == _fields(_last(env, "explore.view"))

    other = env.seeded["cam-b"].track
    assert env.client.get(f"/api/explore/track/{other}", headers=api).status_code == 403
    api_denied = _last(env, "access.denied")
    assert browser.get(f"/explore/track/{other}").status_code == 403
    assert _fields(api_denied) == _fields(_last(env, "access.denied"))
