"""The milestone plan: golden dates for the awkward calendar cases, then properties over many."""

import calendar
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.milestones import next_term_end, notice_deadline, plan_milestones
from models.milestones import MilestoneKind, MilestonePlan, RenewalPolicy

GATHER = MilestoneKind.GATHER_FACTS
DISCUSS = MilestoneKind.FIRST_DISCUSSION
FINAL = MilestoneKind.FINAL_TERMS
EXPIRY = MilestoneKind.EXPIRY
KINDS = (GATHER, DISCUSS, FINAL, EXPIRY)

LONG_AGO = date(2000, 1, 1)  # a "today" before every milestone: nothing overdue


def plan(
    end_date: date,
    notice: int = 0,
    today: date = LONG_AGO,
    policy: RenewalPolicy | None = None,
) -> MilestonePlan:
    return plan_milestones(end_date=end_date, notice_period_days=notice, today=today, policy=policy)


def dues(p: MilestonePlan) -> dict[MilestoneKind, date]:
    return {m.kind: m.due for m in p.milestones}


def last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def is_month_end(d: date) -> bool:
    return d.day == last_day(d.year, d.month)


# --- golden cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end_date", "gather"),
    [
        (date(2026, 8, 31), date(2026, 2, 28)),
        (date(2027, 8, 31), date(2027, 2, 28)),
        (date(2028, 8, 31), date(2028, 2, 29)),  # leap year
    ],
)
def test_31_august_minus_six_months_is_the_last_day_of_february(end_date, gather):
    p = plan(end_date, notice=30)
    m = p.get(GATHER)
    assert m.due == m.nominal == gather
    assert not m.moved_for_notice


@pytest.mark.parametrize(
    ("end_date", "final"),
    [
        (date(2026, 3, 31), date(2026, 2, 28)),
        (date(2027, 3, 31), date(2027, 2, 28)),
        (date(2028, 3, 31), date(2028, 2, 29)),
    ],
)
def test_31_march_minus_one_month_is_the_last_day_of_february(end_date, final):
    p = plan(end_date, notice=0)
    assert p.get(FINAL).due == p.get(FINAL).nominal == final
    # The other two clamp too: 31 March - 3 months = 31 Dec, - 6 months = 30 Sep.
    assert p.get(DISCUSS).due == date(end_date.year - 1, 12, 31)
    assert p.get(GATHER).due == date(end_date.year - 1, 9, 30)


def test_30_june_end_date_keeps_the_30th_in_every_month():
    p = plan(date(2026, 6, 30), notice=14)
    assert dues(p) == {
        GATHER: date(2025, 12, 30),
        DISCUSS: date(2026, 3, 30),
        FINAL: date(2026, 5, 30),
        EXPIRY: date(2026, 6, 30),
    }
    assert not any(m.moved_for_notice for m in p.milestones)


def test_mid_month_end_date():
    p = plan(date(2027, 1, 15), notice=30)
    assert dues(p) == {
        GATHER: date(2026, 7, 15),
        DISCUSS: date(2026, 10, 15),
        FINAL: date(2026, 12, 15),
        EXPIRY: date(2027, 1, 15),
    }


def test_long_notice_period_moves_every_milestone_before_the_notice_deadline():
    p = plan(date(2026, 12, 31), notice=90)
    assert p.notice_deadline == date(2026, 10, 2)
    assert dues(p) == {
        GATHER: date(2026, 5, 2),
        DISCUSS: date(2026, 8, 2),
        FINAL: date(2026, 10, 2),
        EXPIRY: date(2026, 12, 31),
    }
    nominal = {m.kind: m.nominal for m in p.milestones}
    assert nominal == {
        GATHER: date(2026, 6, 30),
        DISCUSS: date(2026, 9, 30),
        FINAL: date(2026, 11, 30),
        EXPIRY: date(2026, 12, 31),
    }
    assert [m.moved_for_notice for m in p.milestones] == [True, True, True, False]


