"""A supplier's scorecard for a contract, as of a day: the same assessment the renewal makes at
its gather-facts milestone, for a preview that stores nothing."""

from datetime import date

from sqlalchemy.orm import Session

from models.scorecard import Scorecard, ScoringConfig
from store.assessment import assess_contract
from store.contracts import get_contract


def preview(session: Session, *, contract_id: str, as_of: date, cfg: ScoringConfig) -> Scorecard:
    """The scorecard of the contract's current term as of ``as_of``; NotFound names the id."""
    contract = get_contract(session, contract_id=contract_id)
    return assess_contract(
        session, contract_id=contract_id, term=contract.current_term, as_of=as_of, cfg=cfg
    )


__all__ = ["preview"]
