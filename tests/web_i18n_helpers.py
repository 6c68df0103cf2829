"""Checks that a Japanese page reads in Japanese: no stored code (``word_word``), no English
word of the glossary, no English sentence. Shared by every web page test and the browser
tests.

What the page shows that people typed or imported (contract ids, titles, names, e-mail
addresses) is the test's data: pass it as ``allowed`` so that it is not taken for English.
"""

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from domain.phrases import LABELS, STAGE_LABELS

__all__ = ["english_left", "visible_text"]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "title"}:
            self._skip += 1
        # What a screen reader says is read too.
        for name, value in attrs:
            if name in {"aria-label", "title", "placeholder", "alt"} and value:
                self.parts.append(value)
        if tag == "input":
            kind = dict(attrs).get("type")
            value = dict(attrs).get("value")
            if kind in {"submit", "button"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "title"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# Three English words in a row is a sentence someone forgot to translate.
_SENTENCE = re.compile(r"\b[A-Za-z]{2,}(?:[ ,'-]+[A-Za-z]{2,}){2,}\b")
_ENGLISH_GLOSSARY = sorted(
    {en for en, _ in LABELS.values()} | {en for en, _ in STAGE_LABELS.values()}, key=len
)


def english_left(html: str, *, allowed: Iterable[str] = ()) -> list[str]:
    """The English a Japanese page still shows, after removing ``allowed`` (the test data)."""
    text = visible_text(html)
    for value in sorted(allowed, key=len, reverse=True):
        if value:
            text = text.replace(value, " ")
    # Units and codes a Japanese page writes in Latin letters too.
    for word in ("CSV", "JSON", "ISO", "JPY", "USD", "EUR", "KPI", "CSAT", "NPS", "PDF", "ics"):
        text = text.replace(word, " ")
    found = [f"code {m}" for m in _CODE.findall(text)]
    found += [f"sentence {m!r}" for m in _SENTENCE.findall(text)]
    for word in _ENGLISH_GLOSSARY:
        if len(word) > 3 and re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text):
            found.append(f"glossary {word!r}")
    return found
