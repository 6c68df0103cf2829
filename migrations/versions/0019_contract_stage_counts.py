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
  move. Counter rows are bumped in stage order, so bumps never deadlock each other. TRUNCATE
  recounts from the tables.
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


_RECOUNT = f"""
INSERT INTO contract_stage_counts (stage, contracts)
SELECT stage, count(*) FROM (SELECT {_stage_of("c")} AS stage FROM contracts c) s
GROUP BY stage
"""

# ------------------------------------------------------------------------------- SQLite


def _bump(stage: str, delta: int, when: str = "1 = 1") -> str:
    return (
        f"INSERT INTO contract_stage_counts (stage, contracts) SELECT {stage}, {delta} "
        f"WHERE {when} ON CONFLICT (stage) DO UPDATE SET "
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
    """Add ``deltas`` (rows of stage, delta) to the counts, one row per stage, in stage order."""
    return f"""
        INSERT INTO contract_stage_counts AS k (stage, contracts)
        SELECT stage, sum(delta) FROM ({deltas}) d
        GROUP BY stage HAVING sum(delta) <> 0 ORDER BY stage
        ON CONFLICT (stage) DO UPDATE SET contracts = k.contracts + excluded.contracts;"""


def _pg_renewal_deltas(rows: str, sign: int) -> str:
    """A renewal leaving (sign -1) or joining (+1) its contract's current term moves the
    contract between its stage and not started."""
    return (
        f"SELECT x.stage, {sign} AS delta FROM {rows} x WHERE {_current_live('x')} "
        f"UNION ALL SELECT 'not_started', {-sign} FROM {rows} x WHERE {_current_live('x')}"
    )


_PG_FUNCTIONS = {
    "contract_stage_counts_contracts": f"""
CREATE FUNCTION contract_stage_counts_contracts() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_apply(f"SELECT {_stage_of('n')} AS stage, 1 AS delta FROM new_rows n")}
    ELSIF TG_OP = 'DELETE' THEN
        {_pg_apply(f"SELECT {_stage_of('o')} AS stage, -1 AS delta FROM old_rows o")}
    ELSE
        {
        _pg_apply(
            f"SELECT {_stage_of('o')} AS stage, -1 AS delta FROM old_rows o "
            f"UNION ALL SELECT {_stage_of('n')}, 1 FROM new_rows n"
        )
    }
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
    {_RECOUNT};
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
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stage", name=op.f("pk_contract_stage_counts")),
    )
    op.execute(_RECOUNT)
    dialect = op.get_bind().dialect.name
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
