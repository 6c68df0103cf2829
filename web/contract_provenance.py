"""Where each date of a term's plan comes from, in the reader's words.

The stored steps are read and worded by :mod:`domain.provenance_words` (the calendar feed words
them there too); this page gives them its locale's date format. It never computes a date
(renewal-semantics.md §1); a step nobody here recognises is shown as stored.
"""

from domain.provenance_words import step_words
from web.i18n import Translator

__all__ = ["provenance_text"]


def provenance_text(t: Translator, stored: str, jurisdiction: str) -> str:
    """One stored provenance step in the reader's words; a step this page does not know (a
    newer worker's) is shown as stored rather than guessed at. ``jurisdiction``: the
    contract's, for a holiday's name when the step does not say whose calendar it was."""
    words = step_words(stored, t.language, jurisdiction, day=t.date)
    return stored if words is None else words
