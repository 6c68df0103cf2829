"""Contracts and suppliers in the database: keyword-only service functions.

Every function takes the session of the caller's transaction, so a caller that registers a
batch commits all of it or none of it.
"""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import psycopg
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config import clock
from domain.milestones import next_review_date
from models.contract import (
    CommercialTerms,
    ContractAmendment,
    ContractCreate,
    ContractRead,
    ContractStatus,
    DefaultAction,
    SupplierCreate,
    SupplierRead,
    TermModel,
)
from models.drafts import ProposedTerms
from models.errors import DuplicateContract, FieldError, InvalidInput, NotFound
from models.tables import ContractRow, SupplierRow
from models.team_tables import TeamRow
from store.db import Violation, violation


def parse_contract(data: Mapping[str, Any], *, row: int | None = None) -> ContractCreate:
    try:
        return ContractCreate.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, row=row) from None


def to_read(row: ContractRow) -> ContractRead:
    return ContractRead(
        id=row.id,
        title=row.title,
        supplier_id=row.supplier_id,
        owner=row.owner,
        team=row.team,
        start_date=row.start_date,
        end_date=row.end_date,
        auto_renewal=row.auto_renewal,
        notice_period_days=row.notice_period_days,
        renewal_term_months=row.renewal_term_months,
        currency=row.currency,
        annual_value=row.annual_value,
        terms=CommercialTerms(
            unit_price=row.unit_price,
            annual_volume=row.annual_volume,
            exclusivity=row.exclusivity,
            payment_terms=row.payment_terms,
            price_adjustment=row.price_adjustment,
            service_levels=row.service_levels,
        ),
        language=row.language,
        current_term=row.current_term,
        status=ContractStatus(row.status),
        term_model=TermModel(row.term_model),
        max_renewals=row.max_renewals,
        renewals_used=row.renewals_used,
        review_period_months=row.review_period_months,
        jurisdiction=row.jurisdiction,
        time_zone=row.time_zone,
        transit_buffer_days=row.transit_buffer_days,
        default_action=DefaultAction(row.default_action) if row.default_action else None,
        price_adjustment_cap_pct=row.price_adjustment_cap_pct,
        additional_clauses=tuple(row.additional_clauses or ()),
    )


def upsert_supplier(session: Session, *, supplier: SupplierCreate) -> SupplierRead:
    row = session.get(SupplierRow, supplier.id)
    if row is None:
        row = SupplierRow(id=supplier.id)
        session.add(row)
    row.name = supplier.name
    row.category = supplier.category
    row.country = supplier.country
    session.flush()
    return SupplierRead.model_validate(row)


CONTRACT_COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "supplier_id",
    "owner",
    "team",
    "start_date",
    "end_date",
    "auto_renewal",
    "notice_period_days",
    "renewal_term_months",
    "currency",
    "annual_value",
    "unit_price",
    "annual_volume",
    "exclusivity",
    "payment_terms",
    "price_adjustment",
    "service_levels",
    "language",
    "current_term",
    "status",
    "term_model",
    "max_renewals",
    "renewals_used",
    "review_period_months",
    "jurisdiction",
    "time_zone",
    "transit_buffer_days",
    "default_action",
)
"""The columns registration writes, in the order of :func:`contract_tuple` (the others keep
their defaults)."""


def contract_tuple(contract: ContractCreate, *, today: date | None = None) -> tuple[Any, ...]:
    """The ``contracts`` row registering ``contract``, its values in :data:`CONTRACT_COLUMNS`
    order: a compact form for many rows. An evergreen contract without a stated review date
    gets the next one from ``today``."""
    end_date = contract.end_date
    if end_date is None:  # evergreen without a stated review date: the next one from today
        end_date = next_review_date(
            contract.start_date,
            contract.review_period_months,
            today or clock.today(),
        )
    terms = contract.terms
    return (
        contract.id,
        contract.title,
        contract.supplier_id,
        contract.owner,
        contract.team,
        contract.start_date,
        end_date,
        contract.auto_renewal,
        contract.notice_period_days,
        contract.renewal_term_months,
        contract.currency,
        contract.annual_value,
        terms.unit_price,
        terms.annual_volume,
        terms.exclusivity,
        terms.payment_terms,
        terms.price_adjustment,
        terms.service_levels,
        contract.language,
        1,
        ContractStatus.ACTIVE.value,
        contract.term_model.value,
        contract.max_renewals,
        contract.renewals_used,
        contract.review_period_months,
        contract.jurisdiction,
        contract.time_zone,
        contract.transit_buffer_days,
        contract.default_action.value if contract.default_action else None,
    )


def contract_values(contract: ContractCreate, *, today: date | None = None) -> dict[str, Any]:
    """The ``contracts`` row registering ``contract``, by column."""
    return dict(zip(CONTRACT_COLUMNS, contract_tuple(contract, today=today), strict=True))


