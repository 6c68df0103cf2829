"""Business calendars and legally safe deadlines: golden cases worked out by hand."""

from datetime import UTC, date, datetime

import pytest

from domain.calendars import BusinessCalendar
from domain.milestones import next_review_date, plan_milestones
from domain.term_plan import CalendarSettings, term_plan
from models.contract import ContractRead, ContractStatus, DefaultAction, TermModel
from models.errors import InvalidInput
from models.jurisdictions import UnknownJurisdiction, validate_jurisdiction
from models.milestones import MilestoneKind, RenewalPolicy
from models.renewal import PlanRequest
from store.contracts import parse_contract
from tests.factories import contract_data

JP = BusinessCalendar.for_jurisdiction("JP")


@pytest.mark.parametrize(
    ("deadline", "expected", "reason"),
    [
        # Golden Week 2026: 5/3 (Sun) Constitution Day, 5/4, 5/5, and 5/6 振替休日.
        (date(2026, 5, 6), date(2026, 5, 1), "Substitute Holiday"),
        # Silver Week 2026: 9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日, after a weekend.
        (date(2026, 9, 23), date(2026, 9, 18), "National Holiday"),
        # Year-end closure 12/29-1/3 (configurable, on by default for Japan).
        (date(2027, 1, 3), date(2026, 12, 28), "year-end closure"),
        # A plain Wednesday stays.
        (date(2027, 6, 16), date(2027, 6, 16), None),
    ],
)
def test_japanese_deadlines_roll_back_to_the_previous_business_day(
    deadline: date, expected: date, reason: str | None
) -> None:
    day, skipped = JP.on_or_before(deadline)
    assert day == expected
    if reason is None:
        assert skipped == []
    else:
        assert any(reason in s for s in skipped), skipped


def test_year_end_closure_can_be_turned_off() -> None:
    cal = BusinessCalendar.for_jurisdiction("JP", year_end_closure=False)
    # 1/3 Sunday, 1/2 Saturday, 1/1 元日 -> 12/31 Thursday.
    assert cal.on_or_before(date(2027, 1, 3))[0] == date(2026, 12, 31)


def test_organisation_closure_days() -> None:
    cal = BusinessCalendar.for_jurisdiction("JP", closures=[date(2027, 8, 13), date(2027, 8, 12)])
    day, skipped = cal.on_or_before(date(2027, 8, 13))
    assert day == date(2027, 8, 10)  # 8/11 山の日 too
    assert "organisation closure day" in skipped[0]


def test_us_and_eu_holidays() -> None:
    us = BusinessCalendar.for_jurisdiction("US")
    # 4 July 2027 is a Sunday; Independence Day is observed on Monday 5 July.
    assert us.on_or_before(date(2027, 7, 5))[0] == date(2027, 7, 2)
    bavaria = BusinessCalendar.for_jurisdiction("DE-BY")
    assert bavaria.on_or_before(date(2027, 1, 6))[0] == date(2027, 1, 5)  # Heilige Drei Könige
    berlin = BusinessCalendar.for_jurisdiction("DE-BE")
    assert berlin.on_or_before(date(2027, 1, 6))[0] == date(2027, 1, 6)  # not a holiday there


def test_business_days_count_skips_holidays() -> None:
    # 3 business days before Monday 2026-05-11 in Japan: 5/8, 5/7, and 5/1 (5/4-5/6 holidays).
    assert JP.business_days_before(date(2026, 5, 11), 3) == date(2026, 5, 1)
    assert JP.business_days_after(date(2026, 5, 1), 1) == date(2026, 5, 7)


def test_unknown_jurisdictions_are_refused() -> None:
    with pytest.raises(UnknownJurisdiction, match="unknown jurisdiction 'XX'"):
        validate_jurisdiction("XX")
    with pytest.raises(UnknownJurisdiction, match="unknown region 'ZZ'"):
        validate_jurisdiction("US-ZZ")
    assert validate_jurisdiction("us-ny") == "US-NY"


