"""The uvicorn configuration (:mod:`vigil.http.server`), under the name the API has used."""

from vigil.http.server import server_config

__all__ = ["server_config"]
