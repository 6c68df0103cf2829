"""SQLAlchemy tables. Only activities/ and migrations/ import this module.

Naming follows the domain types: ``ContractRow`` is stored, ``ContractRead`` is what leaves the
database layer (see :mod:`activities.contract_store`).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; canonical text on SQLite, which would otherwise store a float and
    lose cents (SQLite has no decimal type)."""

    impl = Numeric(22, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(22, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return format(Decimal(value), "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: ExactDecimal(),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON(),
    }


class SupplierRow(Base):
    __tablename__ = "suppliers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(200), default="general")
    country: Mapped[str] = mapped_column(String(2), default="JP")


class ContractRow(Base):
    __tablename__ = "contracts"
    # The dashboard's and exposure's counts and sums of contracts by status and end date are
    # read from this index alone.
    __table_args__ = (
        Index("ix_contracts_status_end_date", "status", "end_date", "currency", "annual_value"),
        Index("ix_contracts_end_date_id", "end_date", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)  # a user's name (an address)
    # Optional: the members of this team act on the contract as its owner does.
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.name"), default=None, index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date, index=True)
    auto_renewal: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_period_days: Mapped[int] = mapped_column(Integer)
    renewal_term_months: Mapped[int] = mapped_column(Integer, default=12)
    currency: Mapped[str] = mapped_column(String(3))
    annual_value: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    annual_volume: Mapped[Decimal]
    exclusivity: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_terms: Mapped[str] = mapped_column(String(200))
    price_adjustment: Mapped[str] = mapped_column(Text, default="")
    service_levels: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(2))
    current_term: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")
    term_model: Mapped[str] = mapped_column(String(20), server_default="fixed")
    max_renewals: Mapped[int | None] = mapped_column(Integer, default=None)
    renewals_used: Mapped[int] = mapped_column(Integer, server_default="0")
    review_period_months: Mapped[int] = mapped_column(Integer, server_default="12")
    jurisdiction: Mapped[str] = mapped_column(String(12), server_default="JP")
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    transit_buffer_days: Mapped[int] = mapped_column(Integer, server_default="3")
    default_action: Mapped[str | None] = mapped_column(String(20), default=None)
    # The numeric cap and the additional clauses of the terms last agreed (issue 15): none for a
    # contract registered with its terms, or renewed on a version that states neither.
    price_adjustment_cap_pct: Mapped[Decimal | None] = mapped_column(default=None)
    additional_clauses: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class DeliveryRow(Base):
    """One delivery against a contract: the raw facts behind on-time and quality KPIs."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The scorecard aggregates one contract over a date window: the index is that range,
        # and it carries the aggregated columns so that SQLite and PostgreSQL answer from the
        # index alone (twice as fast as visiting the table at a million rows).
        Index(
            "ix_deliveries_scorecard",
            "contract_id",
            "delivered_date",
            "promised_date",
            "quantity_ordered",
            "quantity_accepted",
            "quantity_returned",
            "defects",
        ),
        # Delivery note numbers make a re-imported file detectable; NULLs (no number) repeat.
        # A unique index rather than a constraint: SQLite adds it without rebuilding the table.
        Index("uq_deliveries_contract_id_reference", "contract_id", "reference", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    order_date: Mapped[date] = mapped_column(Date)
    promised_date: Mapped[date] = mapped_column(Date)
    delivered_date: Mapped[date] = mapped_column(Date, index=True)
    quantity_ordered: Mapped[Decimal]
    quantity_accepted: Mapped[Decimal]
    quantity_returned: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    defects: Mapped[int] = mapped_column(Integer, default=0)


class ServiceTicketRow(Base):
    """A request to the supplier and how fast it was answered and resolved, against its SLA."""

    __tablename__ = "service_tickets"
    __table_args__ = (
        Index("ix_service_tickets_contract_id_opened_at", "contract_id", "opened_at"),
        UniqueConstraint("contract_id", "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    reference: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(200), default=None)
    opened_at: Mapped[datetime]  # UTC: SQLite keeps no offset, so everything is stored in UTC
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    response_sla_minutes: Mapped[int] = mapped_column(Integer)
    resolution_sla_minutes: Mapped[int] = mapped_column(Integer)


class PriceHistoryRow(Base):
    """The contract's unit price from ``effective_date`` on; the unique key is also the index the
    "price in force on a day" lookup walks."""

    __tablename__ = "price_history"
    __table_args__ = (UniqueConstraint("contract_id", "effective_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"))
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    effective_date: Mapped[date] = mapped_column(Date)
    unit_price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))


class MarketIndicatorRow(Base):
    """Market facts per supplier category and period; (category, period) is unique and indexed."""

    __tablename__ = "market_indicators"
    __table_args__ = (UniqueConstraint("category", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(200))
    period: Mapped[date] = mapped_column(Date)
    price_index: Mapped[Decimal | None] = mapped_column(default=None)
    demand_index: Mapped[Decimal | None] = mapped_column(default=None)
    competitor_count: Mapped[int | None] = mapped_column(Integer, default=None)
    new_entrants: Mapped[int | None] = mapped_column(Integer, default=None)
    source: Mapped[str] = mapped_column(Text, default="")


class RenewalRow(Base):
    """One contract term under renewal; (contract_id, term) is unique, like the workflow id."""

    __tablename__ = "renewals"
    __table_args__ = (UniqueConstraint("contract_id", "term"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"))
    term: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(200), unique=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    term_end_date: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ContractStageCountRow(Base):
    """How many contracts are in each stage (store/reads/_stages.py), kept by the database's
    triggers on contracts and renewals (migration 0019) in the transaction of every write: the
    dashboard reads these rows instead of counting every contract."""

    __tablename__ = "contract_stage_counts"

    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    # A stage's count is the sum of its shards' rows: on PostgreSQL concurrent writers bump
    # one of 16 rows (a hash of the contract id) instead of all waiting on one.
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    contracts: Mapped[int] = mapped_column(Integer)


class ScorecardRow(Base):
    __tablename__ = "scorecards"
    # The dashboard reads every scorecard's total without its (large) body.
    __table_args__ = (Index("ix_scorecards_renewal_id_total", "renewal_id", "total"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    renewal_id: Mapped[int] = mapped_column(ForeignKey("renewals.id"), unique=True)
    total: Mapped[Decimal | None]
    grade: Mapped[str | None] = mapped_column(String(2))
    recommendation: Mapped[str] = mapped_column(String(40))
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DraftRow(Base):
    __tablename__ = "drafts"
    __table_args__ = (
        UniqueConstraint("renewal_id", "kind", "version"),
        # Legal's queue (store/reads/reviews.py) reads versions and their order from this index
        # alone; on SQLite created_at otherwise sits after the body, in overflow pages.
        Index(
            "ix_drafts_renewal_id_version_kind_created_at",
            "renewal_id",
            "version",
            "kind",
            "created_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    renewal_id: Mapped[int] = mapped_column(ForeignKey("renewals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, default=None)  # NULL: drafts before 0002
    proposed_terms: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(200))
    answers_comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ReviewDecisionRow(Base):
    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    renewal_id: Mapped[int] = mapped_column(ForeignKey("renewals.id"), index=True)
    update_id: Mapped[str] = mapped_column(String(200), unique=True)
    draft_version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(40))
    reviewer: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]


class RenewalEventRow(Base):
    """Escalations, offers, amendments and outcomes, written once per idempotency key."""

    __tablename__ = "renewal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    renewal_id: Mapped[int] = mapped_column(ForeignKey("renewals.id"), index=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class OutboxRow(Base):
    """E-mail to send. Written in the same transaction as the decision to send it and keyed, so a
    retried activity finds the row and sends nothing new; ``sent_at`` records delivery."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    contract_id: Mapped[str] = mapped_column(String(64), index=True)
    term: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated addresses
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The HTML alternative of ``body`` (migration 0016); NULL: sent as text only.
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    message_id: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class AuditLogRow(Base):
    """Append-only trail of every action. The database refuses UPDATE and DELETE (triggers in
    migration 0005); ``key`` makes a retried activity's write land once."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(200), index=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[dict[str, Any]]


class TermPlanRow(Base):
    """The plan the running term's workflow made (renewal-semantics.md §1), rewritten each
    time it plans or re-plans; every view reads it instead of computing dates of its own."""

    __tablename__ = "term_plans"

    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    term: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    end_date: Mapped[date] = mapped_column(Date)
    notice_deadline: Mapped[date] = mapped_column(Date, index=True)
    notice_provenance: Mapped[list[str]] = mapped_column(JSON)
    send_by: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    send_by_provenance: Mapped[list[str]] = mapped_column(JSON)
    time_zone: Mapped[str] = mapped_column(String(64))
    term_model: Mapped[str] = mapped_column(String(20))
    default_action: Mapped[str | None] = mapped_column(String(20), default=None)
    planned_on: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PlanMilestoneRow(Base):
    """One milestone of a stored plan, with its state as the workflow last reported it."""

    __tablename__ = "plan_milestones"
    __table_args__ = (UniqueConstraint("contract_id", "term", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    term: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)  # order in the plan
    due: Mapped[date] = mapped_column(Date, index=True)
    nominal: Mapped[date] = mapped_column(Date)
    fires_at: Mapped[datetime | None] = mapped_column(default=None)
    state: Mapped[str] = mapped_column(String(20))
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    moved_for_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    provenance: Mapped[list[str]] = mapped_column(JSON)


# The people's side (accounts, tokens, sessions, the sign-in throttle, proven identity) and the
# teams live in modules of their own on the same metadata; imported here so that every table is
# registered.
from models import account_tables as _account_tables  # noqa: E402, F401
from models import followup_tables as _followup_tables  # noqa: E402, F401
from models import job_tables as _job_tables  # noqa: E402, F401
from models import team_tables as _team_tables  # noqa: E402, F401
