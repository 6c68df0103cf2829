"""The unit of work the interfaces hold: a session factory made once per process, and one
short transaction per action. The engine and sessions themselves are :mod:`store.db`'s."""

from store.db import SessionFactory, make_engine, make_session_factory, transaction

__all__ = ["SessionFactory", "make_engine", "make_session_factory", "transaction"]
