"""How an owner is spelled on the contracts, found without reading every contract.

``SELECT DISTINCT owner ... WHERE lower(owner) = ?`` reads all 100,000 contracts (PostgreSQL
scans the table: ~40-60 ms on the bench VM; SQLite the whole owner index). The owners are a few
dozen people, so the distinct owners are walked through the owner index instead, one index
probe each (``min(owner) > previous``), and compared in the database as before: the same
``lower()`` of the same database. A database with more distinct owners than :data:`WALK_LIMIT`
is read the old way.
"""

from sqlalchemy import Boolean, Integer, String, func, literal, select, type_coerce
from sqlalchemy.orm import Session, aliased

from models.tables import ContractRow

__all__ = ["WALK_LIMIT", "owner_spellings"]

WALK_LIMIT = 2_000  # distinct owners walked through the index before reading the table instead


def _walked(session: Session, wanted: str) -> list[tuple[str, bool]] | None:
    """Every distinct owner (up to :data:`WALK_LIMIT` of them) with whether it is ``wanted``
    in any case; None when there are more."""
    inner = aliased(ContractRow)
    start = select(func.min(ContractRow.owner).label("owner"), literal(1, Integer).label("n")).cte(
        "owners_walk", recursive=True
    )
    step = select(
        select(func.min(inner.owner))
        .where(inner.owner > start.c.owner)
        .correlate(start)
        .scalar_subquery(),
        start.c.n + 1,
    ).where(start.c.owner.is_not(None), start.c.n <= WALK_LIMIT)
    walk = start.union_all(step)
    rows = session.execute(
        select(
            type_coerce(walk.c.owner, String()),
            type_coerce(func.lower(walk.c.owner) == wanted, Boolean()),
        ).where(walk.c.owner.is_not(None))
    ).all()
    if len(rows) > WALK_LIMIT:
        return None
    return [(str(owner), bool(hit)) for owner, hit in rows]


def owner_spellings(session: Session, owner: str) -> list[str]:
    """How ``owner`` is spelled on the contracts (any case), in owner order: given to a filter
    as values, the database reads the owner's contracts through the owner index, where a
    subquery left PostgreSQL guessing and reading every contract in end-date order."""
    wanted = owner.strip().lower()
    walked = _walked(session, wanted)
    if walked is not None:
        return [spelled for spelled, hit in walked if hit]
    return list(
        session.scalars(
            select(ContractRow.owner)
            .where(func.lower(ContractRow.owner) == wanted)
            .distinct()
            .order_by(ContractRow.owner)
        )
    )
