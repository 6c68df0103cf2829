"""contract_stage_counts: how many contracts are in each stage, kept by the database

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 21:00:00

The dashboard counts contracts by stage: a contract's stage is its current term's renewal
stage, ``not_started`` when that term has no renewal, ``contract_terminated`` once terminated
(store/reads/_stages.py). Counting it on every request scanned the 100,000 contracts twice
(their statuses, then the join with the current terms' renewals): on PostgreSQL ~40 ms a
request, growing with the table. The counts are now kept by triggers on ``contracts`` and
``renewals`` in the transaction of each write, whichever code (or hand-written statement)
makes it, and are exact after every commit.

- SQLite: row triggers; writes are serialised by the database.
- PostgreSQL: statement triggers over transition tables, so a COPY of 100,000 contracts bumps
  each stage's row once instead of 100,000 times in one transaction. A write to renewals first
  takes a share lock on their contracts: a contract changed concurrently (terminated, rolled
  over) is then read as committed, so two transactions cannot both count the same contract's
  move. Each stage's count is spread over 16 rows (a hash of the contract id), so that
  concurrent writers rarely wait on one row: with one row per stage, 16 threads opening and
  advancing renewals managed 760-840 transactions/s against 1,570-1,820 without the triggers.
  Counter rows are bumped in (stage, shard) order, so bumps never deadlock each other.
  TRUNCATE recounts from the tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stage_of(c: str) -> str:
    """The stage of the contract row ``c`` (as store.reads._stages.stage_expr says it)."""
    return (
        f"CASE WHEN {c}.status = 'terminated' THEN 'contract_terminated' ELSE COALESCE("
        f"(SELECT r.stage FROM renewals r WHERE r.contract_id = {c}.id "
        f"AND r.term = {c}.current_term), 'not_started') END"
    )


def _current_live(r: str) -> str:
    """The renewal row ``r`` is its contract's current term and the contract is not terminated."""
    return (
        f"EXISTS (SELECT 1 FROM contracts c WHERE c.id = {r}.contract_id "
        f"AND c.current_term = {r}.term AND c.status <> 'terminated')"
    )


SHARDS = 16


def _pg_shard(contract_id: str) -> str:
    return f"(hashtext({contract_id}) & {SHARDS - 1})"


def _recount(shard: str) -> str:
    """Count every contract again; ``shard`` is the shard of contract row ``c``."""
    return (
        "INSERT INTO contract_stage_counts (stage, shard, contracts) "
        f"SELECT stage, shard, count(*) FROM (SELECT {_stage_of('c')} AS stage, {shard} AS shard "
        "FROM contracts c) s GROUP BY stage, shard"
    )


# ------------------------------------------------------------------------------- SQLite


def _bump(stage: str, delta: int, when: str = "1 = 1") -> str:
    """SQLite writes one at a time: one row per stage (shard 0) is enough."""
    return (
        f"INSERT INTO contract_stage_counts (stage, shard, contracts) SELECT {stage}, 0, {delta} "
        f"WHERE {when} ON CONFLICT (stage, shard) DO UPDATE SET "
        "contracts = contracts + excluded.contracts;"
    )


_SQLITE_TRIGGERS = {
    "contract_stage_counts_contract_insert": (
        "AFTER INSERT ON contracts",
        _bump(_stage_of("NEW"), 1),
    ),
    "contract_stage_counts_contract_delete": (
        "AFTER DELETE ON contracts",
        _bump(_stage_of("OLD"), -1),
    ),
    "contract_stage_counts_contract_update": (
        "AFTER UPDATE OF id, status, current_term ON contracts",
        _bump(_stage_of("OLD"), -1) + " " + _bump(_stage_of("NEW"), 1),
    ),
    "contract_stage_counts_renewal_insert": (
        "AFTER INSERT ON renewals",
        _bump("'not_started'", -1, _current_live("NEW"))
        + " "
        + _bump("NEW.stage", 1, _current_live("NEW")),
    ),
    "contract_stage_counts_renewal_delete": (
        "AFTER DELETE ON renewals",
        _bump("OLD.stage", -1, _current_live("OLD"))
        + " "
        + _bump("'not_started'", 1, _current_live("OLD")),
    ),
    "contract_stage_counts_renewal_update": (
        "AFTER UPDATE OF contract_id, term, stage ON renewals",
        " ".join(
            (
                _bump("OLD.stage", -1, _current_live("OLD")),
                _bump("'not_started'", 1, _current_live("OLD")),
                _bump("'not_started'", -1, _current_live("NEW")),
                _bump("NEW.stage", 1, _current_live("NEW")),
            )
        ),
    ),
}

# --------------------------------------------------------------------------- PostgreSQL


