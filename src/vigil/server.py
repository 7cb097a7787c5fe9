"""The web server of a deployment: the API and the operator web UI on one app (``vigil serve``).

The two doors are independent siblings (the layering contract in pyproject.toml): neither
imports the other, both stand on :mod:`vigil.http` (request context, session cookies, error
mapping) and :mod:`vigil.services` (the rules). This module is where they meet.
"""

from __future__ import annotations

from fastapi import FastAPI

from vigil.api.app import create_app as create_api
from vigil.http.context import AppContext
from vigil.http.server import server_config
from vigil.web import mount_web

__all__ = ["create_app", "server_config"]


def create_app(ctx: AppContext) -> FastAPI:
    """The API (``/api``, ``/healthz``, ``/docs``) and the web UI (pages, ``/static``) for ``ctx``."""
    app = create_api(ctx)
    mount_web(app)  # the operator UI: server-rendered pages and /static (not in the OpenAPI schema)
    return app
