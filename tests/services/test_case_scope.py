"""Hole 8: a camera-scoped supervisor neither sees nor changes another camera's cases, through
the API, the web UI or the CLI.

Before the cases service, ``GET /api/cases`` listed every case and ``POST /api/cases/{id}/hold``
returned 200 for a case whose ``GET`` returned 403. Now scope is applied once, for every action
and every door, and each refused attempt leaves an ``access.denied`` record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from api_support import Env
from doors import sign_in

from vigil.governance.auth import principal_of
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


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    user = env.store.governance.users.by_username(SUPERVISOR)
    assert user is not None
    token = env.ctx.auth.issue_token(principal_of(user, "session"), "scope test", 1)[0]
    data = env.ctx.config.data_dir
    environ = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_TOKEN=token, XDG_CONFIG_HOME=str(data / "xdg"))
    environ.pop("VIGIL_TOKEN_FILE", None)
    command = [sys.executable, "-m", "vigil.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120, check=False)


def test_cli_hides_and_refuses_out_of_scope_cases(env: Env) -> None:
    theirs = _case(env, "car park theft", "cam-b")
    ours = _case(env, "entrance assault", "cam-a")
    listed = _cli(env, "cases", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [c["case_id"] for c in json.loads(listed.stdout)] == [ours]
    refused = _cli(env, "cases", "hold", theirs, "--reason", "preserve for court")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and "cam-b" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    _unchanged(env, theirs)
    assert _denials(env, theirs) == [
        {"actor": SUPERVISOR, "attempted": "cases.manage", "camera": "cam-b", "via": "cli"}
    ]
