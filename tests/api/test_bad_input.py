"""Bad input to the web pages is a 4xx page with one clear message: never a crash or an outage.

(The API's side is in test_schemathesis.py, which walks every operation of the published schema.)
"""

from __future__ import annotations

import re

import pytest
from api_support import PASSWORD, Env

EDGES = {
    "offset": ("9223372036854775808", "-9223372036854775809"),
    "since": ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"),
    "until": ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"),
}
PAGES = {
    "/events": {"reason": "probing the edges", "camera_id": "cam-a"},
    "/audit": {},
    "/transparency": {},
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_answer_out_of_range_values_with_a_clear_4xx(env: Env, page: str) -> None:
    signed_in = env.client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    refused = 0
    for name, values in EDGES.items():
        for value in values:
            r = env.client.get(page, params=PAGES[page] | {name: value})
            if r.status_code == 200:
                continue  # the page does not take this parameter
            refused += 1
            assert r.status_code in (400, 422), f"{page}?{name}={value}: {r.status_code}"
            message = re.search(r'<p class="big">(.*?)</p>', r.text, re.S)
            assert message is not None, r.text[:500]
            assert name in message.group(1) or "range" in message.group(1), message.group(1)
    assert refused >= 1, f"{page} took every edge value"
