"""The weekly digest's read model (issue 17): who gets one, and each person's five lists.

Every date is the term's stored plan (renewal-semantics.md §1): a term whose renewal has not
started has no stored plan and enters the digest once the sweep starts its renewal. Each list
is one bounded query (``limit`` rows, soonest first; ``more`` counts what was left out, with a
COUNT only when the list is longer):

* due this week: pending milestones of the stored plans of the person's contracts due in the
  seven days from ``as_of`` (``as_of`` included);
* overdue: pending milestones due before ``as_of``, and open follow-up actions past their due
  date that the person owns or that are on the person's contracts;
* awaiting their decision: for legal, the versions in the review queue they may decide
  (segregation of duties, :mod:`domain.review`: not those they made or requested, nor those
  of contracts they own); for the owner, renewals that wait on procurement (changes
  requested, an offer awaiting the supplier's answer, an escalation), as "needs me" reads them;
* send-by within 30 days: stored plans whose send-by date is within 30 days of ``as_of``;
* lapsed: the person's renewals in stage ``lapsed`` with no outcome yet.

A contract's owner is matched whatever the case of the stored address; terminated contracts
and renewals with an outcome are left out.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from auth.roles import Role, home_path, parse_roles, permissions_for
from domain.review import refused_rule
from models.account_tables import UserRow
from models.followup_tables import FollowUpActionRow
from models.milestones import MilestoneState
from models.renewal import RenewalStage
from models.tables import ContractRow, PlanMilestoneRow, RenewalRow, SupplierRow, TermPlanRow
from store.reads._stages import current_renewal
from store.reads.pipeline import owner_spellings
from store.reads.reviews import QueueItem

__all__ = [
    "FOLLOWUP_ACTION",
    "LISTS",
    "SEND_BY_DAYS",
    "WAITS_ON_OWNER",
    "WEEK_DAYS",
    "DigestLine",
    "PersonDigest",
    "person_digest",
    "recipients_page",
    "renewal_requesters",
]

WEEK_DAYS = 7  # "due this week": as_of and the six days after it
SEND_BY_DAYS = 30
LIST_LIMIT = 50  # lines per list; the rest are counted
# The lists in the order the digest shows them.
LISTS = ("due_this_week", "overdue", "awaiting", "send_by_soon", "lapsed")
# What a renewal waits on its owner for (lapsed has a list of its own).
WAITS_ON_OWNER = (
    RenewalStage.CHANGES_REQUESTED.value,
    RenewalStage.OFFER_PRESENTED.value,
    RenewalStage.ESCALATED.value,
)
FOLLOWUP_ACTION = "followup_action"  # the ``what`` of an overdue follow-up action
LEGAL_ROLES = frozenset({Role.LEGAL, Role.LEGAL_LEAD})


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One line of a list: the contract, what is due (a milestone, stage or version kind, or
    ``followup_action``), when, and the stored plan's dates (None without a stored plan)."""

    contract_id: str
    term: int
    title: str
    supplier_name: str
    language: str  # the contract's
    what: str
    due: date | None
    send_by: date | None = None
    notice_deadline: date | None = None
    end_date: date | None = None
    version: int | None = None  # the version awaiting a decision
    detail: str = ""  # a follow-up action's description


@dataclass(frozen=True, slots=True)
class PersonDigest:
    username: str
    language: str | None  # users.language (None: not chosen)
    lists: dict[str, list[DigestLine]] = field(default_factory=dict)
    more: dict[str, int] = field(default_factory=dict)  # lines left out of each list
    home: str = "/"  # the page their work starts from (auth.roles.home_path), the mail's link

    @property
    def empty(self) -> bool:
        return not any(self.lists.values())

    def contract_languages(self) -> list[str]:
        return [line.language for lines in self.lists.values() for line in lines]


def recipients_page(session: Session, *, after: str | None, limit: int) -> list[str]:
    """Usernames (sorted) of the active people who own a contract that is not terminated or
    who hold a legal role: ``limit`` of them after ``after``."""
    owners = (
        select(func.lower(ContractRow.owner))
        .where(ContractRow.status != "terminated")
        .distinct()
        .scalar_subquery()
    )
    legal = or_(*(UserRow.roles.contains(role.value) for role in LEGAL_ROLES))
    query = select(UserRow.username).where(
        UserRow.active.is_(True),
        UserRow.kind == "person",
        or_(legal, UserRow.username.in_(owners)),
    )
    if after is not None:
        query = query.where(UserRow.username > after)
    return list(session.scalars(query.order_by(UserRow.username).limit(limit)))


