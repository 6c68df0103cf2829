"""The sweep's reads: one page of candidate contracts.

A page is a bounded unit of work (``limit`` candidates by id order), so a sweep over 100,000
contracts is many small activities, never one giant one; and only active contracts whose end
date is within :func:`domain.sweep.candidate_horizon` and whose current term has no renewal are
candidates, so a sweep with nothing to do reads one page. Each candidate comes with its
supplier's category from the same query, for its plan's default action; whether it is due is
:func:`domain.sweep.is_due`.

A term with a stored plan is never a candidate, even before its renewal row is written (the
workflow stores its plan first): its workflow has planned it, and no other plan judges it again
(renewal-semantics.md §1).
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from domain.sweep import candidate_horizon
from domain.term_plan import CalendarSettings
from models.contract import ContractRead
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, SupplierRow, TermPlanRow
from store.contracts import to_read

__all__ = ["Candidate", "CandidatePage", "candidate_page", "max_reach_days"]


@dataclass(frozen=True, slots=True)
class Candidate:
    contract: ContractRead
    category: str | None  # the supplier's: it decides the default action of the plan


@dataclass(frozen=True, slots=True)
class CandidatePage:
    candidates: list[Candidate]
    next_after_id: str | None  # None: that was the last page
    max_reach_days: int  # what the page used, for the pages after it


_ACTIVE = ContractRow.status == "active"


def max_reach_days(session: Session) -> int:
    """The largest :func:`domain.sweep.reach_days` of any active contract: one scan of the
    table, so a sweep reads it once and carries it to its later pages."""
    reach = ContractRow.notice_period_days + 2 * ContractRow.transit_buffer_days  # reach_days
    return int(session.scalar(select(func.max(reach)).where(_ACTIVE)) or 0)


def candidate_page(
    session: Session,
    *,
    as_of: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    after_id: str | None,
    limit: int,
    reach_days: int | None = None,
) -> CandidatePage:
    """Up to ``limit`` candidates after ``after_id``: active, ending within the horizon, and no
    renewal for their current term yet. ``reach_days`` is :func:`max_reach_days` when a page
    before this one read it (None: this page reads it)."""
    if reach_days is None:
        reach_days = max_reach_days(session)
    # The end_date index narrows the read to the contracts ending by the horizon, so the rest
    # of the table is never read; the exact rule runs per candidate afterwards.
    horizon = candidate_horizon(as_of=as_of, policy=policy, cfg=cfg, max_reach_days=reach_days)
    query = (
        select(ContractRow, SupplierRow.category)
        .outerjoin(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(
            RenewalRow,
            and_(
                RenewalRow.contract_id == ContractRow.id,
                RenewalRow.term == ContractRow.current_term,
            ),
        )
        .outerjoin(
            TermPlanRow,
            and_(
                TermPlanRow.contract_id == ContractRow.id,
                TermPlanRow.term == ContractRow.current_term,
            ),
        )
        .where(
            _ACTIVE,
            ContractRow.end_date <= horizon,
            RenewalRow.id.is_(None),  # no workflow has opened this term yet
            TermPlanRow.contract_id.is_(None),  # nor planned it
        )
        .order_by(ContractRow.id)
        # One row more than the page: tells whether another page follows without costing an
        # empty one when the count is a multiple of the page size.
        .limit(limit + 1)
    )
    if after_id is not None:
        query = query.where(ContractRow.id > after_id)
    rows = session.execute(query).all()
    candidates = [Candidate(to_read(row), category) for row, category in rows[:limit]]
    return CandidatePage(
        candidates=candidates,
        next_after_id=candidates[-1].contract.id if len(rows) > limit else None,
        max_reach_days=reach_days,
    )
