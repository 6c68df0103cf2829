"""The .ics feed parses back as valid iCalendar with one all-day event per date."""

from datetime import UTC, date, datetime

from icalendar import Calendar

from activities.calendar_feed import build_feed, contracts_for_feed
from activities.db import SessionFactory, transaction
from tests.factories import register


def test_feed_has_milestones_and_notice_deadline_as_all_day_events(
    sessions: SessionFactory,
) -> None:
    with transaction(sessions) as s:
        register(
            s,
            id="C-ICS",
            end_date=date(2027, 12, 31),
            notice_period_days=90,
            title="包装資材 {{7*7}}",
        )
        register(s, id="C-OTHER", owner="someone-else@example.com")
        contracts = contracts_for_feed(s, owner="procurement@example.com")
    assert [c.id for c in contracts] == ["C-ICS"]

    raw = build_feed(
        contracts, today=date(2027, 1, 1), generated_at=datetime(2027, 1, 1, tzinfo=UTC)
    )
    cal = Calendar.from_ical(raw)
    assert cal["VERSION"] == "2.0" and "PRODID" in cal
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        "C-ICS-term1-gather_facts@contract-renewals",
        "C-ICS-term1-first_discussion@contract-renewals",
        "C-ICS-term1-final_terms@contract-renewals",
        "C-ICS-term1-expiry@contract-renewals",
        "C-ICS-term1-notice-deadline@contract-renewals",
    }
    notice = events["C-ICS-term1-notice-deadline@contract-renewals"]
    assert notice.decoded("DTSTART") == date(2027, 10, 2)
    assert notice["DTSTART"].params.get("VALUE") == "DATE"
    final = events["C-ICS-term1-final_terms@contract-renewals"]
    assert final.decoded("DTSTART") == date(2027, 10, 2)
    assert "moved earlier" in str(final["DESCRIPTION"])
    assert "包装資材 {{7*7}}" in str(final["SUMMARY"])
    for event in events.values():
        assert "DTSTAMP" in event
    # CRLF line endings and folded lines no longer than 75 octets, as RFC 5545 requires.
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)


def test_feed_is_stable_between_exports(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        register(s, id="C-STABLE")
        contracts = contracts_for_feed(s)
    stamp = datetime(2027, 1, 1, tzinfo=UTC)
    assert build_feed(contracts, today=date(2027, 1, 1), generated_at=stamp) == build_feed(
        contracts, today=date(2027, 1, 1), generated_at=stamp
    )
