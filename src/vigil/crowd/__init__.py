"""Crowd monitoring: zones, lines, counts, density and flow (aggregate only: no identities)."""
