"""Thin loops that compose the stages: camera workers, the store indexer, analysis runs."""
