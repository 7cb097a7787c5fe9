"""Licence-plate localisation, OCR, normalisation, regional formats and per-track voting."""
