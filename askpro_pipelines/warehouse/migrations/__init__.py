"""Alembic migrations of the warehouse schema (run programmatically by warehouse/migrate.py)."""
