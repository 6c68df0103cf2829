"""The end-of-term rules of renewal-semantics.md §4 and the catch-up of §5, as pure functions."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.milestones import next_term_end
from domain.outcome import (
    ExpiryFacts,
    NoticeState,
    catch_up,
    expiry_outcome,
    new_end_date,
    notice_state,
)
from models.contract import DefaultAction, TermModel
from models.renewal import DraftKind, OutcomeKind

FIXED, AUTO, EVERGREEN = TermModel.FIXED, TermModel.AUTO_RENEWING, TermModel.EVERGREEN


def _facts(
    model: TermModel,
    *,
    agreed: DraftKind | None = None,
    notice: NoticeState = NoticeState.NONE,
    terminate: bool = False,
    default: DefaultAction = DefaultAction.NON_RENEWAL,
) -> ExpiryFacts:
    return ExpiryFacts(
        term_model=model,
        agreed=agreed,
        notice=notice,
        termination_requested=terminate,
        default_action=default,
    )


@pytest.mark.parametrize(
    ("facts", "kind", "escalate"),
    [
        # a version approved (and accepted) → renewed, whatever the term model
        (_facts(FIXED, agreed=DraftKind.RENEGOTIATION), OutcomeKind.RENEWED, False),
        (_facts(AUTO, agreed=DraftKind.RENEGOTIATION), OutcomeKind.RENEWED, False),
        # fixed, nothing agreed → lapsed, escalated
        (_facts(FIXED), OutcomeKind.LAPSED, True),
        # interim agreement → interim extension
        (_facts(FIXED, agreed=DraftKind.INTERIM_EXTENSION), OutcomeKind.INTERIM_EXTENSION, False),
        # auto-renewing with an effective notice → not renewed
        (_facts(AUTO, notice=NoticeState.DISPATCHED), OutcomeKind.NOT_RENEWED, False),
        # auto-renewing, no effective notice → rolled over; said plainly and escalated
        (_facts(AUTO), OutcomeKind.ROLLED_OVER, True),
        (_facts(AUTO, notice=NoticeState.APPROVED), OutcomeKind.ROLLED_OVER, True),
        (_facts(AUTO, notice=NoticeState.DISPATCHED_LATE), OutcomeKind.ROLLED_OVER, True),
        (_facts(AUTO, terminate=True), OutcomeKind.ROLLED_OVER, True),
        # the organisation chose to let it roll over: no escalation
        (_facts(AUTO, default=DefaultAction.RENEW_AS_IS), OutcomeKind.ROLLED_OVER, False),
        # evergreen continues
        (_facts(EVERGREEN), OutcomeKind.ROLLED_OVER, False),
        (_facts(EVERGREEN, notice=NoticeState.DISPATCHED), OutcomeKind.NOT_RENEWED, False),
        # termination of a fixed term, and a transition plan
        (_facts(FIXED, terminate=True), OutcomeKind.TERMINATED, False),
        (_facts(FIXED, agreed=DraftKind.TRANSITION_PLAN), OutcomeKind.NOT_RENEWED, False),
    ],
)
def test_each_row_of_the_outcome_table(facts: ExpiryFacts, kind: OutcomeKind, escalate: bool):
    decision = expiry_outcome(facts)
    assert decision.kind is kind
    assert decision.escalate is escalate
    assert decision.reason


def test_an_approved_notice_never_reads_as_renewed():
    for notice in NoticeState:
        for model in (AUTO, EVERGREEN):
            assert expiry_outcome(_facts(model, notice=notice)).kind is not OutcomeKind.RENEWED


def test_a_notice_counts_only_when_dispatched_by_the_notice_deadline():
    deadline = date(2027, 3, 31)
    assert notice_state(approved=False, dispatched_on=None, notice_deadline=deadline) is (
        NoticeState.NONE
    )
    assert notice_state(approved=True, dispatched_on=None, notice_deadline=deadline) is (
        NoticeState.APPROVED
    )
    assert notice_state(approved=True, dispatched_on=deadline, notice_deadline=deadline) is (
        NoticeState.DISPATCHED
    )
    late = deadline + timedelta(days=1)
    assert notice_state(approved=True, dispatched_on=late, notice_deadline=deadline) is (
        NoticeState.DISPATCHED_LATE
    )


def test_new_end_dates_by_outcome():
    end = date(2027, 2, 28)
    assert new_end_date(OutcomeKind.RENEWED, end_date=end, term_months=12, extension_months=3) == (
        date(2028, 2, 29)  # a month-end contract stays at month end
    )
    assert new_end_date(
        OutcomeKind.ROLLED_OVER, end_date=end, term_months=12, extension_months=3
    ) == date(2028, 2, 29)
    assert new_end_date(
        OutcomeKind.INTERIM_EXTENSION, end_date=end, term_months=12, extension_months=3
    ) == date(2027, 5, 28)
    for kind in (OutcomeKind.LAPSED, OutcomeKind.NOT_RENEWED, OutcomeKind.TERMINATED):
        assert new_end_date(kind, end_date=end, term_months=12, extension_months=3) is None


def test_the_runaway_case_is_one_step_to_the_present_term():
    # Registered two years after its end, auto-renewing, 12-month renewal term.
    up = catch_up(
        end_date=date(2024, 11, 30),
        term_model=AUTO,
        term_months=12,
        renewals_left=None,
        today=date(2026, 12, 1),
    )
    assert up.rolled_over == (
        (date(2024, 11, 30), date(2025, 11, 30)),
        (date(2025, 11, 30), date(2026, 11, 30)),
        (date(2026, 11, 30), date(2027, 11, 30)),
    )
    assert up.present_end == date(2027, 11, 30)
    assert up.lapsed_on is None


def test_forty_days_late_cleaning_contract_rolled_over_for_twelve_months():
    up = catch_up(
        end_date=date(2026, 10, 22),
        term_model=AUTO,
        term_months=12,
        renewals_left=None,
        today=date(2026, 12, 1),
    )
    assert up.rolled_over == ((date(2026, 10, 22), date(2027, 10, 22)),)
    assert up.present_end == date(2027, 10, 22)


def test_a_fixed_term_registered_late_lapsed_at_once():
    up = catch_up(
        end_date=date(2026, 6, 30),
        term_model=FIXED,
        term_months=12,
        renewals_left=None,
        today=date(2026, 12, 1),
    )
    assert up == type(up)((), None, date(2026, 6, 30))


def test_renewals_running_out_during_catch_up_lapse_at_the_last_end():
    up = catch_up(
        end_date=date(2023, 3, 31),
        term_model=AUTO,
        term_months=12,
        renewals_left=2,
        today=date(2026, 12, 1),
    )
    assert [new for _old, new in up.rolled_over] == [date(2024, 3, 31), date(2025, 3, 31)]
    assert up.present_end is None
    assert up.lapsed_on == date(2025, 3, 31)


@given(
    end=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    months=st.integers(min_value=1, max_value=60),
    late_days=st.integers(min_value=0, max_value=3650),
    left=st.one_of(st.none(), st.integers(min_value=0, max_value=20)),
    model=st.sampled_from([AUTO, EVERGREEN, FIXED]),
)
def test_catch_up_is_consecutive_bounded_and_reaches_today(end, months, late_days, left, model):
    today = end + timedelta(days=late_days)
    up = catch_up(
        end_date=end, term_model=model, term_months=months, renewals_left=left, today=today
    )
    previous = end
    for old, new in up.rolled_over:
        assert old == previous
        assert new == next_term_end(old, months)
        previous = new
    if left is not None:
        assert len(up.rolled_over) <= left
    assert (up.present_end is None) != (up.lapsed_on is None)
    if up.present_end is not None:
        assert up.present_end >= today
        assert up.present_end == previous
    if model is FIXED and late_days > 0:
        assert up.rolled_over == () and up.lapsed_on == end
