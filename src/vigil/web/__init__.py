"""The operator web UI: server-rendered pages (Jinja2), a door onto the domain services.

``mount_web(app)`` adds the pages and ``/static`` to the app :func:`vigil.server.create_app`
builds. Every page authenticates the session cookie (:mod:`vigil.http.session`) and calls one
function of :mod:`vigil.services`, so roles, camera scopes, reasons and audit records are the
API's and the CLI's exactly; the web package never imports the API (pyproject.toml's layering
contract); see ``docs/ui.md``.
"""

from vigil.web.site import mount_web

__all__ = ["mount_web"]
