"""Property-based requests generated from the published OpenAPI schema: never a 500."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_support import Env, build_env
from hypothesis import HealthCheck, Phase, given, settings

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
