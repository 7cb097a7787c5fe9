"""Governance: roles and scopes, authentication, the audit chain, redaction, retention,
transparency reports, case exports and alert dispatch.

Uses ``store``, ``events``, ``config`` and ``core`` only; the API and the CLI use it.
"""
