"""Everything known about one renewal term, for its page, its API resource and ``renewals
show``: the stored record, the versions, the stored plan (or its labelled preview), the
recorded dispatches, and the workflow's live status when it can be asked."""

from dataclasses import dataclass
from datetime import date

from temporalio.client import Client

from clients import renewals
from config.settings import Settings
from models.contract import ContractRead
from models.drafts import DraftView
from models.errors import NotFound
from models.notices import DispatchRecord
from models.plans import StoredPlan
from models.renewal import RenewalStatus
from services import drafts as draft_service
from store.contracts import get_contract
from store.db import SessionFactory, transaction
from store.reads import plans as plan_reads
from store.reads import renewals as renewal_reads

__all__ = ["RenewalDetail", "detail"]


@dataclass(frozen=True, slots=True)
class RenewalDetail:
    contract: ContractRead
    record: renewal_reads.RenewalRecord | None
    drafts: list[DraftView]
    live: RenewalStatus | None  # None: the workflow could not be asked (not running, unreachable)
    plan: StoredPlan | None  # the term's stored plan (or its preview, labelled); None: none kept
    dispatches: list[DispatchRecord]  # recorded notice dispatches, each judged late or in time


async def detail(
    *,
    sessions: SessionFactory,
    client: Client | None,
    settings: Settings,
    today: date,
    contract_id: str,
    term: int | None,
) -> RenewalDetail:
    with transaction(sessions) as session:
        contract = get_contract(session, contract_id=contract_id)
        the_term = term or contract.current_term
        record = renewal_reads.renewal_record(session, contract_id=contract_id, term=the_term)
        versions = draft_service.versions(session, contract_id=contract_id, term=the_term)
        plan = plan_reads.plan_of(
            session,
            contract=contract,
            term=the_term,
            today=today,
            policy=settings.renewal_policy,
            cfg=settings.calendar_settings,
        )
    if record is None and term is not None and term != contract.current_term:
        raise NotFound(f"no renewal for term {term} of contract {contract_id!r}")
    live: RenewalStatus | None = None
    if client is not None and record is not None:
        try:
            live = await renewals.get_status(client, contract_id=contract_id, term=the_term)
        except Exception:  # the stored record is shown without the live view
            live = None
    dispatches = list(live.dispatches) if live else renewal_reads.recorded_dispatches(record)
    return RenewalDetail(contract, record, versions, live, plan, dispatches)
