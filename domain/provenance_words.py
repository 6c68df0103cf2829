"""Where each date of a term's plan comes from, in English or Japanese: the one place that reads
the steps the planner stores (the contract page and the calendar feed both word them here).

The plan stores its provenance as the steps the planner took, written in English by
:mod:`domain.milestones` and :mod:`domain.calendars` (end date, minus the notice period, a
holiday or weekend skipped, the transit buffer). :func:`step_words` puts one stored step into the
reader's language with the glossary's words (../shared/domain/glossary.md), the holiday's name
from the jurisdiction's own calendar. It never computes a date (renewal-semantics.md §1). The web
contract page words them with it too (web/contract_provenance.py), its dates in the page's locale.
"""

import re
from collections.abc import Callable
from datetime import date
from functools import cache, partial
from typing import Any

import holidays

from domain.phrases import format_date
from models.jurisdictions import split_jurisdiction

__all__ = ["FROM_STATUS", "closed_reason_words", "step_words"]

# The step a plan restored from a running renewal's status carries instead of the planner's own
# (services.plans' backfill writes it).
FROM_STATUS = "as the running renewal reported it (renewals plans backfill)"

_WEEKDAYS: dict[str, str] = {
    "Monday": "月曜日",
    "Tuesday": "火曜日",
    "Wednesday": "水曜日",
    "Thursday": "木曜日",
    "Friday": "金曜日",
    "Saturday": "土曜日",
    "Sunday": "日曜日",
}
_HOLIDAY = "public holiday: "
_CLOSURES: dict[str, tuple[str, str]] = {
    "year-end closure": ("year-end closure", "年末年始休業"),
    "organisation closure day": ("organisation closure day", "社内休業日"),
}
_DATE = r"(\d{4}-\d{2}-\d{2})"


# How a day is written: the caller's format (a page's locale), else domain.phrases'; the rules
# get it for the ISO dates the steps store.
DayFormat = Callable[[date], str]
_IsoDay = Callable[[str], str]


def _plural(num: int, one: str, many: str) -> str:
    return one if num == 1 else many


@cache
def _holiday_table(jurisdiction: str, language: str | None) -> Any:
    country, subdivision = split_jurisdiction(jurisdiction)
    return holidays.country_holidays(country, subdiv=subdivision, language=language)


def _japanese_holiday(stored: str, day: str, jurisdiction: str) -> str | None:
    """The holiday's Japanese name when the jurisdiction's holiday table has one, and only when
    that table still names the day as the stored name does."""
    try:
        table = _holiday_table(jurisdiction, None)
        when = date.fromisoformat(day)
        if "ja" not in table.supported_languages or table.get(when) != stored:
            return None
        local = _holiday_table(jurisdiction, "ja").get(when)
    except (NotImplementedError, KeyError, ValueError):
        return None
    return str(local) if local else None


def closed_reason_words(reason: str, day: str, jurisdiction: str, language: str) -> str:
    """Why a skipped day was not a business day (:meth:`BusinessCalendar.why_closed`'s words).
    In Japanese a holiday whose name the tables have only in another language is "祝日"."""
    ja = language == "ja"
    if reason in _WEEKDAYS:
        return _WEEKDAYS[reason] if ja else reason
    if reason.startswith(_HOLIDAY):
        name = reason.removeprefix(_HOLIDAY)
        if not ja:
            return reason
        local = _japanese_holiday(name, day, jurisdiction)
        return f"祝日：{local}" if local else "祝日"
    if reason in _CLOSURES:
        return _CLOSURES[reason][1 if ja else 0]
    return "営業日ではない日" if ja else reason


def _end_minus_notice(m: re.Match[str], lang: str, _where: str, day: _IsoDay) -> str:
    num = int(m[2])
    if lang == "ja":
        return f"契約満了日 {day(m[1])} から解約予告期間（{num}日）を差し引き"
    days = _plural(num, f"{num} day", f"{num} days")
    return f"End date {day(m[1])} minus the notice period ({days})"


