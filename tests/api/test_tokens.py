"""Hole 11: a bearer token minted new 365-day tokens, and no token could be revoked.

Through the real app: only a password sign-in (a browser session) mints tokens; tokens are
listed (never their secrets) and revoked, a revoked token is refused from its very next request,
lifetimes are bounded, and every refusal is on record.
"""

from __future__ import annotations

from typing import Any

from api_support import PASSWORD, Env


def _session(env: Env, username: str) -> dict[str, str]:
    """Sign in with a password (the cookie stays in the client); returns the CSRF header."""
    r = env.client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _denied(env: Env) -> list[tuple[str, str, Any]]:
    return [
        (r.actor, r.detail["attempted"], r.detail.get("code"))
        for r in env.store.governance.audit.list(action="access.denied", limit=100)
    ]


def test_a_token_cannot_mint_tokens_but_a_password_sign_in_can(env: Env) -> None:
    minted = env.client.post("/api/auth/tokens", json={"name": "laptop", "days": 7}, headers=_session(env, "root"))
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    env.client.cookies.clear()

    for who in (token, env.root_token):
        r = env.client.post("/api/auth/tokens", json={"name": "forever", "days": 365}, headers=_bearer(who))
        assert (r.status_code, r.json()["error"]) == (403, "token_mints_token"), r.text
    assert _denied(env) == [("root", "token.create", "token_mints_token")] * 2
    # Nothing was issued by the refused attempts.
    assert [t.name for t in env.store.governance.auth.list_tokens()].count("forever") == 0


def test_lifetimes_are_bounded(env: Env) -> None:
    headers = _session(env, "root")
    too_long = env.client.post("/api/auth/tokens", json={"name": "x", "days": 91}, headers=headers)
    assert too_long.status_code == 422 and "between 0 and 90 days" in too_long.json()["message"], too_long.text
    schema_cap = env.client.post("/api/auth/tokens", json={"name": "x", "days": 3650}, headers=headers)
    assert schema_cap.status_code == 422, schema_cap.text


def test_tokens_are_listed_and_revoked_and_stop_working_at_once(env: Env) -> None:
    headers = _session(env, "operator-a")
    made = env.client.post("/api/auth/tokens", json={"name": "script", "days": 1}, headers=headers).json()
    env.client.cookies.clear()
    mine = _bearer(made["token"])
    assert env.client.get("/api/auth/me", headers=mine).json()["username"] == "operator-a"

    listed = env.client.get("/api/auth/tokens", headers=mine)
    assert listed.status_code == 200
    assert {t["name"] for t in listed.json()} == {"test", "script"}  # own tokens only
    assert "token" not in listed.json()[0]  # never the secret
    # Someone else's tokens: admins only, and the attempt is recorded.
    other = env.client.get("/api/auth/tokens", params={"username": "*"}, headers=mine)
    assert other.status_code == 403
    everyone = env.client.get("/api/auth/tokens", params={"username": "*"}, headers=env.root).json()
    assert {t["username"] for t in everyone} >= {"root", "operator-a", "viewer-a"}

    # A non-admin cannot revoke another account's token.
    roots = [t["token_id"] for t in everyone if t["username"] == "root"]
    refused = env.client.delete(f"/api/auth/tokens/{roots[0]}", headers=mine)
    assert refused.status_code == 403
    assert env.client.get("/api/auth/me", headers=env.root).status_code == 200
    assert _denied(env) == [("operator-a", "users.manage", "forbidden")] * 2

    revoked = env.client.delete(f"/api/auth/tokens/{made['token_id']}", headers=mine)
    assert revoked.status_code == 200 and revoked.json()["active"] is False, revoked.text
    gone = env.client.get("/api/auth/me", headers=mine)
    assert (gone.status_code, gone.json()["error"]) == (401, "invalid_token")
    assert "revoked" in gone.json()["message"]

    # An admin revokes anyone's token; a second revocation is a conflict, not a new record.
    viewer_token = next(t["token_id"] for t in everyone if t["username"] == "viewer-a")
    assert env.client.delete(f"/api/auth/tokens/{viewer_token}", headers=env.root).status_code == 200
    assert env.client.get("/api/auth/me", headers=env.as_role("viewer")).status_code == 401
    assert env.client.delete(f"/api/auth/tokens/{viewer_token}", headers=env.root).status_code == 409
    revocations = env.store.governance.audit.list(action="token.revoke", limit=10)
    assert [(r.actor, r.object_id, r.detail["owner"]) for r in revocations] == [
        ("operator-a", made["token_id"], "operator-a"),
        ("root", viewer_token, "viewer-a"),
    ]
