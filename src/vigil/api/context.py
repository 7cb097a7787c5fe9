"""The request context of the API: :class:`vigil.http.context.AppContext`, shared with the web UI."""

from vigil.http.context import ApiContext, AppContext

__all__ = ["ApiContext", "AppContext"]
