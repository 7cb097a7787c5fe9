"""The web UI as a browser uses it: sign in through the form, read each page's CSRF token from
its hidden field, post forms with it. One client (one cookie jar) per person."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from api_support import PASSWORD, Env

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Browser:
    """A signed-in web UI session of one user."""

    client: TestClient
    csrf: str

    def get(self, url: str) -> Any:
        return self.client.get(url, follow_redirects=False)

    def post(self, url: str, form: dict[str, str]) -> Any:
        """A form post, as the page's form sends it (with the session's CSRF token)."""
        return self.client.post(url, data={**form, "csrf_token": self.csrf}, follow_redirects=False)


def flash_of(response: Any) -> dict[str, str]:
    """The notice or error a page's redirect carries (in a one-time cookie, never the URL)."""
    from vigil.web.flash import FLASH_COOKIE, decode

    return decode(response.cookies.get(FLASH_COOKIE))


def sign_in(env: Env, username: str, landing: str = "/cases") -> Browser:
    """``username`` signed in through the form, on ``landing`` (a page they may see)."""
    client = TestClient(env.client.app)
    form = client.get("/login")
    assert form.status_code == 200, form.text
    signed = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": landing, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    page = client.get(landing)
    assert page.status_code == 200, page.text
    return Browser(client, csrf_of(page.text))