def _rolled_back(m: re.Match[str], lang: str, where: str, day: _IsoDay) -> str:
    reason = closed_reason_words(m[2], m[1], m[3] or where, lang)
    skipped = day(m[1])
    if lang == "ja":
        place = f" {m[3]} の" if m[3] else ""
        return f"{skipped} は{place}営業日ではないため前倒し（{reason}）"
    place = f" in {m[3]}" if m[3] else ""
    return f"Moved back past {skipped}, not a business day{place}: {reason}"


def _months_before(m: re.Match[str], lang: str, _where: str, day: _IsoDay) -> str:
    num = int(m[2])
    end, on = day(m[1]), day(m[3])
    if lang == "ja":
        return f"契約満了日 {end} の{num}か月前：{on}"
    return f"End date {end} minus {num} {_plural(num, 'month', 'months')}: {on}"


def _moved_for_send_by(m: re.Match[str], lang: str, _where: str, day: _IsoDay) -> str:
    num = int(m[2])
    on, send_by = day(m[1]), day(m[3])
    if lang == "ja":
        return f"{on} に前倒し：解約予告の発送期限（{send_by}）の{num}か月前"
    months = _plural(num, "month", "months")
    return f"Moved to {on}: {num} {months} before the last day to send the notice ({send_by})"


def _notice_deadline(m: re.Match[str], lang: str, _where: str, day: _IsoDay) -> str:
    return f"{'解約予告期限' if lang == 'ja' else 'Notice deadline'} {day(m[1])}"


def _transit_days(m: re.Match[str], lang: str, _where: str, day: _IsoDay) -> str:
    num = int(m[1])
    if lang == "ja":
        return f"通知の到着に要する{num}日（郵送日数）を差し引き"
    days = _plural(num, "day", "days")
    return f"minus {num} {days} for the notice to arrive (transit buffer)"


def _transit_business_days(m: re.Match[str], lang: str, _where: str, day: _IsoDay) -> str:
    num = int(m[1])
    if lang == "ja":
        return f"通知の到着に要する {m[2]} の{num}営業日（郵送日数）を差し引き"
    days = _plural(num, "business day", "business days")
    return f"minus {num} {days} in {m[2]} for the notice to arrive (transit buffer)"


# The sentences domain.milestones stores as a date's provenance, matched whole.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], str, str, _IsoDay], str]], ...] = (
    (re.compile(rf"end date {_DATE} - (\d+) days notice"), _end_minus_notice),
    (
        re.compile(rf"rolled back past {_DATE} (.+?)(?: \(([A-Z]{{2}}(?:-[A-Z0-9]+)?)\))?"),
        _rolled_back,
    ),
    (re.compile(rf"end date {_DATE} - (\d+) month\(s\) = {_DATE}"), _months_before),
    (
        re.compile(rf"moved to {_DATE}: (\d+) month\(s\) before the send-by date {_DATE}"),
        _moved_for_send_by,
    ),
    (re.compile(rf"notice deadline {_DATE}"), _notice_deadline),
    (re.compile(r"- (\d+) day\(s\) for the notice to arrive"), _transit_days),
    (
        re.compile(r"- (\d+) business day\(s\) for the notice to arrive \(([^)]+)\)"),
        _transit_business_days,
    ),
)


def step_words(
    stored: str, language: str, jurisdiction: str, *, day: DayFormat | None = None
) -> str | None:
    """One stored provenance step in ``language`` ("ja", else English); None for a step this
    module does not know (a newer worker's), which the caller shows as stored or leaves out.
    ``jurisdiction``: the contract's, for a holiday's name when the step does not say whose
    calendar it was; ``day``: how a date is written (a page's locale), else
    :func:`domain.phrases.format_date`'s."""
    lang = "ja" if language == "ja" else "en"
    write: DayFormat = day if day is not None else partial(format_date, language=lang)

    def iso_day(iso: str) -> str:
        return write(date.fromisoformat(iso))

    if stored == "end date":
        return "契約満了日" if lang == "ja" else "The contract's end date"
    if stored == FROM_STATUS:
        ja = "実行中の更新手続きの報告どおり"
        return ja if lang == "ja" else "As the running renewal reported it"
    for pattern, words in _RULES:
        found = pattern.fullmatch(stored)
        if found is not None:
            return words(found, lang, jurisdiction, iso_day)
    return None