def insert_contracts(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Register many contracts at once, checked beforehand (:func:`contract_tuple` rows), in
    the caller's transaction: COPY on PostgreSQL, multi-row INSERTs elsewhere (SQLAlchemy's
    executemany). A row that breaks a constraint (an id registered meanwhile, a supplier
    removed meanwhile) raises IntegrityError for the batch."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy_contracts(connection, rows)
        return
    table = ContractRow.metadata.tables["contracts"]
    connection.execute(insert(table), [dict(zip(CONTRACT_COLUMNS, r, strict=True)) for r in rows])


def _copy_contracts(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    raw = connection.connection.dbapi_connection
    sql = f"COPY contracts ({', '.join(CONTRACT_COLUMNS)}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for values in rows:
                copy.write_row(values)
    except psycopg.errors.IntegrityError as exc:
        raise IntegrityError(sql, None, exc) from exc


def create_contract(
    session: Session,
    *,
    contract: ContractCreate,
    row: int | None = None,
    today: date | None = None,
) -> ContractRead:
    if session.get(SupplierRow, contract.supplier_id) is None:
        raise InvalidInput(
            [FieldError("supplier_id", f"unknown supplier {contract.supplier_id!r}", row=row)]
        )
    if contract.team is not None and session.get(TeamRow, contract.team) is None:
        raise InvalidInput([FieldError("team", f"unknown team {contract.team!r}", row=row)])
    if session.get(ContractRow, contract.id) is not None:
        raise DuplicateContract(contract.id, row=row)
    stored = ContractRow(**contract_values(contract, today=today))
    session.add(stored)
    try:
        session.flush()
    except IntegrityError as exc:
        # Races past the checks above: a concurrent registration of the same id loses on the
        # primary key; a supplier removed meanwhile fails the foreign key.
        kind = violation(exc)
        if kind is Violation.UNIQUE:
            raise DuplicateContract(contract.id, row=row) from None
        if kind is Violation.FOREIGN_KEY:
            reason = f"supplier {contract.supplier_id!r} was removed while the contract was stored"
            raise InvalidInput([FieldError("supplier_id", reason, row=row)]) from None
        raise
    return to_read(stored)


def register_contracts(
    session: Session, *, contracts: Sequence[ContractCreate]
) -> list[ContractRead]:
    """Register a batch; the first bad one aborts the caller's transaction, so none is stored."""
    seen: set[str] = set()
    out = []
    for index, contract in enumerate(contracts, start=1):
        if contract.id in seen:
            raise DuplicateContract(contract.id, row=index)
        seen.add(contract.id)
        out.append(create_contract(session, contract=contract, row=index))
    return out


def get_contract_row(session: Session, *, contract_id: str) -> ContractRow:
    row = session.get(ContractRow, contract_id)
    if row is None:
        raise NotFound(f"contract {contract_id!r} does not exist")
    return row


def get_contract(session: Session, *, contract_id: str) -> ContractRead:
    return to_read(get_contract_row(session, contract_id=contract_id))


def list_contracts(session: Session, *, limit: int = 1000, offset: int = 0) -> list[ContractRead]:
    rows = session.scalars(select(ContractRow).order_by(ContractRow.id).limit(limit).offset(offset))
    return [to_read(r) for r in rows]


def apply_agreed_terms(row: ContractRow, terms: ProposedTerms, *, term_length: bool = True) -> None:
    """The next term runs on the terms agreed: the commercial clauses, the notice period, the
    price adjustment's cap (a version without one leaves the contract without one) and the
    additional clauses (the version's list replaces the stored one) of the agreed version
    replace the stored ones. The registered annual value is a figure procurement entered, not
    derived from price and volume, and is left as it was."""
    row.unit_price = terms.unit_price
    row.annual_volume = terms.annual_volume
    row.exclusivity = terms.exclusivity
    row.payment_terms = terms.payment_terms
    row.price_adjustment = terms.price_adjustment
    row.price_adjustment_cap_pct = terms.price_adjustment_cap_pct
    row.service_levels = terms.service_levels
    row.additional_clauses = list(terms.additional_clauses)
    row.notice_period_days = terms.notice_period_days
    if term_length:  # an interim extension's months are not the contract's usual term
        row.renewal_term_months = terms.term_months


def amend_contract(
    session: Session, *, contract_id: str, amendment: ContractAmendment
) -> ContractRead:
    row = get_contract_row(session, contract_id=contract_id)
    current = to_read(row)
    changes: dict[str, Any] = {}
    if amendment.end_date is not None:
        changes["end_date"] = amendment.end_date
    if amendment.notice_period_days is not None:
        changes["notice_period_days"] = amendment.notice_period_days
    try:
        # Re-validate the whole contract: an amendment must leave it as valid as registration.
        amended = ContractRead.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc) from None
    row.end_date = amended.end_date
    row.notice_period_days = amended.notice_period_days
    session.flush()
    return amended