def test_short_notice_period_moves_nothing():
    p = plan(date(2026, 12, 31), notice=10)
    assert p.notice_deadline == date(2026, 12, 21)
    assert dues(p) == {
        GATHER: date(2026, 6, 30),
        DISCUSS: date(2026, 9, 30),
        FINAL: date(2026, 11, 30),
        EXPIRY: date(2026, 12, 31),
    }
    assert not any(m.moved_for_notice for m in p.milestones)
    assert all(m.due == m.nominal for m in p.milestones)


def test_notice_deadline_on_the_final_terms_date_moves_nothing():
    # 31 Dec - 31 days = 30 Nov, exactly the final-terms date: on time, nothing moves.
    p = plan(date(2026, 12, 31), notice=31)
    assert p.notice_deadline == p.get(FINAL).nominal == date(2026, 11, 30)
    assert not any(m.moved_for_notice for m in p.milestones)
    # One more day of notice and the whole plan shifts, keeping its spacing.
    p = plan(date(2026, 12, 31), notice=32)
    assert dues(p)[FINAL] == date(2026, 11, 29)
    assert dues(p)[DISCUSS] == date(2026, 9, 29)
    assert dues(p)[GATHER] == date(2026, 6, 29)


def test_milestones_that_fit_the_notice_deadline_are_not_moved_by_month_end_clamping():
    # 31 March, 31 days' notice: the deadline is 28 Feb 2027, which is also the final-terms date,
    # so nothing needs moving. Anchoring on the deadline anyway would have put first discussion
    # on 28 Dec (28 Feb - 2 months) instead of 31 Dec and flagged it "moved for notice".
    p = plan(date(2027, 3, 31), notice=31)
    assert p.notice_deadline == date(2027, 2, 28)
    assert dues(p) == {
        GATHER: date(2026, 9, 30),
        DISCUSS: date(2026, 12, 31),
        FINAL: date(2027, 2, 28),
        EXPIRY: date(2027, 3, 31),
    }
    assert not any(m.moved_for_notice for m in p.milestones)


def test_notice_deadline_helper():
    assert notice_deadline(date(2026, 12, 31), 90) == date(2026, 10, 2)
    assert notice_deadline(date(2028, 3, 1), 1) == date(2028, 2, 29)
    assert notice_deadline(date(2026, 12, 31), 0) == date(2026, 12, 31)


def test_negative_notice_period_is_refused():
    with pytest.raises(ValueError, match="notice_period_days"):
        plan(date(2026, 12, 31), notice=-1)


@pytest.mark.parametrize(
    ("today", "overdue"),
    [
        (date(2026, 5, 1), []),
        (date(2026, 5, 2), []),  # due today is not overdue
        (date(2026, 5, 3), [GATHER]),
        (date(2026, 8, 2), [GATHER]),
        (date(2026, 8, 3), [GATHER, DISCUSS]),
        (date(2026, 10, 3), [GATHER, DISCUSS, FINAL]),
        (date(2026, 12, 31), [GATHER, DISCUSS, FINAL]),  # the last day is not expired yet
        (date(2027, 1, 1), [GATHER, DISCUSS, FINAL, EXPIRY]),
    ],
)
def test_overdue_marks_only_milestones_strictly_before_today(today, overdue):
    p = plan(date(2026, 12, 31), notice=90, today=today)
    assert [m.kind for m in p.milestones if m.overdue_at_planning] == overdue
    assert p.planned_on == today


@pytest.mark.parametrize(
    ("today", "expired"),
    [
        (date(2026, 12, 30), False),
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), True),
        (date(2030, 6, 1), True),
    ],
)
def test_expired_at_planning_only_after_the_end_date(today, expired):
    p = plan(date(2026, 12, 31), notice=30, today=today)
    assert p.expired_at_planning is expired
    assert p.get(EXPIRY).overdue_at_planning is expired


def test_custom_offsets():
    policy = RenewalPolicy(offsets_months=(9, 4, 2))
    p = plan(date(2027, 12, 31), notice=30, policy=policy)
    assert dues(p) == {
        GATHER: date(2027, 3, 31),
        DISCUSS: date(2027, 8, 31),
        FINAL: date(2027, 10, 31),
        EXPIRY: date(2027, 12, 31),
    }


