"""The .ics feed parses back as valid iCalendar with one all-day event per planned date."""

import re
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from services.calendar_feed import (
    _Event,
    _vevent,
    build_feed,
    owner_languages,
    planned_for_feed,
)
from services.plans import PlannedContract
from store import users
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.web_i18n_helpers import english_left

STAMP = datetime(2027, 1, 1, tzinfo=UTC)


def _planned(session: Session, owner: str | None = None) -> list[PlannedContract]:
    return planned_for_feed(
        session,
        owner=owner,
        today=date(2027, 1, 1),
        cfg=CalendarSettings(),
        policy=RenewalPolicy(),
    )


def test_feed_has_calendar_aware_milestones_and_deadlines(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        register(
            s,
            id="C-ICS",
            end_date=date(2027, 12, 31),
            notice_period_days=90,
            title="包装資材 {{7*7}}",
        )
        register(
            s,
            id="C-AUTO",
            end_date=date(2027, 12, 31),
            notice_period_days=90,
            term_model="auto_renewing",
        )
        register(s, id="C-OTHER", owner="someone-else@example.com")
        planned = _planned(s, owner="procurement@example.com")
    assert [p.contract.id for p in planned] == ["C-AUTO", "C-ICS"]

    cal = Calendar.from_ical(build_feed(planned, generated_at=STAMP))
    assert cal["VERSION"] == "2.0" and "PRODID" in cal
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert {uid for uid in events if uid.startswith("C-ICS")} == {
        "C-ICS-term1-gather_facts@contract-renewals",
        "C-ICS-term1-first_discussion@contract-renewals",
        "C-ICS-term1-final_terms@contract-renewals",
        "C-ICS-term1-expiry@contract-renewals",
        "C-ICS-term1-notice-deadline@contract-renewals",
    }
    # Auto-renewing contracts also get the last day to post a notice.
    assert "C-AUTO-term1-send_by@contract-renewals" in events
    notice = events["C-ICS-term1-notice-deadline@contract-renewals"]
    # 31 Dec - 90 days = Saturday 2 Oct 2027 -> Friday 1 Oct (Japanese business calendar).
    assert notice.decoded("DTSTART") == date(2027, 10, 1)
    assert notice["DTSTART"].params.get("VALUE") == "DATE"
    assert "Saturday" in str(notice["DESCRIPTION"])
    final = events["C-ICS-term1-final_terms@contract-renewals"]
    # Three business days for the post before the deadline: Tuesday 28 Sep.
    assert final.decoded("DTSTART") == date(2027, 9, 28)
    assert "moved earlier" in str(final["DESCRIPTION"])
    assert "包装資材 {{7*7}}" in str(final["SUMMARY"])
    for event in events.values():
        assert "DTSTAMP" in event


def test_feed_is_folded_and_stable_between_exports(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        register(s, id="C-STABLE")
        planned = _planned(s)
    raw = build_feed(planned, generated_at=STAMP)
    assert raw == build_feed(planned, generated_at=STAMP)
    # CRLF line endings and folded lines no longer than 75 octets, as RFC 5545 requires.
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))


def test_a_persons_feed_is_written_in_the_language_they_chose(sessions: SessionFactory) -> None:
    """One person's feed (their calendar link) reads in their language whatever each contract's
    is; without a choice, each event keeps its contract's language. The UIDs do not change."""
    with transaction(sessions) as s:
        register(s, id="C-LANG-EN", language="en", owner="reader@example.com")
        register(s, id="C-LANG-JA", language="ja", owner="reader@example.com")
        planned = _planned(s, owner="reader@example.com")

    def summaries(language: str | None) -> dict[str, str]:
        feed = build_feed(planned, generated_at=STAMP, language=language)
        return {str(e["UID"]): str(e["SUMMARY"]) for e in Calendar.from_ical(feed).walk("VEVENT")}

    own = summaries(None)
    japanese, english = summaries("ja"), summaries("en")
    assert own.keys() == japanese.keys() == english.keys()
    expiry = "C-LANG-EN-term1-expiry@contract-renewals"
    assert own[expiry].startswith("End date") and japanese[expiry].startswith("契約満了日")
    assert own["C-LANG-JA-term1-expiry@contract-renewals"].startswith("契約満了日")
    assert english["C-LANG-JA-term1-expiry@contract-renewals"].startswith("End date")


