"""The HTTP edge shared by the API and the web UI: the request context both doors are built on
(:mod:`~vigil.http.context`), browser sessions and their CSRF rule (:mod:`~vigil.http.session`),
the one mapping of Vigil's errors to HTTP statuses (:mod:`~vigil.http.errors`), uploads, who the
client is (trusted proxies), the hardening headers every answer carries, the flags of every
cookie Vigil sets, live alerts for browsers and the uvicorn configuration.

Both doors import this package; it imports neither of them (the layering contract in
pyproject.toml keeps the API and the web UI independent siblings above it).
"""
