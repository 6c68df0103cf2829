"""Where each date of a term's plan comes from, in the reader's words.

The plan stores its provenance as the steps the planner took, written in English by
``domain/milestones.py`` (end date, minus the notice period, a holiday or weekend skipped, the
transit buffer); this module only puts those stored steps into the reader's language, with the
holiday's name from the jurisdiction's own calendar. It never computes a date
(renewal-semantics.md §1); a step it does not recognise is shown as stored.
"""

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

import holidays

from models.jurisdictions import split_jurisdiction
from services.plans import FROM_STATUS
from web.i18n import Translator

__all__ = ["provenance_text"]


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


_WEEKDAYS: dict[str, str] = {
    "Monday": N_("Monday"),
    "Tuesday": N_("Tuesday"),
    "Wednesday": N_("Wednesday"),
    "Thursday": N_("Thursday"),
    "Friday": N_("Friday"),
    "Saturday": N_("Saturday"),
    "Sunday": N_("Sunday"),
}

_DATE = r"(\d{4}-\d{2}-\d{2})"


def _day(t: Translator, iso: str) -> str:
    return t.date(date.fromisoformat(iso))


@cache
def _holiday_table(jurisdiction: str, language: str | None) -> Any:
    country, subdivision = split_jurisdiction(jurisdiction)
    return holidays.country_holidays(country, subdiv=subdivision, language=language)


def _holiday_name(t: Translator, stored: str, day: str, jurisdiction: str) -> str:
    """The holiday's name in the reader's language when the holiday tables have it, and only
    when the table still names that day as the stored name does (else what was stored)."""
    if t.language == "en":
        return stored
    try:
        table = _holiday_table(jurisdiction, None)
        if t.language not in table.supported_languages or table.get(day) != stored:
            return stored
        local = _holiday_table(jurisdiction, t.language).get(day)
    except (NotImplementedError, KeyError, ValueError):
        return stored
    return str(local) if local else stored


def _closed_reason(t: Translator, reason: str, day: str, jurisdiction: str) -> str:
    """Why a skipped day was not a business day (domain.calendars.why_closed's words)."""
    if reason in _WEEKDAYS:
        return t.gettext(_WEEKDAYS[reason])
    if reason.startswith("public holiday: "):
        name = _holiday_name(t, reason.removeprefix("public holiday: "), day, jurisdiction)
        return t.gettext("public holiday: %(name)s", name=name)
    if reason == "year-end closure":
        return t.gettext("year-end closure")
    if reason == "organisation closure day":
        return t.gettext("organisation closure day")
    return reason


def _rule_end_minus_notice(t: Translator, m: re.Match[str], _where: str) -> str:
    return t.gettext(
        "End date %(end)s minus the notice period (%(days)s)",
        end=_day(t, m[1]),
        days=t.ngettext("%(num)d day", "%(num)d days", int(m[2])),
    )


def _rule_rolled_back(t: Translator, m: re.Match[str], where: str) -> str:
    reason = _closed_reason(t, m[2], m[1], m[3] or where)
    if m[3]:
        return t.gettext(
            "Moved back past %(day)s, not a business day in %(where)s: %(reason)s",
            day=_day(t, m[1]),
            where=m[3],
            reason=reason,
        )
    return t.gettext(
        "Moved back past %(day)s, not a business day: %(reason)s",
        day=_day(t, m[1]),
        reason=reason,
    )


def _rule_months_before(t: Translator, m: re.Match[str], _where: str) -> str:
    return t.ngettext(
        "End date %(end)s minus %(num)d month: %(day)s",
        "End date %(end)s minus %(num)d months: %(day)s",
        int(m[2]),
        end=_day(t, m[1]),
        day=_day(t, m[3]),
    )


def _rule_moved_for_send_by(t: Translator, m: re.Match[str], _where: str) -> str:
    return t.ngettext(
        "Moved to %(day)s: %(num)d month before the last day to send the notice (%(send_by)s)",
        "Moved to %(day)s: %(num)d months before the last day to send the notice (%(send_by)s)",
        int(m[2]),
        day=_day(t, m[1]),
        send_by=_day(t, m[3]),
    )


def _rule_notice_deadline(t: Translator, m: re.Match[str], _where: str) -> str:
    return t.gettext("Notice deadline %(day)s", day=_day(t, m[1]))


def _rule_transit_days(t: Translator, m: re.Match[str], _where: str) -> str:
    return t.ngettext(
        "minus %(num)d day for the notice to arrive (transit buffer)",
        "minus %(num)d days for the notice to arrive (transit buffer)",
        int(m[1]),
    )


def _rule_transit_business_days(t: Translator, m: re.Match[str], _where: str) -> str:
    return t.ngettext(
        "minus %(num)d business day in %(where)s for the notice to arrive (transit buffer)",
        "minus %(num)d business days in %(where)s for the notice to arrive (transit buffer)",
        int(m[1]),
        where=m[2],
    )


# The sentences domain.milestones stores as a date's provenance, matched whole.
_RULES: tuple[tuple[re.Pattern[str], Callable[[Translator, re.Match[str], str], str]], ...] = (
    (re.compile(rf"end date {_DATE} - (\d+) days notice"), _rule_end_minus_notice),
    (
        re.compile(rf"rolled back past {_DATE} (.+?)(?: \(([A-Z]{{2}}(?:-[A-Z0-9]+)?)\))?"),
        _rule_rolled_back,
    ),
    (re.compile(rf"end date {_DATE} - (\d+) month\(s\) = {_DATE}"), _rule_months_before),
    (
        re.compile(rf"moved to {_DATE}: (\d+) month\(s\) before the send-by date {_DATE}"),
        _rule_moved_for_send_by,
    ),
    (re.compile(rf"notice deadline {_DATE}"), _rule_notice_deadline),
    (re.compile(r"- (\d+) day\(s\) for the notice to arrive"), _rule_transit_days),
    (
        re.compile(r"- (\d+) business day\(s\) for the notice to arrive \(([^)]+)\)"),
        _rule_transit_business_days,
    ),
)


def provenance_text(t: Translator, stored: str, jurisdiction: str) -> str:
    """One stored provenance step in the reader's words; a step this page does not know (a
    newer worker's) is shown as stored rather than guessed at. ``jurisdiction``: the
    contract's, for a holiday's name when the step does not say whose calendar it was."""
    if stored == "end date":
        return t.gettext("The contract's end date")
    if stored == FROM_STATUS:
        return t.gettext("As the running renewal reported it")
    for pattern, words in _RULES:
        found = pattern.fullmatch(stored)
        if found is not None:
            return words(t, found, jurisdiction)
    return stored
