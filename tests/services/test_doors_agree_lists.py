"""The doors agree on the lists and the threshold: a hotlist entry added and removed, a watchlist
subject enrolled and removed, and a face-threshold policy changed through the API (bearer
token), the web UI (a form post with the page's CSRF token, as a browser sends it) and the CLI (a
real ``vigil`` subprocess signed in with ``VIGIL_TOKEN``) store the same change and write the same
audit record — same actor, action, object type, reason and fields; only ``via`` (and the CLI's
``os_user``) differs, and the object id where each door made a new object."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import Env, build_env
from doors import sign_in

from vigil.governance.auth import principal_of
from vigil.store import Store
from vigil.store.audit import AuditRecord

DOORS = ("api", "web", "cli")
VIA = {"api": "token", "web": "session", "cli": "cli"}
WHO = "supervisor-a"
EXPIRES = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
PORTRAIT = Path(__file__).resolve().parents[2] / "samples" / "faces" / "astronaut.jpg"


@pytest.fixture
def fenv(tmp_path: Path, store: Store, installed_models_dir: Path) -> Iterator[Env]:
    """The API test deployment with the face models (for enrolments)."""
    for env in build_env(tmp_path, store):
        cfg = env.ctx.config.model_copy(update={"models_dir": installed_models_dir})
        env.ctx.config = cfg
        env.ctx.services = dataclasses.replace(env.ctx.services, config=cfg)
        yield env


def _cli(env: Env, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    data = env.ctx.config.data_dir
    environ = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_TOKEN=token, XDG_CONFIG_HOME=str(data / "xdg"))
    environ["VIGIL_MODELS_DIR"] = str(env.ctx.config.resolved_models_dir)
    environ.pop("VIGIL_TOKEN_FILE", None)
    command = [sys.executable, "-m", "vigil.cli.main", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _token(env: Env, username: str = WHO) -> str:
    user = env.store.governance.users.by_username(username)
    assert user is not None
    return env.ctx.auth.issue_token(principal_of(user, "session"), "door test", 1)[0]


def _last(env: Env, action: str) -> AuditRecord:
    return env.store.governance.audit.list(action=action, limit=1000)[-1]


def _fields(record: AuditRecord, door: str) -> dict[str, Any]:
    """The record less what differs by door; checks that ``via`` names the door."""
    assert record.detail["via"] == VIA[door] and ("os_user" in record.detail) == (door == "cli")
    return {
        "actor": record.actor,
        "action": record.action,
        "object_type": record.object_type,
        "camera_id": record.camera_id,
        "reason": record.reason,
        "detail": {k: v for k, v in record.detail.items() if k not in ("via", "os_user")},
    }


def _agree(seen: dict[str, Any]) -> None:
    """Every door's value equals the API's (the message names the door that differs)."""
    for door in DOORS[1:]:
        assert seen[door] == seen["api"], f"{door} differs from the API"


def test_a_hotlist_entry_added_and_removed_is_the_same_through_every_door(env: Env) -> None:
    token = _token(env)
    browser = sign_in(env, WHO, landing="/lists")
    plate, basis, note = "DR12AGR", "WARRANT-D1 stolen car", "red estate"
    stored: dict[str, Any] = {}
    added: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    for door in DOORS:
        why = "warrant D1 withdrawn"
        if door == "api":
            body = {"plate": plate, "legal_basis": basis, "authorised_by": "Insp. Rao", "expires": EXPIRES}
            r = env.client.post("/api/plates/hotlist", json={**body, "note": note}, headers={
                "Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 201, r.text
        elif door == "web":
            form = {"plate": plate, "legal_basis": basis, "authorised_by": "Insp. Rao", "expires": EXPIRES}
            r = browser.post("/lists/hotlist", {**form, "note": note})
            assert r.status_code == 303, r.text
        else:
            _cli(env, token, "hotlist", "add", plate, "--reason", basis, "--authorised-by", "Insp. Rao",
                 "--expires", EXPIRES, "--note", note)  # fmt: skip
        (entry,) = [e for e in env.store.plates.list_entries() if e.plate == plate]
        stored[door] = {k: v for k, v in dataclasses.asdict(entry).items() if k not in ("entry_id", "created_at")}
        record = _last(env, "hotlist.add")
        assert record.object_id == entry.entry_id
        added[door] = _fields(record, door)

        if door == "api":
            r = env.client.delete(f"/api/plates/hotlist/{entry.entry_id}", params={"reason": why},
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 200, r.text
        elif door == "web":
            r = browser.post(f"/lists/hotlist/{entry.entry_id}/remove", {"reason": why})
            assert r.status_code == 303, r.text
        else:
            _cli(env, token, "hotlist", "remove", entry.entry_id, "--reason", why)
        assert plate not in {e.plate for e in env.store.plates.list_entries()}
        record = _last(env, "hotlist.remove")
        assert record.object_id == entry.entry_id
        removed[door] = _fields(record, door)

    assert stored["api"]["entered_by"] == WHO and stored["api"]["note"] == note
    assert added["api"]["detail"]["expires_at"] == stored["api"]["expires_at"].isoformat()  # never "expires"
    _agree(stored)
    _agree(added)
    _agree(removed)


def test_a_watchlist_subject_enrolled_and_removed_is_the_same_through_every_door(fenv: Env) -> None:
    env = fenv
    token = _token(env)
    browser = sign_in(env, WHO, landing="/lists")
    subject, basis, provenance = "door-77", "WARRANT-77 court order", "NASA portrait, public domain"
    form = {"subject_id": subject, "display_name": "Eileen Collins (test)", "legal_basis": basis,
            "authorised_by": "Sam Supervisor", "expires": EXPIRES, "provenance": provenance}  # fmt: skip
    stored: dict[str, Any] = {}
    enrolled: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    image = PORTRAIT.read_bytes()
    for door in DOORS:
        why = "case 77 closed"
        if door == "api":
            r = env.client.post("/api/faces/watchlist", data=form, files=[("images", ("astronaut.jpg", image,
                                "image/jpeg"))], headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 201, r.text
        elif door == "web":
            r = browser.client.post("/lists/subjects", data={**form, "csrf_token": browser.csrf},
                                    files=[("images", ("astronaut.jpg", image, "image/jpeg"))],
                                    follow_redirects=False)  # fmt: skip
            assert r.status_code == 303, r.text
        else:
            _cli(env, token, "watchlist", "add", subject, "--name", form["display_name"], "--image", str(PORTRAIT),
                 "--provenance", provenance, "--legal-basis", basis, "--authorised-by", "Sam Supervisor",
                 "--expires", EXPIRES)  # fmt: skip
        s = env.store.faces.get(subject)
        stored[door] = {
            "fields": (s.display_name, s.legal_basis, s.authorised_by, s.enrolled_by, s.expires_at),
            "references": [(r.provenance, r.source_name, r.embedder) for r in s.references],
        }
        enrolled[door] = _fields(_last(env, "watchlist.enrol"), door)

        if door == "api":
            r = env.client.delete(f"/api/faces/watchlist/{subject}", params={"reason": why},
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 200, r.text
        elif door == "web":
            r = browser.post(f"/lists/subjects/{subject}/remove", {"reason": why})
            assert r.status_code == 303, r.text
        else:
            _cli(env, token, "watchlist", "remove", subject, "--reason", why)
        assert subject not in {x.subject_id for x in env.store.faces.list()}
        removed[door] = _fields(_last(env, "watchlist.remove"), door)

    assert stored["api"]["fields"][3] == WHO and stored["api"]["references"][0][1] == "astronaut.jpg"
    assert enrolled["api"]["reason"] == basis and enrolled["api"]["detail"]["provenance"] == [provenance]
    _agree(stored)
    _agree(enrolled)
    _agree(removed)


def test_a_threshold_policy_change_and_its_refusal_are_the_same_through_every_door(env: Env) -> None:
    token = _token(env)
    browser = sign_in(env, WHO, landing="/policies")
    changed: dict[str, Any] = {}
    refused: dict[str, Any] = {}
    for door, value in zip(DOORS, ("0.61", "0.62", "0.63"), strict=True):
        why = f"fewer false alerts, round {door}"
        if door == "api":
            r = env.client.put("/api/policies/faces.threshold", json={"value": float(value), "reason": why},
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 200, r.text
            bad = env.client.put("/api/policies/faces.threshold", json={"value": -1e308, "reason": why},
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert bad.status_code == 422 and "from 0.300" in bad.json()["message"]
        elif door == "web":
            r = browser.post("/policies", {"key": "faces.threshold", "value": value, "reason": why})
            assert r.status_code == 303, r.text
            bad = browser.post("/policies", {"key": "faces.threshold", "value": "-1e308", "reason": why})
            assert bad.status_code == 303, bad.text  # back to the form, the refusal shown there
            shown = browser.get(bad.headers["location"])
            assert "faces.threshold must be a number from 0.300" in shown.text
        else:
            _cli(env, token, "policy", "set", "faces.threshold", value, "--reason", why)
            data = env.ctx.config.data_dir
            environ = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_TOKEN=token)
            args = ["policy", "set", "--reason", why, "--", "faces.threshold", "-1e308"]
            bad_run = subprocess.run(
                [sys.executable, "-m", "vigil.cli.main", *args],
                capture_output=True, text=True, env=environ, timeout=120, check=False,
            )  # fmt: skip
            assert bad_run.returncode == 1 and "from 0.300" in bad_run.stderr, bad_run.stderr
        stored = env.store.governance.policies.get("faces.threshold")
        assert stored is not None and stored.value == float(value) and stored.updated_by == WHO
        change = _fields(_last(env, "policy.change"), door)
        change["reason"] = change["reason"].removesuffix(door)
        # What differs by design: the values themselves (one per round, so each change is visible).
        assert change["detail"].pop("new") == float(value)
        change["detail"].pop("old")
        changed[door] = change
        refusal = _fields(_last(env, "policy.refused"), door)
        refusal["reason"] = refusal["reason"].removesuffix(door)
        refused[door] = refusal

    assert changed["api"]["detail"] == {"old_source": changed["api"]["detail"]["old_source"], "below_floor": False,
                                        "source": "policy"}  # fmt: skip
    assert refused["api"]["detail"]["value"] == -1e308
    _agree({d: {**c, "detail": {**c["detail"], "old_source": None}} for d, c in changed.items()})
    _agree(refused)