def test_send_by_date_and_provenance() -> None:
    plan = plan_milestones(
        end_date=date(2027, 12, 31),
        notice_period_days=90,  # 2 Oct 2027, a Saturday
        today=date(2027, 1, 1),
        calendar=JP,
        transit_buffer_days=3,
        time_zone="Asia/Tokyo",
        safe_default=True,
    )
    assert plan.notice_deadline == date(2027, 10, 1)  # Friday
    assert any("Saturday" in p for p in plan.notice_provenance)
    # Three business days for the post: 9/30, 9/29, 9/28.
    assert plan.send_by == date(2027, 9, 28)
    assert "3 business day(s)" in plan.send_by_provenance[-1]
    final = plan.get(MilestoneKind.FINAL_TERMS)
    assert final.due == plan.send_by and final.moved_for_notice
    send_by = plan.get(MilestoneKind.SEND_BY)
    assert send_by.due == date(2027, 9, 28)
    assert [m.kind for m in plan.milestones][-2:] == [MilestoneKind.SEND_BY, MilestoneKind.EXPIRY]
    # 09:00 in Tokyo is 00:00 UTC.
    assert final.fires_at == datetime(2027, 9, 28, 0, 0, tzinfo=UTC)
    gather = plan.get(MilestoneKind.GATHER_FACTS)
    assert any("moved to" in p for p in gather.provenance)


def test_leap_year_milestone_on_a_weekend_rolls_back() -> None:
    plan = plan_milestones(
        end_date=date(2028, 2, 29), notice_period_days=0, today=date(2027, 1, 1), calendar=JP
    )
    # 29 Feb 2028 - 1 month = 29 Jan 2028, a Saturday -> Friday 28 Jan.
    assert plan.get(MilestoneKind.FINAL_TERMS).due == date(2028, 1, 28)
    # - 6 months = 29 Aug 2027, a Sunday -> Friday 27 Aug.
    assert plan.get(MilestoneKind.GATHER_FACTS).due == date(2027, 8, 27)


@pytest.mark.parametrize(
    ("zone", "due_day", "utc_hour"),
    [
        ("America/New_York", date(2027, 3, 12), 14),  # EST, before DST starts on 14 March
        ("America/New_York", date(2027, 3, 15), 13),  # EDT
        ("Europe/Berlin", date(2027, 10, 29), 7),  # CEST, before DST ends on 31 October
        ("Europe/Berlin", date(2027, 11, 1), 8),  # CET
    ],
)
def test_timers_fire_at_the_local_hour_across_dst(zone: str, due_day: date, utc_hour: int) -> None:
    # One month's notice... choose the end date so that final terms falls on due_day.
    from dateutil.relativedelta import relativedelta

    plan = plan_milestones(
        end_date=due_day + relativedelta(months=1),
        notice_period_days=0,
        today=date(2027, 1, 1),
        time_zone=zone,
    )
    final = plan.get(MilestoneKind.FINAL_TERMS)
    assert final.due == due_day
    assert final.fires_at == datetime(
        due_day.year, due_day.month, due_day.day, utc_hour, tzinfo=UTC
    )


def test_evergreen_review_cycles() -> None:
    assert next_review_date(date(2020, 4, 1), 12, date(2026, 11, 23)) == date(2027, 4, 1)
    assert next_review_date(date(2020, 4, 1), 6, date(2026, 11, 23)) == date(2027, 4, 1)
    assert next_review_date(date(2026, 1, 31), 1, date(2026, 2, 10)) == date(2026, 2, 28)
    assert next_review_date(date(2020, 4, 1), 12, date(2027, 4, 1)) == date(2027, 4, 1)


def _read(**overrides: object) -> ContractRead:
    data = contract_data(**overrides)
    data.pop("id")
    return ContractRead.model_validate(
        {**data, "id": "C-1", "current_term": 1, "status": ContractStatus.ACTIVE}
    )


