"""For race tests on PostgreSQL: know that a statement is blocked on another transaction's lock
before letting that transaction go on, so the test exercises the race rather than a sequence."""

import time
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine, text

_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


def wait_until_blocked(engine: Engine, pending: "Future[Any]", *, what: str) -> None:
    """Return once some session of this database waits on a lock; fail if ``pending`` finished
    first (it never blocked) or nothing blocks within 10 s."""
    for _ in range(200):
        with engine.connect() as c:
            if c.scalar(_WAITING):
                return
        if pending.done():
            break
        time.sleep(0.05)
    raise AssertionError(f"{what} never waited on the other transaction's lock")
