"""Hardening headers on every answer and the session cookie's flags, over real HTTP (and TLS)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from api_support import PASSWORD, make_config, replica

from vigil.api import ApiContext
from vigil.config import VigilConfig
from vigil.config.api import ApiConfig
from vigil.server import create_app, server_config
from vigil.store import Store


def deployment(tmp_path: Path, trusted: tuple[str, ...]) -> tuple[VigilConfig, str]:
    cfg = make_config(tmp_path).model_copy(update={"api": ApiConfig.model_validate({"trusted_proxies": trusted})})
    url = f"sqlite:///{tmp_path / 'data' / 'vigil.db'}"
    with Store.open(url) as store:
        ApiContext.build(cfg, store, poll_alerts=False).auth.add_user("alice", PASSWORD, "admin", None, actor="test")
    return cfg, url


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[str]:
    """A server whose one trusted proxy is 127.0.0.1 (the test plays the proxy)."""
    cfg, url = deployment(tmp_path, ("127.0.0.1",))
    with replica(cfg, url) as base:
        yield base


@pytest.fixture
def exposed(tmp_path: Path) -> Iterator[str]:
    """A server that trusts no proxy."""
    cfg, url = deployment(tmp_path, ())
    with replica(cfg, url) as base:
        yield base


def check_hardened(response: httpx.Response, where: str) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives.get("frame-ancestors") == "'none'", f"{where}: {csp!r}"
    assert directives.get("script-src") == "'self'", f"{where}: {csp!r}"  # no inline or outside script
    assert directives.get("default-src") == "'self'" and directives.get("object-src") == "'none'", where
    assert response.headers.get("x-frame-options") == "DENY", where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "same-origin", where


def test_every_kind_of_answer_carries_the_hardening_headers(behind_proxy: str) -> None:
    with httpx.Client(base_url=behind_proxy, timeout=30) as client:
        answers = {
            "page": client.get("/login"),
            "sign-in redirect": client.get("/review"),
            "api 401": client.get("/api/events"),
            "api 404": client.get("/api/nothing-here"),
            "page 404": client.get("/nothing-here"),
            "413": client.post("/api/auth/login", content=b"x" * (11 * 1024 * 1024)),
            "static": client.get("/static/vigil.css"),
            "docs": client.get("/docs"),
            "docs asset": client.get("/docs/assets/swagger-ui-bundle.js"),
            "schema": client.get("/openapi.json"),
            "health": client.get("/healthz"),
        }
    assert answers["413"].status_code == 413 and answers["page"].status_code == 200
    for where, response in answers.items():
        check_hardened(response, where)
        assert "strict-transport-security" not in response.headers, where  # plain HTTP: HSTS means nothing


def _session_cookie(response: httpx.Response) -> str:
    cookies = [v for v in response.headers.get_list("set-cookie") if v.startswith("vigil_session=")]
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    return cookies[0].lower()


def _sign_in(base: str, headers: dict[str, str] | None = None, verify: bool | ssl.SSLContext = True) -> httpx.Response:
    body = {"username": "alice", "password": PASSWORD}
    r = httpx.post(f"{base}/api/auth/login", json=body, headers=headers or {}, timeout=30, verify=verify)
    assert r.status_code == 200, r.text
    return r


def test_the_session_cookie_is_secure_when_the_proxy_says_the_client_used_https(behind_proxy: str) -> None:
    tls = _sign_in(behind_proxy, {"X-Forwarded-Proto": "https"})
    cookie = _session_cookie(tls)
    assert "; secure" in cookie and "; httponly" in cookie and "samesite=strict" in cookie, cookie
    assert tls.headers.get("strict-transport-security", "").startswith("max-age=")
    plain = _session_cookie(_sign_in(behind_proxy))
    assert "; secure" not in plain and "; httponly" in plain and "samesite=strict" in plain, plain


def test_a_client_cannot_claim_https_without_a_trusted_proxy(exposed: str) -> None:
    r = _sign_in(exposed, {"X-Forwarded-Proto": "https"})
    assert "; secure" not in _session_cookie(r)
    assert "strict-transport-security" not in r.headers


def test_the_session_cookie_is_secure_over_direct_tls(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    cfg, url = deployment(tmp_path, ())
    with Store.open(url) as store:
        app = create_app(ApiContext.build(cfg, store, poll_alerts=False))
        server = uvicorn.Server(
            server_config(
                app, "127.0.0.1", 0, ssl_keyfile=str(key), ssl_certfile=str(cert), timeout_graceful_shutdown=1
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        try:
            port = server.servers[0].sockets[0].getsockname()[1]
            r = _sign_in(f"https://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=str(cert)))
            assert "; secure" in _session_cookie(r)
            assert r.headers.get("strict-transport-security", "").startswith("max-age=")
        finally:
            server.should_exit = True
            thread.join(10)


def test_the_json_sign_in_cannot_be_posted_by_a_form_elsewhere(exposed: str) -> None:
    """An HTML form on another site can send only these content types (no CORS preflight): the
    API's sign-in must not read a JSON-looking body sent as any of them (login CSRF)."""
    body = json.dumps({"username": "alice", "password": PASSWORD})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = httpx.post(f"{exposed}/api/auth/login", content=body, headers={"content-type": content_type}, timeout=30)
        assert r.status_code == 422, (content_type, r.status_code, r.text)
        assert "set-cookie" not in r.headers
