"""Thin routers: parse, authorise, call a repository or governance service, audit, shape."""