def _bounded(rows: Sequence[Any], limit: int) -> tuple[Sequence[Any], int]:
    return rows[:limit], max(0, len(rows) - limit)


def _page(session: Session, query: Any, limit: int) -> tuple[Sequence[Any], int]:
    """The first ``limit`` rows of ``query`` and how many were left out: one more row is read
    to know, and only then are the rest counted (one COUNT; a short list costs none)."""
    rows = session.execute(query.limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, 0
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return rows[:limit], int(total or 0) - limit


def _plan_line(
    contract: ContractRow, supplier: str, plan: TermPlanRow, what: str, due: date | None
) -> DigestLine:
    return DigestLine(
        contract_id=contract.id,
        term=plan.term,
        title=contract.title,
        supplier_name=supplier,
        language=contract.language,
        what=what,
        due=due,
        send_by=plan.send_by,
        notice_deadline=plan.notice_deadline,
        end_date=plan.end_date,
    )


def _owned_plans(spellings: Sequence[str]) -> Any:
    """The person's live contracts, their current renewal without an outcome, and its stored
    plan (a stored plan means a renewal runs for the term)."""
    return (
        select(ContractRow, SupplierRow.name, TermPlanRow)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .join(RenewalRow, current_renewal())
        .join(
            TermPlanRow,
            and_(
                TermPlanRow.contract_id == ContractRow.id,
                TermPlanRow.term == ContractRow.current_term,
            ),
        )
        .where(
            ContractRow.owner.in_(spellings),
            ContractRow.status != "terminated",
            RenewalRow.outcome.is_(None),
        )
    )


def _milestones(
    session: Session, spellings: Sequence[str], *, since: date | None, until: date, limit: int
) -> tuple[list[DigestLine], int]:
    due = PlanMilestoneRow.due
    query = (
        _owned_plans(spellings)
        .add_columns(PlanMilestoneRow.kind, due)
        .join(
            PlanMilestoneRow,
            and_(
                PlanMilestoneRow.contract_id == ContractRow.id,
                PlanMilestoneRow.term == ContractRow.current_term,
            ),
        )
        .where(PlanMilestoneRow.state == MilestoneState.PENDING.value, due < until)
        .order_by(due, ContractRow.id, PlanMilestoneRow.position)
    )
    if since is not None:
        query = query.where(due >= since)
    rows, more = _page(session, query, limit)
    return [_plan_line(c, s, p, kind, day) for c, s, p, kind, day in rows], more


def _overdue_actions(
    session: Session, username: str, spellings: Sequence[str], *, as_of: date, limit: int
) -> tuple[list[DigestLine], int]:
    query = (
        select(FollowUpActionRow, ContractRow, SupplierRow.name)
        .join(ContractRow, ContractRow.id == FollowUpActionRow.contract_id)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .where(
            FollowUpActionRow.state == "open",
            FollowUpActionRow.due < as_of,
            ContractRow.status != "terminated",
            or_(
                func.lower(FollowUpActionRow.owner) == username,
                ContractRow.owner.in_(spellings),
            ),
        )
        .order_by(FollowUpActionRow.due, FollowUpActionRow.id)
    )
    rows, more = _page(session, query, limit)
    return [
        DigestLine(
            contract_id=c.id,
            term=c.current_term,
            title=c.title,
            supplier_name=s,
            language=c.language,
            what=FOLLOWUP_ACTION,
            due=a.due,
            detail=a.description,
        )
        for a, c, s in rows
    ], more


def _waiting_on_owner(
    session: Session, spellings: Sequence[str], *, limit: int
) -> tuple[list[DigestLine], int]:
    query = (
        _owned_plans(spellings)
        .add_columns(RenewalRow.stage)
        .where(RenewalRow.stage.in_(WAITS_ON_OWNER))
        .order_by(TermPlanRow.notice_deadline, ContractRow.id)
    )
    rows, more = _page(session, query, limit)
    return [_plan_line(c, s, p, stage, p.notice_deadline) for c, s, p, stage in rows], more


def _send_by_soon(
    session: Session, spellings: Sequence[str], *, as_of: date, limit: int
) -> tuple[list[DigestLine], int]:
    query = (
        _owned_plans(spellings)
        .where(
            TermPlanRow.send_by.is_not(None),
            TermPlanRow.send_by >= as_of,
            TermPlanRow.send_by <= as_of + timedelta(days=SEND_BY_DAYS),
        )
        .order_by(TermPlanRow.send_by, ContractRow.id)
    )
    rows, more = _page(session, query, limit)
    return [_plan_line(c, s, p, "send_by", p.send_by) for c, s, p in rows], more


def _lapsed(
    session: Session, spellings: Sequence[str], *, limit: int
) -> tuple[list[DigestLine], int]:
    query = (
        _owned_plans(spellings)
        .where(RenewalRow.stage == RenewalStage.LAPSED.value)
        .order_by(TermPlanRow.end_date, ContractRow.id)
    )
    rows, more = _page(session, query, limit)
    return [_plan_line(c, s, p, "lapsed", p.end_date) for c, s, p in rows], more


def renewal_requesters(session: Session, items: Sequence[QueueItem]) -> dict[tuple[str, int], str]:
    """Who requested each queued version's renewal, by (contract, term), in one query."""
    if not items:
        return {}
    ids = sorted({i.contract_id for i in items})
    rows = session.execute(
        select(RenewalRow.contract_id, RenewalRow.term, RenewalRow.requested_by).where(
            RenewalRow.contract_id.in_(ids)
        )
    ).all()
    return {(cid, term): by for cid, term, by in rows}


def _decidable_by(
    username: str,
    queue: Sequence[QueueItem],
    requesters: dict[tuple[str, int], str],
    *,
    limit: int,
) -> tuple[list[DigestLine], int]:
    mine = [
        item
        for item in queue
        if refused_rule(
            reviewer=username,
            version_maker=item.requested_by,
            renewal_requester=requesters.get((item.contract_id, item.term)),
            contract_owner=item.owner,
        )
        is None
    ]
    shown, more = _bounded(mine, limit)
    return [
        DigestLine(
            contract_id=i.contract_id,
            term=i.term,
            title=i.title,
            supplier_name=i.supplier_name,
            language=i.language,
            what=i.kind,
            due=i.due,
            version=i.version,
        )
        for i in shown
    ], more


def person_digest(
    session: Session,
    *,
    username: str,
    as_of: date,
    queue: Sequence[QueueItem] = (),
    requesters: dict[tuple[str, int], str] | None = None,
    limit: int = LIST_LIMIT,
) -> PersonDigest | None:
    """The person's five lists as of ``as_of`` (their local day); None when the account is
    gone or inactive. ``queue`` is the review queue (read once for a page of recipients) with
    its ``requesters`` (:func:`renewal_requesters`): a legal reviewer's decisions come from it."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None or not user.active:
        return None
    spellings = owner_spellings(session, username)
    lists: dict[str, list[DigestLine]] = {}
    more: dict[str, int] = {}
    week_end = as_of + timedelta(days=WEEK_DAYS)
    lists["due_this_week"], more["due_this_week"] = (
        _milestones(session, spellings, since=as_of, until=week_end, limit=limit)
        if spellings
        else ([], 0)
    )
    overdue, more_overdue = (
        _milestones(session, spellings, since=None, until=as_of, limit=limit)
        if spellings
        else ([], 0)
    )
    actions, more_actions = _overdue_actions(session, username, spellings, as_of=as_of, limit=limit)
    lists["overdue"], more["overdue"] = overdue + actions, more_overdue + more_actions
    awaiting: list[DigestLine] = []
    more["awaiting"] = 0
    if parse_roles(user.roles) & LEGAL_ROLES:
        awaiting, more["awaiting"] = _decidable_by(username, queue, requesters or {}, limit=limit)
    if spellings:
        waiting, more_waiting = _waiting_on_owner(session, spellings, limit=limit)
        awaiting += waiting
        more["awaiting"] += more_waiting
    lists["awaiting"] = awaiting
    lists["send_by_soon"], more["send_by_soon"] = (
        _send_by_soon(session, spellings, as_of=as_of, limit=limit) if spellings else ([], 0)
    )
    lists["lapsed"], more["lapsed"] = (
        _lapsed(session, spellings, limit=limit) if spellings else ([], 0)
    )
    return PersonDigest(
        username=username,
        language=user.language,
        lists=lists,
        more=more,
        home=home_path(permissions_for(parse_roles(user.roles))),
    )
