"""Follow-up reviews during a term (renewal-semantics.md §7): when they fall, and what a
recorded one must hold. Pure: the caller passes the term's dates, the settings and "today".

A term from ``start`` to ``end`` has a review every ``interval_months`` after its start, as
long as the review falls before ``end - quiet_months`` (the renewal's own preparation, gather
facts, runs in those last months). Each review covers the period since the previous one (the
first, since the term started).
"""

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from models.contract import ContractRead
from models.errors import FieldError
from models.followups import CSAT_RANGE, INTERVAL_RANGE, NPS_RANGE, FollowUpInput

__all__ = [
    "ReviewSlot",
    "effective_interval",
    "review_schedule",
    "term_start",
    "validate_followup",
    "validate_interval",
]

MAX_TEXT = 4000
MAX_ACTIONS = 50


@dataclass(frozen=True, slots=True)
class ReviewSlot:
    sequence: int  # 1, 2, ... within the term
    due: date
    period_start: date
    period_end: date  # == due


def term_start(*, start_date: date, end_date: date, term: int, term_months: int) -> date:
    """When the contract's current term began: its start for the first term, else its end less
    one renewal term (the contract keeps its first start date when it is renewed)."""
    if term <= 1:
        return start_date
    return max(start_date, end_date - relativedelta(months=term_months))


def term_bounds(contract: ContractRead) -> tuple[date, date]:
    """The current term's first and last day, as the follow-up reviews are scheduled in it."""
    start = term_start(
        start_date=contract.start_date,
        end_date=contract.end_date,
        term=contract.current_term,
        term_months=contract.renewal_term_months,
    )
    return start, contract.end_date


def effective_interval(contract_interval: int | None, default_interval: int) -> int:
    return contract_interval if contract_interval is not None else default_interval


def quiet_start(end: date, *, quiet_months: int) -> date:
    """From this day the renewal's own preparation runs: no follow-up review is due after it."""
    return end - relativedelta(months=quiet_months)


def review_schedule(
    *, start: date, end: date, interval_months: int, quiet_months: int
) -> tuple[ReviewSlot, ...]:
    """The term's reviews in order; none on or after ``end - quiet_months``."""
    if interval_months < 1:
        raise ValueError("interval_months must be at least 1")
    quiet_from = quiet_start(end, quiet_months=quiet_months)
    slots: list[ReviewSlot] = []
    previous = start
    k = 1
    while True:
        # From the start each time, so that 31 January + 1 month twice is 31 March, not 28th.
        due = start + relativedelta(months=interval_months * k)
        if due >= quiet_from or due >= end:
            break
        slots.append(ReviewSlot(sequence=k, due=due, period_start=previous, period_end=due))
        previous = due
        k += 1
    return tuple(slots)


def validate_interval(
    value: int | None, *, field: str = "followup_interval_months"
) -> list[FieldError]:
    if value is None:
        return []
    low, high = INTERVAL_RANGE
    if not low <= value <= high:
        return [FieldError(field, f"must be between {low} and {high} months, not {value}")]
    return []


def _text(field: str, value: str) -> list[FieldError]:
    if len(value) > MAX_TEXT:
        return [FieldError(field, f"is {len(value)} characters long; at most {MAX_TEXT}")]
    if any(ord(c) < 32 and c not in "\n\t\r" for c in value):
        return [FieldError(field, "contains control characters")]
    return []


def validate_followup(
    data: FollowUpInput, *, current_term: int, term_start: date, term_end: date, today: date
) -> list[FieldError]:
    """Every problem of a follow-up as recorded, each naming its field; empty when it may be
    stored. Only the current term takes follow-ups: not one that has ended, nor a later one."""
    errors: list[FieldError] = []
    if data.term is not None and data.term != current_term:
        ended = " (it has ended)" if data.term < current_term else ""
        errors.append(
            FieldError("term", f"term {data.term} is not the current term {current_term}{ended}")
        )
    if today > term_end:
        errors.append(FieldError("term", f"the term ended on {term_end.isoformat()}"))
    elif today < term_start:
        errors.append(FieldError("term", f"the term starts on {term_start.isoformat()}"))
    low, high = CSAT_RANGE
    if not low <= data.csat <= high:
        errors.append(FieldError("csat", f"must be between {low} and {high}, not {data.csat}"))
    low, high = NPS_RANGE
    if not low <= data.nps <= high:
        errors.append(FieldError("nps", f"must be between {low} and {high}, not {data.nps}"))
    errors += _text("feedback", data.feedback)
    errors += _text("supplier_continue_on", data.supplier_continue_on)
    if len(data.actions) > MAX_ACTIONS:
        errors.append(FieldError("actions", f"at most {MAX_ACTIONS}, not {len(data.actions)}"))
    for i, action in enumerate(data.actions):
        where = f"actions[{i}]"
        if not action.description.strip():
            errors.append(FieldError(f"{where}.description", "is required"))
        else:
            errors += _text(f"{where}.description", action.description)
        if action.owner is None or not action.owner.strip():
            errors.append(FieldError(f"{where}.owner", "is required: who does it"))
        elif len(action.owner) > 200:
            errors.append(FieldError(f"{where}.owner", "is longer than 200 characters"))
        if action.due is None:
            errors.append(FieldError(f"{where}.due", "is required: by when"))
    return errors