def test_custom_offsets_with_a_long_notice_period_keep_their_spacing():
    policy = RenewalPolicy(offsets_months=(9, 4, 2))
    p = plan(date(2027, 12, 31), notice=90, policy=policy)  # deadline 2 Oct
    assert dues(p) == {
        GATHER: date(2027, 3, 2),
        DISCUSS: date(2027, 8, 2),
        FINAL: date(2027, 10, 2),
        EXPIRY: date(2027, 12, 31),
    }


def test_default_policy_is_six_three_one():
    assert RenewalPolicy().offsets_months == (6, 3, 1)
    assert plan(date(2026, 12, 31)) == plan(date(2026, 12, 31), policy=RenewalPolicy())


@pytest.mark.parametrize(
    "offsets",
    [(3, 3, 1), (6, 3, 3), (1, 3, 6), (6, 1, 3), (6, 3, 0), (6, 3, -1), (37, 3, 1)],
)
def test_policy_refuses_offsets_that_are_not_strictly_decreasing_and_positive(offsets):
    with pytest.raises(ValidationError, match="offset"):
        RenewalPolicy(offsets_months=offsets)


def test_policy_accepts_the_largest_first_offset():
    assert RenewalPolicy(offsets_months=(36, 2, 1)).offsets_months == (36, 2, 1)


def test_plan_get_finds_every_kind():
    p = plan(date(2026, 12, 31))
    assert [p.get(k).kind for k in KINDS] == list(KINDS)
    assert [m.kind for m in p.milestones] == list(KINDS)


@pytest.mark.parametrize(
    ("end_date", "months", "expected"),
    [
        (date(2027, 2, 28), 12, date(2028, 2, 29)),  # month end stays month end into a leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 4, 30), 12, date(2027, 4, 30)),
        (date(2026, 4, 30), 1, date(2026, 5, 31)),  # a month-end contract
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
        (date(2026, 1, 15), 12, date(2027, 1, 15)),
        (date(2026, 1, 30), 1, date(2026, 2, 28)),  # clamped, not a month-end contract
        (date(2026, 3, 30), 1, date(2026, 4, 30)),
        (date(2026, 5, 30), 1, date(2026, 6, 30)),
    ],
)
def test_next_term_end(end_date, months, expected):
    assert next_term_end(end_date, months) == expected


# --- properties -----------------------------------------------------------------------------

month_ends = st.builds(
    lambda y, m: date(y, m, last_day(y, m)),
    st.integers(min_value=2001, max_value=2099),
    st.integers(min_value=1, max_value=12),
)
# Month ends are where relativedelta clamps, so they get half the examples.
end_dates = st.one_of(
    st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)), month_ends
)
notice_days = st.integers(min_value=0, max_value=3650)


@st.composite
def policies(draw: st.DrawFn) -> RenewalPolicy:
    final = draw(st.integers(min_value=1, max_value=12))
    discuss = draw(st.integers(min_value=final + 1, max_value=24))
    gather = draw(st.integers(min_value=discuss + 1, max_value=36))
    return RenewalPolicy(offsets_months=(gather, discuss, final))


@st.composite
def plans(draw: st.DrawFn) -> tuple[MilestonePlan, date, int, date, RenewalPolicy]:
    end = draw(end_dates)
    policy = draw(st.one_of(st.just(RenewalPolicy()), policies()))
    if draw(st.booleans()):
        notice = draw(notice_days)
    else:
        # Near the boundary where the notice deadline meets the final-terms date: the
        # interesting plans (and the month-end clamping bugs) live within a few days of it.
        final_nominal = end - relativedelta(months=policy.offsets_months[-1])
        notice = max(0, (end - final_nominal).days + draw(st.integers(min_value=-3, max_value=3)))
    today = end + timedelta(days=draw(st.integers(min_value=-4000, max_value=400)))
    p = plan_milestones(end_date=end, notice_period_days=notice, today=today, policy=policy)
    return p, end, notice, today, policy


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@PROPERTY_SETTINGS
@given(plans())
def test_milestones_are_in_strict_date_order(case):
    p, end, *_ = case
    assert [m.kind for m in p.milestones] == list(KINDS)
    g, d, f, e = (m.due for m in p.milestones)
    assert g < d < f <= e
    assert e == end == p.end_date