@settings(max_examples=200, deadline=None)
@given(
    summary=st.text(
        st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n;,\\:"), max_size=200
    ),
    description=st.text(
        st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n;,\\:"), max_size=400
    ),
)
def test_written_events_parse_back_to_their_text(summary: str, description: str) -> None:
    """The feed is written without icalendar's component objects (they cost ~0.25 ms an
    event): what icalendar reads back is each text as given, whatever its characters, with no
    line over 75 octets and no UTF-8 character cut by a fold."""
    event = _Event("C-X-term1-expiry@contract-renewals", date(2027, 3, 31), summary, description)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
    raw = (head + _vevent(event, "20270101T000000Z") + "END:VCALENDAR\r\n").encode("utf-8")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    raw.decode("utf-8")  # every fold between whole characters
    (parsed,) = Calendar.from_ical(raw).walk("VEVENT")
    assert str(parsed["SUMMARY"]) == summary
    assert str(parsed["DESCRIPTION"]) == description
    assert parsed.decoded("DTSTART") == date(2027, 3, 31)
    assert parsed.decoded("DTEND") == date(2027, 4, 1)


def test_events_are_in_their_owners_language_link_to_the_contract_and_remind_before_deadlines(
    sessions: SessionFactory,
) -> None:
    """A shared feed writes each contract's events in its owner's chosen language (else the
    contract's), links each to the contract's page, and puts two reminders on the send-by date
    and the notice deadline: 09:00 fourteen days before and 09:00 the day before."""
    with transaction(sessions) as s:
        users.create_user(
            s, username="Yamada@Example.com", display_name="山田", roles="procurement"
        )
        users.get_user_row(s, username="yamada@example.com").language = "ja"
        register(s, id="C-OWNED-JA", language="en", owner="yamada@example.com")
        register(s, id="C-NO-CHOICE", language="en", owner="nobody@example.com")
        register(
            s,
            id="C-ROLL",
            language="en",
            owner="nobody@example.com",
            term_model="auto_renewing",
            end_date=date(2027, 12, 31),
            notice_period_days=90,
        )
        planned = _planned(s)
        languages = owner_languages(s, planned)
    assert languages == {"yamada@example.com": "ja"}
    feed = build_feed(
        planned,
        generated_at=STAMP,
        owner_languages=languages,
        base_url="https://renewals.example.com/",
    )
    events = {str(e["UID"]): e for e in Calendar.from_ical(feed).walk("VEVENT")}
    assert str(events["C-OWNED-JA-term1-expiry@contract-renewals"]["SUMMARY"]).startswith(
        "契約満了日"
    )
    assert str(events["C-NO-CHOICE-term1-expiry@contract-renewals"]["SUMMARY"]).startswith(
        "End date"
    )
    for uid, event in events.items():
        contract = uid.split("-term")[0]
        assert str(event["URL"]) == f"https://renewals.example.com/contracts/{contract}"
        alarms = event.walk("VALARM")
        deadline = uid.endswith(
            ("-send_by@contract-renewals", "-notice-deadline@contract-renewals")
        )
        if not deadline:
            assert alarms == [], uid
            continue
        assert [a.decoded("TRIGGER") for a in alarms] == [
            -timedelta(days=13, hours=15),
            -timedelta(hours=15),
        ], uid
        assert all(str(a["ACTION"]) == "DISPLAY" for a in alarms)
        assert all(str(a["DESCRIPTION"]) == str(event["SUMMARY"]) for a in alarms)
    assert "C-ROLL-term1-send_by@contract-renewals" in events
    # Without the web app's address nothing links anywhere.
    bare = Calendar.from_ical(build_feed(planned, generated_at=STAMP))
    assert all("URL" not in e for e in bare.walk("VEVENT"))


