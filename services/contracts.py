"""Contracts and suppliers as people register, change and read them (one at a time; files go
through :mod:`services.imports`). Writes check ownership (:mod:`services.ownership`): a
contract's owner must be an active user once the database has accounts, and the acting
``user`` may write only their own and their team's contracts, and only suppliers of those (a
procurement lead: any). ``user=None`` is a trusted caller acting for nobody in particular (the
dev stack's samples): only the owners are checked then.
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from models.contract import (
    ContractAmendment,
    ContractCreate,
    ContractRead,
    SupplierCreate,
    SupplierRead,
)
from models.users import CurrentUser
from services import ownership
from store import audit
from store import contracts as contract_store
from store import teams as team_store
from store.contracts import get_contract, list_contracts, parse_contract

__all__ = [
    "amend_contract",
    "get_contract",
    "list_contracts",
    "parse_contract",
    "register_contracts",
    "set_team",
    "upsert_supplier",
]

TEAM_SET = "contract_team_set"  # audit action: a contract's team given or taken away


def register_contracts(
    session: Session, *, contracts: Sequence[ContractCreate], user: CurrentUser | None = None
) -> list[ContractRead]:
    """Register a batch, all or none: InvalidInput for an owner who is not an account (row =
    position in the batch, from 1), NotAllowed for a contract ``user`` may not register."""
    ownership.check_new_contracts(session, contracts=contracts, user=user)
    return contract_store.register_contracts(session, contracts=contracts)


def upsert_supplier(
    session: Session, *, supplier: SupplierCreate, user: CurrentUser | None = None
) -> SupplierRead:
    """Register the supplier, or change the stored one (NotAllowed unless ``user`` is a lead or
    has a contract with it)."""
    if user is not None:
        ownership.refuse_supplier_change(session, user=user, supplier_id=supplier.id)
    return contract_store.upsert_supplier(session, supplier=supplier)


def amend_contract(
    session: Session, *, user: CurrentUser, contract_id: str, amendment: ContractAmendment
) -> ContractRead:
    """Change the stored contract's end date or notice period (no renewal running): for its
    owner, its team and a procurement lead (NotAllowed, field ``owner``, otherwise)."""
    ownership.refuse_contract_change(session, user=user, contract_id=contract_id)
    return contract_store.amend_contract(session, contract_id=contract_id, amendment=amendment)


def set_team(
    session: Session, *, user: CurrentUser, contract_id: str, team: str | None
) -> ContractRead:
    """Give the contract a team (None: none), audited. For whoever may change the contract;
    a user who is not a procurement lead may give it only a team they are in."""
    ownership.refuse_contract_change(session, user=user, contract_id=contract_id)
    ownership.refuse_team_assignment(session, user=user, contract_id=contract_id, team=team)
    before = team_store.set_contract_team(session, contract_id=contract_id, team=team)
    audit.record(
        session,
        actor=user.username,
        action=TEAM_SET,
        subject_type="contract",
        subject_id=contract_id,
        detail={"team": team, "before": before},
    )
    return get_contract(session, contract_id=contract_id)
