"""The doors agree: a candidate decision, a token revocation and a role change made through the
API (bearer token), the web UI (a form post with the page's CSRF token, as a browser sends it)
and the CLI (a real ``vigil`` subprocess signed in with ``VIGIL_TOKEN``) make the same change and
write the same audit record — same actor, action, object, camera, reason and fields; only
``via`` (and the CLI's ``os_user``) differs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import Env
from doors import flash_of, sign_in

from vigil.events.candidates import CandidateRaised
from vigil.governance.auth import principal_of
from vigil.store.audit import AuditRecord

DOORS = ("api", "web", "cli")
VIA = {"api": "token", "web": "session", "cli": "cli"}


def _cli(env: Env, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    data = env.ctx.config.data_dir
    environ = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_TOKEN=token, XDG_CONFIG_HOME=str(data / "xdg"))
    environ.pop("VIGIL_TOKEN_FILE", None)
    command = [sys.executable, "-m", "vigil.cli.main", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _token(env: Env, username: str, name: str = "door test") -> tuple[str, str]:
    user = env.store.governance.users.by_username(username)
    assert user is not None
    secret, record = env.ctx.auth.issue_token(principal_of(user, "session"), name, 1)
    return secret, record.token_id


def _face_candidate(env: Env) -> str:
    raised = CandidateRaised(
        camera_id="cam-a", occurred_at=datetime.now(UTC), kind="face", list_entry_id="subject-1", score=0.88
    )
    env.store.events.add_many([raised])
    return raised.event_id


def _last(env: Env, action: str) -> AuditRecord:
    return env.store.governance.audit.list(action=action, limit=1000)[-1]


def _same_fields(record: AuditRecord, object_id: str) -> dict[str, Any]:
    """The record less what may differ by door (``via``, ``os_user``); checks the object."""
    assert record.object_id == object_id
    detail = {k: v for k, v in record.detail.items() if k not in ("via", "os_user")}
    return {
        "actor": record.actor,
        "action": record.action,
        "object_type": record.object_type,
        "camera_id": record.camera_id,
        "reason": record.reason,
        "detail": detail,
    }


def _door_of(record: AuditRecord) -> tuple[str, bool]:
    return record.detail["via"], "os_user" in record.detail


@pytest.mark.parametrize("decision", ["confirm", "reject"])
def test_a_candidate_decision_is_the_same_through_every_door(env: Env, decision: str) -> None:
    who = "operator-a"  # scoped to cam-a
    reason = "same jacket and gait" if decision == "confirm" else "different person: ears differ"
    token, _ = _token(env, who)
    browser = sign_in(env, who, landing="/review")
    seen: dict[str, dict[str, Any]] = {}
    for door in DOORS:
        cid = _face_candidate(env)
        if door == "api":
            r = env.client.post(
                f"/api/candidates/{cid}/decision",
                json={"decision": decision, "reason": reason},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200, r.text
        elif door == "web":
            r = browser.post(f"/review/{cid}/decide", {"decision": decision, "reason": reason})
            assert r.status_code == 303 and "error" not in flash_of(r), flash_of(r)
        else:
            _cli(env, token, "candidates", decision, cid, "--reason", reason)
        after = env.store.candidates.get(cid)
        # The change: one decision by the account, and the state it leaves (faces need two).
        assert [(d.actor, d.decision, d.reason) for d in after.decisions] == [(who, decision, reason)]
        assert after.status == ("pending" if decision == "confirm" else "rejected")
        record = _last(env, "candidate.decide")
        assert _door_of(record) == (VIA[door], door == "cli")
        seen[door] = _same_fields(record, cid)
    assert seen["api"] == seen["web"] == seen["cli"]
    assert seen["api"]["detail"] == {
        "decision": decision,
        "status": "pending" if decision == "confirm" else "rejected",
        "confirmations": 1 if decision == "confirm" else 0,
        "required": 2,
    }


def test_token_revocation_and_role_change_are_the_same_through_every_door(env: Env) -> None:
    root_token, _ = _token(env, "root")
    browser = sign_in(env, "root", landing="/users")
    revoked: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    for door in DOORS:
        secret, token_id = _token(env, "viewer-a", "spare")
        username = f"door-{door}"
        env.ctx.auth.add_user(username, "correct horse battery", "viewer", None, actor="test")
        if door == "api":
            bearer = {"Authorization": f"Bearer {root_token}"}
            assert env.client.delete(f"/api/auth/tokens/{token_id}", headers=bearer).status_code == 200
            patched = env.client.patch(f"/api/users/{username}", json={"role": "operator"}, headers=bearer)
            assert patched.status_code == 200, patched.text
        elif door == "web":
            r = browser.post(f"/tokens/{token_id}/revoke", {})
            assert r.status_code == 303 and flash_of(r) == {"notice": "Token revoked"}, flash_of(r)
            r = browser.post(f"/users/{username}", {"role": "operator", "cameras": "", "disabled": ""})
            assert r.status_code == 303 and "error" not in flash_of(r), flash_of(r)
        else:
            _cli(env, root_token, "tokens", "revoke", token_id)
            _cli(env, root_token, "users", "set-role", username, "operator")
        # The changes: the token is refused from now on; the role is changed.
        assert env.client.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
        user = env.store.governance.users.by_username(username)
        assert user is not None and user.role == "operator"
        revocation, update = _last(env, "token.revoke"), _last(env, "user.update")
        assert _door_of(revocation) == _door_of(update) == (VIA[door], door == "cli")
        revoked[door] = _same_fields(revocation, token_id)
        changed[door] = {**_same_fields(update, username), "object": None}
    assert revoked["api"] == revoked["web"] == revoked["cli"]
    assert revoked["api"]["detail"] == {"owner": "viewer-a", "name": "spare"}
    assert changed["api"] == changed["web"] == changed["cli"]
    assert changed["api"]["detail"] == {"changes": {"role": "operator"}}
