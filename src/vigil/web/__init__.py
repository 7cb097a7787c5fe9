"""The operator web UI: server-rendered pages (Jinja2) over the same governance as the API.

``mount_web(app)`` adds the pages and ``/static``. Every page calls the API's handler functions
(or the same store and governance calls), so roles, camera scopes, reasons and audit records are
exactly the API's; see ``docs/ui.md``.
"""

from vigil.web.site import mount_web

__all__ = ["mount_web"]
