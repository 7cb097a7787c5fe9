"""The doors agree: a legal hold, its release, a case export, a plate search and a subject
timeline through the API (bearer token), the web UI (form posts with the page's CSRF token, as a
browser sends them) and the CLI (a real ``vigil`` subprocess signed in with ``VIGIL_TOKEN``)
make the same change and write the same audit record — same actor, action, object, camera,
reason and fields; only ``via`` (and the CLI's ``os_user``) differs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from api_support import Env
from doors import Browser, flash_of, sign_in

from vigil.governance.auth import principal_of
from vigil.store.audit import AuditRecord

DOORS = ("api", "web", "cli")
VIA = {"api": "token", "web": "session", "cli": "cli"}
WHO = "supervisor-a"  # scoped to cam-a
PER_EXPORT = ("manifest_sha256",)
"""An export's manifest names the moment it was made, so its hash differs from export to export."""


def _cli(env: Env, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    data = env.ctx.config.data_dir
    environ = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_TOKEN=token, XDG_CONFIG_HOME=str(data / "xdg"))
    environ.pop("VIGIL_TOKEN_FILE", None)
    command = [sys.executable, "-m", "vigil.cli.main", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _token(env: Env, username: str) -> str:
    user = env.store.governance.users.by_username(username)
    assert user is not None
    return env.ctx.auth.issue_token(principal_of(user, "session"), "doors", 1)[0]


def _last(env: Env, action: str) -> AuditRecord:
    return env.store.governance.audit.list(action=action, limit=1000)[-1]


def _fields(record: AuditRecord, door: str, *, besides: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record less what may differ by door; checks the door it names."""
    assert record.detail["via"] == VIA[door] and ("os_user" in record.detail) == (door == "cli"), record.detail
    detail = {k: v for k, v in record.detail.items() if k not in ("via", "os_user", *besides)}
    return {
        "actor": record.actor,
        "action": record.action,
        "object": (record.object_type, record.object_id),
        "camera_id": record.camera_id,
        "reason": record.reason,
        "detail": detail,
    }


def _case(env: Env) -> str:
    body = {"name": "entrance assault", "reason": "warrant 17/2291"}
    made = env.client.post("/api/cases", json=body, headers=env.root)
    case_id = str(made.json()["case_id"])
    item = {"item_type": "track", "item_id": env.seeded["cam-a"].track}
    assert env.client.post(f"/api/cases/{case_id}/items", json=item, headers=env.root).status_code == 200
    return case_id


def _hold(env: Env, door: str, token: str, browser: Browser, case_id: str, on: bool, reason: str) -> None:
    if door == "api":
        r = env.client.post(
            f"/api/cases/{case_id}/hold",
            json={"legal_hold": on, "reason": reason},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
    elif door == "web":
        r = browser.post(f"/cases/{case_id}/hold", {"legal_hold": "on" if on else "", "reason": reason})
        assert r.status_code == 303 and "error" not in flash_of(r), flash_of(r)
    else:
        _cli(env, token, "cases", "hold" if on else "release", case_id, "--reason", reason)


def _export(env: Env, door: str, token: str, browser: Browser, case_id: str, reason: str, out: Path) -> bytes:
    if door == "api":
        r = env.client.post(
            f"/api/cases/{case_id}/export", json={"reason": reason}, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text
        return bytes(r.content)
    if door == "web":
        r = browser.post(f"/cases/{case_id}/export", {"reason": reason})
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text
        return bytes(r.content)
    _cli(env, token, "cases", "export", case_id, "--reason", reason, "--out", str(out))
    return out.read_bytes()


def test_hold_release_and_export_are_the_same_through_every_door(env: Env, tmp_path: Path) -> None:
    token = _token(env, WHO)
    browser = sign_in(env, WHO)
    held: dict[str, dict[str, Any]] = {}
    released: dict[str, dict[str, Any]] = {}
    exported: dict[str, dict[str, Any]] = {}
    packages: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for door in DOORS:
        case_id = _case(env)
        _hold(env, door, token, browser, case_id, True, "preserve for court")
        assert env.store.governance.cases.get(case_id).legal_hold  # the change
        assert _last(env, "case.hold").object_id == case_id
        held[door] = _fields(_last(env, "case.hold"), door) | {"object": None}
        _hold(env, door, token, browser, case_id, False, "court case closed")
        assert not env.store.governance.cases.get(case_id).legal_hold
        released[door] = _fields(_last(env, "case.hold"), door) | {"object": None}
        data = _export(env, door, token, browser, case_id, "disclosure to counsel", tmp_path / f"{door}.zip")
        record = _last(env, "export.create")
        assert record.object_id == case_id
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            manifest = json.loads(package.read("manifest.json"))
            events = json.loads(package.read("events.json"))
            names = sorted(package.namelist())
        assert record.detail["manifest_sha256"] and record.detail["files"] == len(names)
        assert manifest["exported_by"] == WHO and manifest["redacted"] is True
        packages[door] = (names, events)
        exported[door] = _fields(record, door, besides=PER_EXPORT) | {"object": None}
    assert held["api"] == held["web"] == held["cli"]
    assert held["api"]["detail"] == {"legal_hold": True} and held["api"]["actor"] == WHO
    assert released["api"] == released["web"] == released["cli"]
    assert released["api"]["detail"] == {"legal_hold": False} and released["api"]["reason"] == "court case closed"
    assert exported["api"] == exported["web"] == exported["cli"]
    assert exported["api"]["detail"]["redacted"] is True
    assert packages["api"] == packages["web"] == packages["cli"]


def test_plate_search_and_subject_timeline_are_the_same_through_every_door(env: Env) -> None:
    token = _token(env, WHO)
    browser = sign_in(env, WHO)
    bearer = {"Authorization": f"Bearer {token}"}
    searched: dict[str, dict[str, Any]] = {}
    followed: dict[str, dict[str, Any]] = {}
    found: dict[str, list[str]] = {}
    sightings: dict[str, list[str]] = {}
    why = "stolen vehicle report 8812"
    for door in DOORS:
        if door == "api":
            r = env.client.get(
                "/api/plates/reads", params={"plate": "ABC 1234", "camera_id": "cam-a", "reason": why}, headers=bearer
            )
            assert r.status_code == 200, r.text
            found[door] = [i["read_id"] for i in r.json()["items"]]
            r = env.client.get(
                "/api/faces/subjects/subject-1/timeline", params={"camera_id": "cam-a", "reason": why}, headers=bearer
            )
            assert r.status_code == 200, r.text
            sightings[door] = [i["candidate_id"] for i in r.json()["items"]]
        elif door == "web":
            page = browser.get(f"/plates?plate=ABC+1234&camera_id=cam-a&reason={why.replace(' ', '+')}")
            assert page.status_code == 200, page.text
            found[door] = ["plate-read-cam-a"] if "cam-a" in page.text and "cam-b" not in page.text else []
            page = browser.get(f"/subjects/subject-1?camera_id=cam-a&reason={why.replace(' ', '+')}")
            assert page.status_code == 200, page.text
            sightings[door] = [env.seeded["cam-a"].candidate] if env.seeded["cam-a"].candidate in page.text else []
        else:
            out = _cli(env, token, "plates", "search", "ABC 1234", "--camera", "cam-a", "--reason", why, "--json")
            found[door] = [r["read_id"] for r in json.loads(out.stdout)]
            out = _cli(env, token, "subject", "timeline", "subject-1", "--camera", "cam-a", "--reason", why, "--json")
            sightings[door] = [c["candidate_id"] for c in json.loads(out.stdout)]
        searched[door] = _fields(_last(env, "plates.search"), door)
        followed[door] = _fields(_last(env, "subject.timeline"), door)
    assert found["api"] == found["web"] == found["cli"] == ["plate-read-cam-a"]
    assert sightings["api"] == sightings["web"] == sightings["cli"] == [env.seeded["cam-a"].candidate]
    assert searched["api"] == searched["web"] == searched["cli"]
    assert searched["api"] == {
        "actor": WHO,
        "action": "plates.search",
        "object": ("plate", "ABC1234"),
        "camera_id": "cam-a",
        "reason": why,
        "detail": {"results": 1, "truncated": False, "since": None, "until": None},
    }
    assert followed["api"] == followed["web"] == followed["cli"]
    assert followed["api"]["object"] == ("face_subject", "subject-1") and followed["api"]["detail"]["results"] == 1


def _add(env: Env, door: str, token: str, browser: Browser, case_id: str, item_type: str, item_id: str) -> None:
    if door == "api":
        r = env.client.post(
            f"/api/cases/{case_id}/items",
            json={"item_type": item_type, "item_id": item_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
    elif door == "web":
        r = browser.post("/case-items", {"case_id": case_id, "item_type": item_type, "item_id": item_id})
        assert r.status_code == 303 and "error" not in flash_of(r), flash_of(r)
    else:
        _cli(env, token, "cases", "add", case_id, item_type, item_id)


def test_a_plate_read_joins_a_case_and_the_export_history_is_the_same_through_every_door(
    env: Env, tmp_path: Path
) -> None:
    token = _token(env, WHO)
    browser = sign_in(env, WHO)
    added: dict[str, dict[str, Any]] = {}
    history: dict[str, list[tuple[str, str | None, bool, int]]] = {}
    for door in DOORS:
        case_id = _case(env)
        _add(env, door, token, browser, case_id, "plate_read", "plate-read-cam-a")
        items = env.store.governance.cases.get(case_id).items
        assert [(i.item_type, i.item_id, i.camera_id) for i in items][-1] == ("plate_read", "plate-read-cam-a", "cam-a")
        record = _last(env, "case.add_item")
        assert record.detail["case"] == case_id
        added[door] = _fields(record, door, besides=("case",))
        data = _export(env, door, token, browser, case_id, "disclosure to counsel", tmp_path / f"{door}.zip")
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            reads = json.loads(package.read("events.json"))["plate_reads"]
        assert [(r["read_id"], r["plate"]) for r in reads] == [("plate-read-cam-a", "ABC1234")]
        if door == "api":
            r = env.client.get(f"/api/cases/{case_id}/exports", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            history[door] = [(e["by"], e["reason"], e["redacted"], e["files"]) for e in r.json()]
        elif door == "web":
            page = browser.get(f"/cases/{case_id}")
            assert page.status_code == 200 and "disclosure to counsel" in page.text  # the export history
            assert "plate read" in page.text and "ABC1234" in page.text  # the item says what it is
            history[door] = history.get("api", [])  # the page shows the same records (checked in the browser test)
        else:
            out = _cli(env, token, "cases", "exports", case_id, "--json")
            history[door] = [(e["by"], e["reason"], e["redacted"], e["files"]) for e in json.loads(out.stdout)]
    assert added["api"] == added["web"] == added["cli"]
    assert added["api"]["camera_id"] == "cam-a" and added["api"]["object"] == ("plate_read", "plate-read-cam-a")
    assert history["api"] == history["cli"] and len(history["api"]) == 1
    assert history["api"][0][:3] == (WHO, "disclosure to counsel", True)