def _pg_apply(deltas: str) -> str:
    """Add ``deltas`` (rows of stage, shard, delta) to the counts, one row per stage and
    shard, in that order."""
    return f"""
        INSERT INTO contract_stage_counts AS k (stage, shard, contracts)
        SELECT stage, shard, sum(delta) FROM ({deltas}) d
        GROUP BY stage, shard HAVING sum(delta) <> 0 ORDER BY stage, shard
        ON CONFLICT (stage, shard) DO UPDATE SET contracts = k.contracts + excluded.contracts;"""


def _pg_renewal_deltas(rows: str, sign: int) -> str:
    """A renewal leaving (sign -1) or joining (+1) its contract's current term moves the
    contract between its stage and not started."""
    shard = _pg_shard("x.contract_id")
    return (
        f"SELECT x.stage, {shard} AS shard, {sign} AS delta FROM {rows} x "
        f"WHERE {_current_live('x')} "
        f"UNION ALL SELECT 'not_started', {shard}, {-sign} FROM {rows} x "
        f"WHERE {_current_live('x')}"
    )


def _pg_contract_deltas(rows: str, sign: int) -> str:
    """Contracts leaving (sign -1) or joining (+1) their stage."""
    return f"SELECT {_stage_of('x')} AS stage, {_pg_shard('x.id')} AS shard, {sign} AS delta FROM {rows} x"


_PG_FUNCTIONS = {
    "contract_stage_counts_contracts": f"""
CREATE FUNCTION contract_stage_counts_contracts() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_apply(_pg_contract_deltas("new_rows", 1))}
    ELSIF TG_OP = 'DELETE' THEN
        {_pg_apply(_pg_contract_deltas("old_rows", -1))}
    ELSE
        {_pg_apply(_pg_contract_deltas("old_rows", -1) + " UNION ALL " + _pg_contract_deltas("new_rows", 1))}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    "contract_stage_counts_renewals": f"""
CREATE FUNCTION contract_stage_counts_renewals() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM contracts c WHERE c.id IN (SELECT contract_id FROM new_rows)
            ORDER BY c.id FOR SHARE;
        {_pg_apply(_pg_renewal_deltas("new_rows", 1))}
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM contracts c WHERE c.id IN (SELECT contract_id FROM old_rows)
            ORDER BY c.id FOR SHARE;
        {_pg_apply(_pg_renewal_deltas("old_rows", -1))}
    ELSE
        PERFORM 1 FROM contracts c WHERE c.id IN (
            SELECT contract_id FROM old_rows UNION SELECT contract_id FROM new_rows
        ) ORDER BY c.id FOR SHARE;
        {
        _pg_apply(
            _pg_renewal_deltas("old_rows", -1) + " UNION ALL " + _pg_renewal_deltas("new_rows", 1)
        )
    }
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    "contract_stage_counts_recount": f"""
CREATE FUNCTION contract_stage_counts_recount() RETURNS trigger AS $$
BEGIN
    DELETE FROM contract_stage_counts;
    {_recount(_pg_shard("c.id"))};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
}

_PG_TRIGGERS = (
    ("contract_stage_counts_contract_insert", "contracts", "INSERT", "NEW TABLE AS new_rows"),
    ("contract_stage_counts_contract_delete", "contracts", "DELETE", "OLD TABLE AS old_rows"),
    (
        "contract_stage_counts_contract_update",
        "contracts",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    ("contract_stage_counts_renewal_insert", "renewals", "INSERT", "NEW TABLE AS new_rows"),
    ("contract_stage_counts_renewal_delete", "renewals", "DELETE", "OLD TABLE AS old_rows"),
    (
        "contract_stage_counts_renewal_update",
        "renewals",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
)


def upgrade() -> None:
    op.create_table(
        "contract_stage_counts",
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stage", "shard", name=op.f("pk_contract_stage_counts")),
    )
    dialect = op.get_bind().dialect.name
    op.execute(_recount(_pg_shard("c.id") if dialect == "postgresql" else "0"))
    if dialect == "postgresql":
        for sql in _PG_FUNCTIONS.values():
            op.execute(sql)
        for name, table, verb, referencing in _PG_TRIGGERS:
            function = f"contract_stage_counts_{table}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {verb} ON {table} REFERENCING {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
        for table in ("contracts", "renewals"):
            op.execute(
                f"CREATE TRIGGER contract_stage_counts_{table}_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION contract_stage_counts_recount()"
            )
    elif dialect == "sqlite":
        for name, (event, body) in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {event} BEGIN {body} END")
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"no stage-count triggers for {dialect}; add them before migrating")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, table, _, _ in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for table in ("contracts", "renewals"):
            op.execute(f"DROP TRIGGER IF EXISTS contract_stage_counts_{table}_truncate ON {table}")
        for name in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    elif dialect == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("contract_stage_counts")
