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
