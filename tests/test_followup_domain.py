"""Follow-up reviews' schedule and validation (issue 17, renewal-semantics.md §7)."""

from datetime import date

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from domain.followup import (
    effective_interval,
    review_schedule,
    term_start,
    validate_followup,
    validate_interval,
)
from models.followups import FollowUpActionInput, FollowUpInput, SupplierIntent

START = date(2026, 1, 1)
END = date(2027, 1, 1)


def _review(**changes: object) -> FollowUpInput:
    data: dict[str, object] = {
        "csat": 4,
        "nps": 8,
        "supplier_continue": SupplierIntent.YES,
        "feedback": "Deliveries on time.",
    }
    data.update(changes)
    return FollowUpInput.model_validate(data)


def test_quarterly_reviews_stop_six_months_before_the_end() -> None:
    slots = review_schedule(start=START, end=END, interval_months=3, quiet_months=6)
    # 1 April only: 1 July is the first day of the last six months.
    assert [s.due for s in slots] == [date(2026, 4, 1)]
    two_years = review_schedule(
        start=START, end=date(2028, 1, 1), interval_months=3, quiet_months=6
    )
    assert [s.due for s in two_years] == [
        date(2026, 4, 1),
        date(2026, 7, 1),
        date(2026, 10, 1),
        date(2027, 1, 1),
        date(2027, 4, 1),
    ]
    assert [s.sequence for s in two_years] == [1, 2, 3, 4, 5]
    assert two_years[0].period_start == START
    assert two_years[1].period_start == two_years[0].due


def test_per_contract_interval() -> None:
    assert effective_interval(None, 3) == 3
    assert effective_interval(2, 3) == 2
    slots = review_schedule(start=START, end=END, interval_months=2, quiet_months=6)
    assert [s.due for s in slots] == [date(2026, 3, 1), date(2026, 5, 1)]
    monthly = review_schedule(start=date(2026, 1, 31), end=END, interval_months=1, quiet_months=6)
    # Counted from the start each time: the end of February, then 31 March again.
    assert [s.due for s in monthly][:3] == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]


def test_short_term_has_none() -> None:
    assert (
        review_schedule(start=START, end=date(2026, 6, 1), interval_months=3, quiet_months=6) == ()
    )


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    months=st.integers(min_value=1, max_value=60),
    interval=st.integers(min_value=1, max_value=12),
    quiet=st.integers(min_value=0, max_value=12),
)
def test_schedule_properties(start: date, months: int, interval: int, quiet: int) -> None:
    end = start + relativedelta(months=months)
    slots = review_schedule(start=start, end=end, interval_months=interval, quiet_months=quiet)
    quiet_from = end - relativedelta(months=quiet)
    previous = start
    for i, slot in enumerate(slots, start=1):
        assert slot.sequence == i
        assert start < slot.due < end
        assert slot.due < quiet_from  # none in the last months
        assert slot.period_start == previous and slot.period_end == slot.due
        assert slot.due == start + relativedelta(months=interval * i)
        previous = slot.due
    # Nothing left out: the next one would fall in the quiet months or after the end.
    following = start + relativedelta(months=interval * (len(slots) + 1))
    assert following >= quiet_from or following >= end


def test_term_start_of_a_renewed_term() -> None:
    assert term_start(start_date=START, end_date=END, term=1, term_months=12) == START
    assert term_start(start_date=START, end_date=date(2028, 1, 1), term=2, term_months=12) == END


def test_validation_names_each_field() -> None:
    assert (
        validate_followup(
            _review(), current_term=1, term_start=START, term_end=END, today=date(2026, 4, 2)
        )
        == []
    )
    bad = _review(
        csat=6,
        nps=11,
        actions=[
            FollowUpActionInput(description="Fix labels"),
            FollowUpActionInput(description="", owner="a@example.com", due=date(2026, 5, 1)),
        ],
    )
    errors = validate_followup(
        bad, current_term=1, term_start=START, term_end=END, today=date(2026, 4, 2)
    )
    fields = {e.field: e.reason for e in errors}
    assert "between 1 and 5" in fields["csat"]
    assert "between 0 and 10" in fields["nps"]
    assert "who" in fields["actions[0].owner"]
    assert "by when" in fields["actions[0].due"]
    assert fields["actions[1].description"] == "is required"
    assert validate_followup(
        _review(csat=0, nps=-1), current_term=1, term_start=START, term_end=END, today=START
    )
    ended = validate_followup(
        _review(), current_term=1, term_start=START, term_end=END, today=date(2027, 1, 2)
    )
    assert [(e.field, e.reason) for e in ended] == [("term", "the term ended on 2027-01-01")]
    for term, reason in (
        (0, "term 0 is not the current term 1 (it has ended)"),
        (2, "term 2 is not the current term 1"),
    ):
        other = validate_followup(
            _review(term=term), current_term=1, term_start=START, term_end=END, today=START
        )
        assert [(e.field, e.reason) for e in other] == [("term", reason)]


@given(csat=st.integers(-5, 12), nps=st.integers(-5, 15))
def test_ranges(csat: int, nps: int) -> None:
    errors = validate_followup(
        _review(csat=csat, nps=nps),
        current_term=1,
        term_start=START,
        term_end=END,
        today=date(2026, 5, 1),
    )
    fields = {e.field for e in errors}
    assert ("csat" in fields) == (not 1 <= csat <= 5)
    assert ("nps" in fields) == (not 0 <= nps <= 10)


def test_interval_range() -> None:
    assert validate_interval(None) == []
    assert validate_interval(3) == []
    assert validate_interval(0)[0].field == "followup_interval_months"
    assert validate_interval(13)
