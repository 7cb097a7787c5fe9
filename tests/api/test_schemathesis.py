"""Property-based requests generated from the published OpenAPI schema: never a 500."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import Env, build_env
from hypothesis import HealthCheck, Phase, given, settings

from vigil.api.routing import Access, Example
from vigil.store import Store


@pytest.fixture
def fuzz_env(tmp_path: Path) -> Iterator[Env]:
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'vigil.db'}") as store:
        yield from build_env(tmp_path, store)


def test_no_server_errors_anywhere(fuzz_env: Env) -> None:
    env = fuzz_env
    env.ctx.hub.closed = True  # live streams end at once
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
    failures: list[str] = []
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()

        @given(case=strategy)
        @settings(
            max_examples=6,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: schemathesis.Case) -> None:
            nonlocal checked
            response = case.call(headers=env.root)
            checked += 1
            if response.status_code >= 500:
                failures.append(f"{case.operation.label}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 400:
                body = response.json()
                if not (isinstance(body, dict) and body.get("error") and body.get("message")):
                    failures.append(f"{case.operation.label}: {response.status_code} without an error body: {body}")

        probe()
    assert not failures, "\n".join(failures[:20])
    assert checked > 60


# Values at and past the edges of what the server can represent: a 64-bit integer overflow and
# date-times that are valid ISO 8601 yet fall before year 1 or after year 9999 once in UTC.
EDGE_INTEGERS = (2**63, -(2**63) - 1, 10**30)
EDGE_INSTANTS = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00")


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _kind(schema: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """``integer``, ``date-time`` or None for a parameter or property schema: a plain integer or
    date-time, or an Optional one (a free JSON value that may also be a number is left alone)."""
    schema = _resolve(schema, spec)
    options = [_resolve(o, spec) for o in schema.get("anyOf", [schema])]
    options = [o for o in options if o.get("type") != "null"]
    if len(options) != 1:
        return None
    if options[0].get("type") == "integer":
        return "integer"
    if options[0].get("format") == "date-time":
        return "date-time"
    return None


def _edges(kind: str) -> tuple[Any, ...]:
    return EDGE_INTEGERS if kind == "integer" else EDGE_INSTANTS


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def test_edge_values_are_client_errors_everywhere(env: Env) -> None:
    """Every integer and date-time input of every operation (query, path and JSON body), at the
    edges, starting from the operation's published example request: a 4xx with an error body,
    never a 500 (a crash) or a 503 (bad input reported as a store outage)."""
    env.ctx.hub.closed = True
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
    spec = env.client.get("/openapi.json").json()
    seeded = env.seeded["cam-a"]
    values = {"camera": "cam-a", "event": seeded.event, "track": seeded.track, "candidate": seeded.candidate}
    values |= {"snapshot": seeded.snapshot, "user": "viewer-a", "case": "x"}
    failures: list[str] = []
    probes = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        op = spec["paths"][operation.path][operation.method.lower()]
        access = op.get("x-vigil-access")
        example = Access.from_json(access).example if access else Example()
        path = {k: _fill(v, values) for k, v in example.path.items()}
        path |= {name: "x" for name in re.findall(r"\{(\w+)\}", operation.path) if name not in path}
        query = _fill(example.query, values) | {"reason": "probing the edges"}
        body = _fill(example.json, values) if example.json is not None else None
        variants: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []
        for param in op.get("parameters", []):
            kind = _kind(param.get("schema", {}), spec)
            if kind is None or param["in"] not in ("query", "path"):
                continue
            for edge in _edges(kind):
                where = f"{param['in']} {param['name']}={edge}"
                if param["in"] == "query":
                    variants.append((where, path, query | {param["name"]: edge}, body))
                else:
                    variants.append((where, path | {param["name"]: str(edge)}, query, body))
        content = op.get("requestBody", {}).get("content", {})
        if body is not None and "application/json" in content:
            properties = _resolve(content["application/json"]["schema"], spec).get("properties", {})
            for name, prop in properties.items():
                kind = _kind(prop, spec)
                for edge in _edges(kind) if kind else ():
                    variants.append((f"body {name}={edge}", path, query, body | {name: edge}))
        for where, path_values, query_values, json_body in variants:
            case = operation.Case(
                path_parameters=path_values,
                query=query_values,
                **({} if json_body is None else {"body": json_body, "media_type": "application/json"}),
            )
            response = case.call(headers=env.root)
            probes += 1
            label = f"{operation.label} {where}"
            if not 400 <= response.status_code < 500:
                failures.append(f"{label}: {response.status_code} {response.text[:200]}")
                continue
            error = response.json()
            if not (isinstance(error, dict) and error.get("error") and error.get("message")):
                failures.append(f"{label}: {response.status_code} without an error body: {error}")
    assert not failures, "\n".join(failures[:30])
    assert probes > 80
