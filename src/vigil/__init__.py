"""Vigil: accountable video analytics for CCTV networks."""

__version__ = "0.1.0"