@PROPERTY_SETTINGS
@given(plans())
def test_no_milestone_after_the_end_date(case):
    p, end, *_ = case
    assert all(m.due <= end for m in p.milestones)


@PROPERTY_SETTINGS
@given(plans())
def test_final_terms_on_or_before_the_notice_deadline(case):
    p, end, notice, *_ = case
    assert p.notice_deadline == end - timedelta(days=notice)
    assert p.get(FINAL).due <= p.notice_deadline


@PROPERTY_SETTINGS
@given(plans())
def test_due_never_after_nominal_and_nominal_is_the_plain_offset(case):
    p, end, _notice, _today, policy = case
    for m, offset in zip(p.milestones, policy.offsets_months, strict=False):
        assert m.nominal == end - relativedelta(months=offset)
        assert m.due <= m.nominal
        assert m.moved_for_notice == (m.due < m.nominal)
    expiry = p.get(EXPIRY)
    assert expiry.due == expiry.nominal == end
    assert not expiry.moved_for_notice


@PROPERTY_SETTINGS
@given(plans())
def test_plan_moves_only_when_final_terms_would_miss_the_notice_deadline(case):
    p, _end, _notice, _today, policy = case
    final = p.get(FINAL)
    if final.nominal <= p.notice_deadline:
        assert all(m.due == m.nominal for m in p.milestones)
    else:
        # Re-anchored on the deadline with the same spacing; the earlier date wins.
        assert final.due == p.notice_deadline
        for m, offset in zip(p.milestones, policy.offsets_months, strict=False):
            anchored = p.notice_deadline - relativedelta(months=offset - policy.offsets_months[-1])
            assert m.due == min(m.nominal, anchored)


@PROPERTY_SETTINGS
@given(end_dates, policies())
def test_month_end_clamping(end, policy):
    p = plan_milestones(end_date=end, notice_period_days=0, today=LONG_AGO, policy=policy)
    for m in p.milestones[:3]:
        n = m.nominal
        days_in_nominal_month = last_day(n.year, n.month)
        if end.day > days_in_nominal_month:
            # e.g. 31 August - 6 months: there is no 31 February, so the last day of February.
            assert n.day == days_in_nominal_month
        else:
            assert n.day == end.day
        if is_month_end(end) and days_in_nominal_month < end.day:
            assert is_month_end(n)


@PROPERTY_SETTINGS
@given(plans())
def test_overdue_flags_equal_due_before_today(case):
    p, end, _notice, today, _policy = case
    assert p.planned_on == today
    for m in p.milestones:
        assert m.overdue_at_planning == (m.due < today)
    assert p.expired_at_planning == (today > end)


@PROPERTY_SETTINGS
@given(end_dates, st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=30))
def test_longer_notice_never_makes_a_milestone_later(end, notice, extra):
    shorter = plan_milestones(end_date=end, notice_period_days=notice, today=LONG_AGO)
    longer = plan_milestones(end_date=end, notice_period_days=notice + extra, today=LONG_AGO)
    for a, b in zip(shorter.milestones, longer.milestones, strict=True):
        assert b.due <= a.due


@PROPERTY_SETTINGS
@given(end_dates, st.integers(min_value=1, max_value=120))
def test_next_term_end_keeps_month_ends(end, months):
    following = next_term_end(end, months)
    shifted = end + relativedelta(months=months)
    assert (following.year, following.month) == (shifted.year, shifted.month)
    if is_month_end(end):
        assert is_month_end(following)
    else:
        assert following.day == min(end.day, last_day(following.year, following.month))
    assert following > end
