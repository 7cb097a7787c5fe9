"""The HTTP API: FastAPI app factory, thin routers, dependencies and schemas."""

from vigil.api.app import create_app
from vigil.api.context import ApiContext

__all__ = ["ApiContext", "create_app"]
