"""``/docs``: Swagger UI served by Vigil itself; nothing is loaded from outside the server.

FastAPI's default pages pull their scripts from a CDN, unpinned and without integrity checks,
onto the Vigil origin. Here the files come from the pinned ``swagger-ui-py`` wheel (Swagger UI 5,
Apache License 2.0, whose text is served at ``/docs/assets/LICENSE``), and the start-up script is
a file of ours, so the page needs no inline script. ReDoc ships in no pinned Python package
with its licence, so ``/redoc`` only points to ``/docs``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from vigil.api.errors import error_response

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
OWN_ASSETS = Path(__file__).parent / "docs_assets"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE")
"""The files of the swagger-ui-py wheel that /docs uses (only these are served)."""


def swagger_ui_dir() -> Path | None:
    """The static folder of the installed ``swagger_ui`` package, found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if all((folder / name).is_file() for name in SWAGGER_FILES) else None


def _page(title: str, openapi_url: str) -> str:
    version = importlib.metadata.version("swagger-ui-py")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="{ASSETS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<p><small>Swagger UI from swagger-ui-py {escape(version)}, served by this server;
<a href="{ASSETS_PATH}/LICENSE">Apache License 2.0</a>.</small></p>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/swagger-init.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    """Add ``/docs`` (and its assets) and ``/redoc`` (a pointer to ``/docs``); none in the schema."""
    swagger = swagger_ui_dir()
    files = {"swagger-init.js": OWN_ASSETS / "swagger-init.js"}
    if swagger is not None:
        files |= {name: swagger / name for name in SWAGGER_FILES}
    media_types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", "": "text/plain"}

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> Response:
        if swagger is None:
            return error_response(404, "not_found", "API docs need the swagger-ui-py package; see /openapi.json")
        return HTMLResponse(_page(app.title, app.openapi_url or "/openapi.json"))

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        path = files.get(name)
        if path is None:
            return error_response(404, "not_found", f"no docs asset {name!r}")
        return FileResponse(
            path, media_type=media_types[path.suffix], headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return RedirectResponse(DOCS_PATH, status_code=308)
