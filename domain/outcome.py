"""End-of-term arithmetic: where the contract's next term ends for each outcome.

One rule for the draft that proposes an interim extension and for the outcome that records it,
so the letter and the contract row never name different dates.
"""

from datetime import date

from dateutil.relativedelta import relativedelta

from domain.milestones import next_term_end
from models.renewal import OutcomeKind


def interim_extension_end(end_date: date, extension_months: int) -> date:
    """The current terms carried ``extension_months`` past the end date (plain calendar months:
    an extension is counted from the day the term ends, not kept at a month's end)."""
    return end_date + relativedelta(months=extension_months)


def new_end_date(
    kind: OutcomeKind, *, end_date: date, term_months: int, extension_months: int
) -> date | None:
    """The end of the term an outcome opens, or None when the outcome ends the contract."""
    if kind is OutcomeKind.RENEWED:
        return next_term_end(end_date, term_months)
    if kind is OutcomeKind.INTERIM_EXTENSION:
        return interim_extension_end(end_date, extension_months)
    return None
