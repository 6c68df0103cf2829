"""The import service's reasons in the reader's language.

The service explains problems in English (the API and the CLI print them as they are). A
Japanese page says the common ones in Japanese; the rest are shown as written, marked as
English for screen readers. Each pattern's named groups are the message's values.
"""

import re
from dataclasses import dataclass

from web.i18n import Translator

__all__ = ["Reason", "explain"]


def N_(message: str) -> str:
    """A message marked for the catalog, translated where it is shown."""
    return message


# The import service explains problems in English (the API and the CLI print them as they are).
# A Japanese page says the common ones in Japanese; the rest are shown as written, marked as
# English for screen readers. Each pattern's named groups are the message's values.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"required column is missing", N_("required column is missing")),
        (r"column appears twice", N_("the column appears twice")),
        (r"has no name", N_("the column has no name")),
        (r"unknown column \(known: (?P<known>.*)\)", N_("unknown column (known: %(known)s)")),
        (
            r"has (?P<cells>\d+) cells, the header has (?P<columns>\d+)",
            N_("the row has %(cells)s cells, the header has %(columns)s"),
        ),
        (r"Field required", N_("a value is required")),
        (r"Input should be a valid decimal", N_("must be a number")),
        (r"Input should be a valid integer.*", N_("must be a whole number")),
        (r"Input should be a valid (date|datetime).*", N_("must be a date (YYYY-MM-DD)")),
        (
            r"Input should be greater than or equal to (?P<n>\S+)",
            N_("must be at least %(n)s"),
        ),
        (r"Input should be greater than (?P<n>\S+)", N_("must be more than %(n)s")),
        (r"Input should be less than or equal to (?P<n>\S+)", N_("must be at most %(n)s")),
        (r"Input should be less than (?P<n>\S+)", N_("must be less than %(n)s")),
        (
            r"String should have at most (?P<n>\d+) characters?",
            N_("must be at most %(n)s characters long"),
        ),
        (r"contract '(?P<id>[^']*)' already exists", N_("contract %(id)s is already registered")),
        (
            r"unknown supplier '(?P<id>[^']*)' \(import suppliers first\)",
            N_("supplier %(id)s is not registered (import the suppliers first)"),
        ),
        (r"unknown supplier '(?P<id>[^']*)'", N_("supplier %(id)s is not registered")),
        (r"unknown contract '(?P<id>[^']*)'", N_("contract %(id)s is not registered")),
        (
            r"unknown team '(?P<id>[^']*)' \(create it first\)",
            N_("team %(id)s does not exist (create it first)"),
        ),
        (r"(?P<date>\d{4}-\d{2}-\d{2}) is in the future", N_("%(date)s is in the future")),
        (r"is UTF-16.*", N_('the file is UTF-16: save it as UTF-8 (Excel: "CSV UTF-8")')),
        (
            r"not UTF-8 text \(first bad byte on line (?P<line>\d+)\).*Shift_JIS.*",
            N_(
                "the file is not UTF-8 (line %(line)s): it looks like Shift_JIS, which Excel "
                'writes for "CSV" in Japan; save it as "CSV UTF-8" and import it again'
            ),
        ),
        (
            r"not UTF-8 text \(first bad byte on line (?P<line>\d+)\).*",
            N_("the file is not UTF-8 text (line %(line)s): save it as UTF-8 and import it again"),
        ),
        (r"contains a NUL character", N_("the file contains a NUL character")),
        (
            r"the file is empty.*",
            N_("the file is empty; its first row must name the columns"),
        ),
        (
            r"not valid JSON: .* at line (?P<line>\d+), column (?P<column>\d+)",
            N_("not valid JSON (line %(line)s, column %(column)s)"),
        ),
        (r"expected an object", N_("must be a JSON object")),
        (r"expected a JSON list of .*", N_("the file must be a JSON list of records")),
        (r"malformed CSV: .*", N_("the CSV is malformed (check its quotes)")),
        (
            r"must be after start_date (?P<start>\S+) \(got (?P<got>\S+)\)",
            N_("must be after the start date %(start)s (got %(got)s)"),
        ),
        (
            r"required unless term_model is evergreen",
            N_("required unless the contract has no fixed term (evergreen)"),
        ),
        (
            r"(?P<days>\d+) days is longer than the term \((?P<term>\d+) days from start_date "
            r"to end_date\)",
            N_("the notice period (%(days)s days) is longer than the term (%(term)s days)"),
        ),
        (
            r"'?(?P<value>.*?)'? is not a date \(expected YYYY-MM-DD\)",
            N_("%(value)s is not a date (expected YYYY-MM-DD)"),
        ),
        (r"Input should be a finite number", N_("must be a finite number")),
        (
            r"Decimal input should have no more than (?P<n>\d+) decimal places?",
            N_("at most %(n)s decimal places"),
        ),
        (
            r"Decimal input should have no more than (?P<n>\d+) digits? in total",
            N_("at most %(n)s digits in all"),
        ),
        (
            r"unknown currency '(?P<code>[^']*)' \(expected an ISO 4217 code.*\)",
            N_("unknown currency %(code)s (use an ISO 4217 code such as JPY, EUR or USD)"),
        ),
        (r"'(?P<id>[^']*)' is also on row (?P<row>\d+)", N_("%(id)s is also on row %(row)s")),
        (
            r"'(?P<id>[^']*)' is not a valid id: .*",
            N_(
                "%(id)s cannot be an id: use ASCII letters, digits, '.', '_', ':' and '-', "
                "starting with a letter or digit (no spaces)"
            ),
        ),
        (
            r"contains a bidirectional control character",
            N_("contains a bidirectional control character"),
        ),
        (
            r"contains the control character (?P<code>U\+[0-9A-F]+)",
            N_("contains the control character %(code)s"),
        ),
        (
            r"is (?P<n>\d+) characters long; at most (?P<most>\d+) are accepted",
            N_("is %(n)s characters long; at most %(most)s are accepted"),
        ),
        (
            r"is (?P<n>\d+) bytes; at most (?P<most>\d+) are accepted",
            N_("is %(n)s bytes; at most %(most)s are accepted"),
        ),
        (
            r"must be a single line: it contains a line break",
            N_("must be a single line: it contains a line break"),
        ),
        (
            r"must be exactly one e-mail address, not (?P<n>\d+): '(?P<value>.*)'",
            N_("must be exactly one e-mail address, not %(n)s: %(value)s"),
        ),
        (
            r"'(?P<value>.*)' is not an e-mail address \(expected one, like a@example.com\)",
            N_("%(value)s is not an e-mail address (expected one, like a@example.com)"),
        ),
    )
)


@dataclass(frozen=True, slots=True)
class Reason:
    text: str
    language: str  # the language the text is in


def explain(reason: str, t: Translator) -> Reason:
    """The reason in the reader's language where the page knows its words."""
    if t.language == "en":
        return Reason(reason, "en")
    for pattern, message in _REASONS:
        found = pattern.fullmatch(reason)
        if found is not None:
            return Reason(t.gettext(message, **found.groupdict()), t.language)
    return Reason(reason, "en")
