"""The HTTP edge shared by the API and the web UI: who the client is (trusted proxies), the
browser hardening headers every answer carries, and the flags of every cookie Vigil sets.

Both doors import this package; it imports neither of them.
"""
