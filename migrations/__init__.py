"""Alembic migrations; ``renewals db upgrade`` (or ``migrations.runner.upgrade``) applies them."""
