"""Authentication, CSRF, tokens, rate limits and the attacks the API must shrug off."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_support import PASSWORD, Env, build_env
from sqlalchemy import update

from vigil.core.clock import utcnow
from vigil.store import Store
from vigil.store.auth import ApiTokenRow


def _error(r: object, status: int, code: str) -> None:
    response = r  # httpx.Response
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == code and body["message"], body


def _login(env: Env, username: str = "supervisor-a") -> str:
    r = env.client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert "vigil_session" in r.cookies
    return str(r.json()["csrf_token"])


def test_browser_session_needs_csrf_for_changes(env: Env) -> None:
    csrf = _login(env)
    assert env.client.get("/api/auth/me").json()["username"] == "supervisor-a"
    _error(env.client.post("/api/auth/tokens", json={"name": "x"}), 403, "csrf_failed")
    _error(
        env.client.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "forged"}), 403, "csrf_failed"
    )
    assert env.client.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert env.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    _error(env.client.get("/api/auth/me"), 401, "unauthenticated")


def test_logins_are_rate_limited_and_audited(env: Env) -> None:
    for _ in range(5):
        _error(
            env.client.post("/api/auth/login", json={"username": "viewer-a", "password": "wrong!"}),
            401,
            "bad_credentials",
        )
    r = env.client.post("/api/auth/login", json={"username": "viewer-a", "password": PASSWORD})
    _error(r, 429, "rate_limited")
    assert 0 < int(r.headers["Retry-After"]) <= 60  # the first lockout (login_lockout_s), counted from the 5th failure
    actions = [a.action for a in env.store.governance.audit.list(actor="viewer-a", limit=100)]
    assert actions.count("login.failed") == 5 and "login.refused" in actions


def test_expired_and_forged_tokens_are_refused(env: Env) -> None:
    with env.store.engine.begin() as conn:
        conn.execute(update(ApiTokenRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    _error(env.client.get("/api/auth/me", headers=env.as_role("viewer")), 401, "token_expired")
    forged = {"Authorization": "Bearer vgl_" + secrets.token_urlsafe(32)}
    _error(env.client.get("/api/auth/me", headers=forged), 401, "invalid_token")
    _error(env.client.get("/api/auth/me", headers={"Authorization": "Basic abc"}), 401, "invalid_token")
    _error(env.client.get("/api/auth/me", headers={"Authorization": "Bearer not-ours"}), 401, "invalid_token")


@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "snapshots/..%2f..%2f..%2fetc%2fpasswd",
        "%2Fetc%2Fpasswd",
        "snapshots\\..\\..\\vigil.db",
        "..%00/x.jpg",
        "../vigil.db",
        "crops/../../vigil.db",
    ],
)
def test_media_path_traversal_is_refused(env: Env, path: str) -> None:
    r = env.client.get(f"/api/media/{path}", headers=env.as_role("supervisor"))
    assert r.status_code in (400, 404), (path, r.status_code)
    assert r.json()["error"] in ("invalid_path", "not_found")


def test_media_not_referenced_by_any_record_is_not_served(env: Env) -> None:
    (env.ctx.media.root / "stray.jpg").write_bytes(b"\xff\xd8\xff")
    _error(env.client.get("/api/media/stray.jpg", headers=env.root), 404, "not_found")


@pytest.mark.parametrize(
    "value",
    ["cam-a' OR '1'='1", "x'; DROP TABLE events; --", "%' UNION SELECT payload FROM events --", '" OR 1=1 --'],
)
def test_sql_injection_in_search_parameters_matches_nothing(env: Env, value: str) -> None:
    before = env.store.events.count()
    for params in ({"camera_id": value}, {"type": value}, {"camera_id": "cam-a", "type": value}):
        r = env.client.get("/api/events", params={**params, "reason": "injection test"}, headers=env.root)
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []
    r = env.client.get("/api/audit", params={"actor": value}, headers=env.root)
    assert r.status_code == 200 and r.json()["items"] == []
    assert env.store.events.count() == before


@pytest.fixture
def small_env(tmp_path: Path, store: Store) -> Iterator[Env]:
    yield from build_env(tmp_path, store, max_upload_bytes=4096)


def _case(env: Env) -> str:
    r = env.client.post("/api/cases", json={"name": "upload case", "reason": "warrant 123"}, headers=env.root)
    return str(r.json()["case_id"])


def test_oversized_and_malformed_uploads_write_nothing(small_env: Env) -> None:
    env = small_env
    case_id = _case(env)
    url = f"/api/cases/{case_id}/attachments"
    big = b"%PDF-" + b"x" * 10_000
    _error(
        env.client.post(url, files={"file": ("w.pdf", big, "application/pdf")}, headers=env.root),
        413,
        "payload_too_large",
    )
    _error(
        env.client.post(url, files={"file": ("w.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}, headers=env.root),
        400,
        "invalid_upload",
    )
    r = env.client.post(
        url,
        content=b"--broken\r\nnot multipart",
        headers={**env.root, "Content-Type": "multipart/form-data; boundary=broken"},
    )
    assert r.status_code in (400, 422) and r.json()["error"]
    r = env.client.post("/api/cases", content=b'{"name": "x', headers={**env.root, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert env.client.get(f"/api/cases/{case_id}", headers=env.root).json()["items"] == []
    assert not (env.ctx.media.root / "cases").exists() or not any((env.ctx.media.root / "cases").rglob("*.*"))
    ok = env.client.post(url, files={"file": ("w.pdf", b"%PDF-1.4 ok", "application/pdf")}, headers=env.root)
    assert ok.status_code == 200 and ok.json()["items"][0]["item_type"] == "attachment"


def test_searches_and_unredacted_views_need_a_reason(env: Env) -> None:
    _error(
        env.client.get("/api/events", params={"camera_id": "cam-a"}, headers=env.as_role("viewer")),
        400,
        "reason_required",
    )
    _error(
        env.client.get("/api/tracks", params={"camera_id": "cam-a", "reason": "x"}, headers=env.as_role("viewer")),
        400,
        "reason_required",
    )
    snap = env.seeded["cam-a"].snapshot
    r = env.client.get(f"/api/media/{snap}", params={"unredacted": "true"}, headers=env.as_role("supervisor"))
    _error(r, 400, "reason_required")
    _error(
        env.client.get(
            f"/api/media/{snap}", params={"unredacted": "true", "reason": "to check"}, headers=env.as_role("operator")
        ),
        403,
        "forbidden",
    )


def test_scoped_users_must_name_a_camera(env: Env) -> None:
    r = env.client.get("/api/events", params={"reason": "all cameras please"}, headers=env.as_role("viewer"))
    _error(r, 400, "camera_required")
