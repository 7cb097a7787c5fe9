"""How Vigil's app is put on a socket: one uvicorn configuration for ``vigil serve`` and tests."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI


def server_config(app: FastAPI, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """uvicorn settings for ``app``: quiet, no ``Server`` header, and forwarded headers left to
    :mod:`vigil.http.proxies` (uvicorn would otherwise believe them from 127.0.0.1, whoever sent them)."""
    options: dict[str, Any] = {"log_level": "warning", "proxy_headers": False, "server_header": False}
    return uvicorn.Config(app, host=host, port=port, **(options | overrides))
