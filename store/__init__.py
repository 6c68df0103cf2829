"""SQL through SQLAlchemy, and nothing else: one transaction helper (:mod:`store.db`), the
writes of each concept, and in :mod:`store.reads` the read models people look at."""
