"""Alembic migrations (a package so ``env.py`` ships in the wheel)."""
