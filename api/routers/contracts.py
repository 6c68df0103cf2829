"""Contracts and their amendments."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.schemas import AmendmentIn, AmendmentOut, Page
from auth.roles import Permission
from models.contract import ContractRead
from models.numbers import DbInt
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, TemporalDep, require
from services import contracts as contract_store
from services import renewals as service
from store.reads import pipeline as pipeline_reads

router = APIRouter(prefix="/contracts", tags=["contracts"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]
Writer = Annotated[CurrentUser, require(Permission.CONTRACTS_WRITE)]


@router.get("")
def list_contracts(
    db: SessionDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: DbInt = 0,
) -> Page[ContractRead]:
    items = contract_store.list_contracts(db, limit=limit, offset=offset)
    total = pipeline_reads.count_contracts(db)
    return Page.of(items, total=total, limit=limit, offset=offset)


@router.get("/{contract_id}")
def read_contract(contract_id: str, db: SessionDep, _: Reader) -> ContractRead:
    return contract_store.get_contract(db, contract_id=contract_id)


@router.post("/{contract_id}/amendments")
async def amend_contract(
    contract_id: str, body: AmendmentIn, user: Writer, state: StateDep, client: TemporalDep
) -> AmendmentOut:
    """Change the end date or notice period; a running renewal re-plans its milestones."""
    done = await service.amend(
        sessions=state.sessions,
        client=client,
        user=user,
        keys=state.identity,
        contract_id=contract_id,
        end_date=body.end_date,
        notice_period_days=body.notice_period_days,
        reason=body.reason,
    )
    return AmendmentOut(
        contract_id=done.contract_id,
        end_date=done.end_date,
        notice_period_days=done.notice_period_days,
        notice_deadline=done.notice_deadline,
        through_workflow=done.through_workflow,
    )
