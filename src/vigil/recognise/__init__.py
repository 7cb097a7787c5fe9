"""Watchlist and hotlist matching, calibration (false-match rates), candidate logic."""