def _term_plan(contract: ContractRead, cfg: CalendarSettings | None = None, category: str = ""):
    return term_plan(
        contract,
        category=category,
        today=date(2027, 1, 1),
        cfg=cfg or CalendarSettings(),
        request=PlanRequest(
            contract_id="C-1", term=1, today=date(2027, 1, 1), policy=RenewalPolicy()
        ),
    )


def test_auto_renewal_counts() -> None:
    unlimited = _term_plan(_read(term_model="auto_renewing"))
    assert unlimited.term_model is TermModel.AUTO_RENEWING and unlimited.renewals_left is None
    assert MilestoneKind.SEND_BY in [m.kind for m in unlimited.plan.milestones]

    one_left = _term_plan(_read(term_model="auto_renewing", max_renewals=3, renewals_used=2))
    assert one_left.term_model is TermModel.AUTO_RENEWING and one_left.renewals_left == 1

    # Its last allowed renewal is behind it: it plans, and ends, as a fixed-term contract.
    exhausted = _term_plan(_read(term_model="auto_renewing", max_renewals=2, renewals_used=2))
    assert exhausted.term_model is TermModel.FIXED
    assert MilestoneKind.SEND_BY not in [m.kind for m in exhausted.plan.milestones]


def test_default_action_contract_then_category_then_organisation() -> None:
    cfg = CalendarSettings(default_action_by_category=(("packaging", DefaultAction.RENEW_AS_IS),))
    auto = _read(term_model="auto_renewing")
    assert _term_plan(auto, cfg, "cleaning").default_action is DefaultAction.NON_RENEWAL
    assert _term_plan(auto, cfg, "packaging").default_action is DefaultAction.RENEW_AS_IS
    explicit = _read(term_model="auto_renewing", default_action="non_renewal")
    assert _term_plan(explicit, cfg, "packaging").default_action is DefaultAction.NON_RENEWAL


def test_evergreen_plans_its_review_like_an_expiry_with_a_send_by() -> None:
    plan = _term_plan(_read(term_model="evergreen", review_period_months=6))
    assert plan.term_model is TermModel.EVERGREEN and plan.next_term_months == 6


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"jurisdiction": "XX"}, "jurisdiction", "unknown jurisdiction 'XX'"),
        ({"jurisdiction": "US-ZZ"}, "jurisdiction", "unknown region"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown IANA time zone"),
        ({"transit_buffer_days": -1}, "transit_buffer_days", "greater than or equal to 0"),
        ({"notice_period_days": -5}, "notice_period_days", "greater than or equal to 0"),
        (
            {
                "start_date": date(2027, 1, 1),
                "end_date": date(2027, 3, 1),
                "notice_period_days": 90,
            },
            "notice_period_days",
            "longer than the term (59 days",
        ),
        ({"end_date": None}, "end_date", "required unless term_model is evergreen"),
        (
            {"max_renewals": 1, "renewals_used": 2, "term_model": "auto_renewing"},
            "renewals_used",
            "2 exceeds max_renewals 1",
        ),
    ],
)
def test_bad_calendar_input_names_the_field(
    overrides: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_contract(contract_data(**overrides), row=4)
    errors = [(e.field, e.reason, e.row) for e in caught.value.errors]
    assert any(f == field and reason in r and row == 4 for f, r, row in errors), errors


def test_evergreen_may_omit_its_end_date() -> None:
    contract = parse_contract(contract_data(term_model="evergreen", end_date=None))
    assert contract.end_date is None and contract.term_model is TermModel.EVERGREEN


def test_auto_renewal_flag_implies_the_term_model() -> None:
    assert parse_contract(contract_data(auto_renewal=True)).term_model is TermModel.AUTO_RENEWING
    assert parse_contract(contract_data(term_model="auto_renewing")).auto_renewal is True
