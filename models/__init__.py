"""Domain types (pydantic) and, in :mod:`models.tables`, the SQLAlchemy tables.

The pydantic modules here are imported by workflow code, so they hold no I/O.
"""
