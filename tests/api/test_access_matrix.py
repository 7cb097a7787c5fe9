"""Every endpoint × every role × in-scope and out-of-scope camera: allowed or denied.

Operations describe themselves in the published OpenAPI schema (``x-vigil-access``: action,
scope, example request; see ``vigil.api.routing.endpoint``). A router added later joins this
matrix just by declaring its routes that way.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_support import Env

from vigil.api.routing import Access
from vigil.governance.roles import ROLES, allowed

IN_SCOPE, OUT_OF_SCOPE = "cam-a", "cam-b"


def _routes(env: Env) -> list[tuple[str, str, Access]]:
    schema = env.client.get("/openapi.json").json()
    out = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            if not path.startswith("/api/"):
                continue
            assert "x-vigil-access" in op, f"{method.upper()} {path} was not declared with vigil.api.routing.endpoint"
            out.append((method.upper(), path, Access.from_json(op["x-vigil-access"])))
    return out


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _call(env: Env, role: str, method: str, path: str, access: Access, camera: str, case_id: str) -> tuple[int, Any]:
    s = env.seeded[camera]
    values = {
        "camera": camera,
        "event": s.event,
        "track": s.track,
        "candidate": s.candidate,
        "snapshot": s.snapshot,
        "case": case_id,
        "user": "viewer-a",
    }
    ex = access.example
    url = path
    for name in re.findall(r"\{(\w+)\}", path):
        url = url.replace("{" + name + "}", _fill(ex.path[name], values))
    response = env.client.request(
        method,
        url,
        params=_fill(ex.query, values),
        json=_fill(ex.json, values) if ex.json is not None else None,
        files=None if ex.files is None else {k: (n, c.encode(), t) for k, (n, c, t) in ex.files.items()},
        headers=env.as_role(role),
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body


def test_every_api_route_declares_its_access(env: Env) -> None:
    routes = _routes(env)
    assert len(routes) >= 25
    assert any(a.scope == "camera" for _, _, a in routes)


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(env: Env, role: str) -> None:
    env.ctx.hub.closed = True  # live streams end at once, so a permitted stream returns
    case = env.client.post("/api/cases", json={"name": "matrix", "reason": "matrix case"}, headers=env.root)
    assert case.status_code == 201, case.text
    case_id = case.json()["case_id"]
    added = env.client.post(
        f"/api/cases/{case_id}/items",
        json={"item_type": "track", "item_id": env.seeded[IN_SCOPE].track},
        headers=env.root,
    )
    assert added.status_code == 200, added.text
    failures: list[str] = []
    checked = 0
    for method, path, access in _routes(env):
        cameras = [IN_SCOPE, OUT_OF_SCOPE] if access.scope == "camera" else [IN_SCOPE]
        for camera in cameras:
            expect = access.action is None or (allowed(role, access.action) and camera == IN_SCOPE)
            status, body = _call(env, role, method, path, access, camera, case_id)
            checked += 1
            where = f"{role} {method} {path} [{camera}]"
            if expect and status not in access.example.ok:
                failures.append(f"{where}: expected {access.example.ok}, got {status} {body}")
            if not expect:
                if status != 403:
                    failures.append(f"{where}: expected 403, got {status} {body}")
                elif not isinstance(body, dict) or body.get("error") not in ("forbidden", "out_of_scope"):
                    failures.append(f"{where}: 403 without an error code: {body}")
    assert not failures, "\n".join(failures)
    assert checked > 30


def test_unauthenticated_requests_are_refused_everywhere(env: Env) -> None:
    for method, path, access in _routes(env):
        if access.scope == "public":
            continue
        url = re.sub(r"\{[^}]+\}", "x", path)
        r = env.client.request(method, url)
        assert r.status_code == 401, f"{method} {path}: {r.status_code}"
        assert r.json()["error"] == "unauthenticated"
