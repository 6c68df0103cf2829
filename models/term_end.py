"""The catch-up of a contract registered after its end date (renewal-semantics.md §5): every
roll-over its terms caused, recorded in one step, and the term running today."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from models.contract import TermModel
from models.renewal import TermOutcome


class CatchUpRequest(BaseModel):
    """A term that ended before its renewal started: bring the contract to its present term."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    today: date
    term_model: TermModel  # effective, from the term plan
    term_months: int
    renewals_left: int | None
    decided_at: datetime


class CatchUpResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: TermOutcome  # this term's: rolled over (to the next term's end)
    rolled_over: int  # terms recorded as rolled over, this one included
    present_term: int  # the term running today (or the lapsed one)
    present_end: date | None  # None: the contract lapsed at lapsed_on
    lapsed_on: date | None