def _texts(feed: bytes) -> dict[str, list[str]]:
    """Each event's summary, description and reminders, unfolded and unescaped (icalendar)."""
    return {
        str(e["UID"]): [
            str(e["SUMMARY"]),
            str(e["DESCRIPTION"]),
            *(str(a["DESCRIPTION"]) for a in e.walk("VALARM")),
        ]
        for e in Calendar.from_ical(feed).walk("VEVENT")
    }


def test_a_japanese_feed_is_wholly_japanese_and_an_english_one_english(
    sessions: SessionFactory,
) -> None:
    """Where each date comes from (notice period, a weekend or holiday skipped, the transit
    buffer) reads in the feed's language with the glossary's words: nothing English is left in a
    Japanese feed, not even a US holiday's name; an English feed keeps its English."""
    title = "包装資材の年間契約"
    with transaction(sessions) as s:
        # 31 Dec - 90 days = Saturday 2 Oct 2027: rolled back; three business days' transit.
        register(
            s,
            id="C-JA-WORDS",
            title=title,
            end_date=date(2027, 12, 31),
            notice_period_days=90,
            term_model="auto_renewing",
        )
        # 4 Jan 2028 - 3 days = Saturday 1 Jan 2028, New Year's Day in the US too.
        register(
            s,
            id="C-US-WORDS",
            title=title,
            end_date=date(2028, 1, 4),
            notice_period_days=3,
            jurisdiction="US",
        )
        # 3 Dec - 30 days = Wednesday 3 Nov 2027, Culture Day in Japan.
        register(
            s,
            id="C-JP-HOLIDAY",
            title=title,
            end_date=date(2027, 12, 3),
            notice_period_days=30,
        )
        planned = _planned(s)
    owners = {p.contract.owner for p in planned}
    suppliers = {p.contract.supplier_id for p in planned}
    ids = {p.contract.id for p in planned}
    titles = {p.contract.title for p in planned}
    allowed = [*owners, *suppliers, *ids, *titles, "JP", "US"]

    japanese = _texts(build_feed(planned, generated_at=STAMP, language="ja"))
    assert japanese
    for uid, texts in japanese.items():
        for text in texts:
            assert english_left(text, allowed=allowed) == [], (uid, text)
    notice = japanese["C-JA-WORDS-term1-notice-deadline@contract-renewals"][1]
    assert "解約予告期間" in notice and "土曜日" in notice and "2027年10月2日" in notice
    send_by = japanese["C-JA-WORDS-term1-send_by@contract-renewals"][1]
    assert "郵送日数" in send_by
    us = japanese["C-US-WORDS-term1-notice-deadline@contract-renewals"][1]
    assert "祝日" in us and "New Year" not in us
    holiday = japanese["C-JP-HOLIDAY-term1-notice-deadline@contract-renewals"][1]
    assert "2027年11月3日" in holiday and "祝日：文化の日" in holiday

    english = _texts(build_feed(planned, generated_at=STAMP, language="en"))
    assert english.keys() == japanese.keys()
    notice_en = english["C-JA-WORDS-term1-notice-deadline@contract-renewals"][1]
    assert "minus the notice period (90 days)" in notice_en and "Saturday" in notice_en
    assert "transit buffer" in english["C-JA-WORDS-term1-send_by@contract-renewals"][1]
    assert "New Year's Day" in english["C-US-WORDS-term1-notice-deadline@contract-renewals"][1]
    holiday_en = english["C-JP-HOLIDAY-term1-notice-deadline@contract-renewals"][1]
    assert "not a business day in JP: public holiday: Culture Day" in holiday_en
    for texts in english.values():
        assert not any(
            re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t.replace(title, "")) for t in texts
        )
