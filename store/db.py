"""Engines and sessions."""

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


def make_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; with ``pool_size``, that many connections are kept so that every
    activity thread can hold one without waiting (SQLAlchemy's default is 5, plus 10 overflow)."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if pool_size is not None and not in_memory:
        kwargs.setdefault("pool_size", pool_size)
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would look for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not _is_uri(parsed.database):
            private_sqlite_file(Path(parsed.database))
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(parsed, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _is_uri(database: str) -> bool:
    return database.startswith("file:")


# The database and the files SQLite keeps next to it while it writes.
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_sqlite_file(path: Path) -> None:
    """Make sure the SQLite file at ``path`` is readable by its owner only: a new file (and a
    new data folder) is created 0600 (0700) before SQLite opens it, so it is never readable by
    others even for a moment; an existing file of ours, and the -wal and -shm files SQLite
    keeps beside it (it gives them the database file's mode), lose any group and other
    permissions. The database holds password hashes, session hashes and the audit trail."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            info = companion.stat()
            if info.st_uid == os.getuid() and info.st_mode & 0o077:
                companion.chmod(stat.S_IMODE(info.st_mode) & 0o700)
        except OSError:  # absent, or not ours to change: SQLite reports what matters
            continue


SessionFactory = sessionmaker[Session]


def make_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """A session whose work commits as one unit, or not at all."""
    with factory() as session, session.begin():
        yield session


def insert_if_absent(
    session: Session, table: type[DeclarativeBase], values: dict[str, Any], *, key: str = "key"
) -> bool:
    """Insert one row unless a row with the same unique ``key`` exists; True when inserted.

    One ``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite: a retried activity's
    write lands once, and two transactions racing on one key do not fail (on PostgreSQL the
    second waits for the first and then does nothing), where a read-then-insert would send
    two statements and let the race end in an IntegrityError."""
    # The two databases we support (activities.db.make_engine) both have ON CONFLICT.
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        make(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=[key])
        # The row it inserted, none on a conflict: rowcount is not reliable through the ORM's
        # insert path (PostgreSQL reported 1 for a skipped row).
        .returning(getattr(table, key))
    )
    return session.execute(stmt).first() is not None


class Violation(StrEnum):
    UNIQUE = "unique"  # primary key or unique constraint
    FOREIGN_KEY = "foreign_key"
    OTHER = "other"  # NOT NULL, CHECK, or a driver we do not know


_SQLSTATES = {"23505": Violation.UNIQUE, "23503": Violation.FOREIGN_KEY}
_SQLITE_NAMES = {
    "SQLITE_CONSTRAINT_PRIMARYKEY": Violation.UNIQUE,
    "SQLITE_CONSTRAINT_UNIQUE": Violation.UNIQUE,
    "SQLITE_CONSTRAINT_FOREIGNKEY": Violation.FOREIGN_KEY,
}


def violation(exc: IntegrityError) -> Violation:
    """Which kind of constraint failed, from the driver's error code (psycopg's SQLSTATE,
    sqlite3's extended result name) rather than from message text, which varies by version and
    locale. Callers that map a failed flush to a user error must not take every IntegrityError
    for the one race they expect."""
    orig = exc.orig
    kind = _SQLSTATES.get(str(getattr(orig, "sqlstate", "")))
    if kind is None:
        kind = _SQLITE_NAMES.get(str(getattr(orig, "sqlite_errorname", "")))
    return kind or Violation.OTHER
