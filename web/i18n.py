"""The pages' languages: which one a request reads, its message catalog, and how dates,
numbers, money and the glossary's words are written in it.

The language is the signed-in person's choice (``users.language``), else the best match of
the browser's ``Accept-Language``, else English. Messages are English msgids translated by
Babel catalogs under ``web/locale/<language>/LC_MESSAGES/<area>.mo``, one domain per area of
the workspace (``python -m web.catalogs`` extracts, updates and compiles them); every domain
of a language is merged into one catalog, so a template needs no domain of its own. Values
people read that are stored as codes (stages, milestones, outcomes, recommendations, KPIs)
come from :mod:`domain.phrases`, the glossary's one home, never from the catalogs.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

from domain.glossary import LABELS, STAGE_LABELS, stage_label
from domain.glossary import label as glossary_label

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "Translator",
    "catalog",
    "negotiate",
    "translator",
]

LANGUAGES: Final = ("en", "ja")
DEFAULT_LANGUAGE: Final = "en"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
# Babel's locale for each page language: Japanese dates and numbers as written in Japan.
_LOCALES: Final[Mapping[str, str]] = {"en": "en_GB", "ja": "ja_JP"}
LANGUAGE_NAMES: Final[Mapping[str, str]] = {"en": "English", "ja": "日本語"}


def _accepted(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    return sorted(ranked)


def negotiate(preference: str | None, accept_language: str | None) -> str:
    """The language a page is written in: the person's choice, else the first language of the
    browser's list that the workspace has (``ja-JP`` is Japanese), else English."""
    if preference in LANGUAGES:
        return preference
    for _, _, tag in _accepted(accept_language or "")[:20]:
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
        if tag == "*":
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _load(mo: Path) -> Translations:
    with mo.open("rb") as fp:
        return Translations(fp, domain=mo.stem)


@cache
def catalog(language: str, area: str | None = None) -> NullTranslations:
    """The catalog a page of ``area`` reads in ``language``: the area's own domain first, then
    ``common`` (the header, the shared words), then every other area's. Two areas may translate
    one English word differently (their pages say different things), so an area's page never
    takes another area's word where it has its own. English: the msgids themselves."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    if language == DEFAULT_LANGUAGE or not folder.is_dir():
        return NullTranslations()
    found = {mo.stem: mo for mo in sorted(folder.glob("*.mo"))}
    order = [d for d in (area, "common") if d in found]
    order += [d for d in found if d not in order]
    if not order:
        return NullTranslations()
    first = _load(found[order[0]])
    for domain in order[1:]:
        first.add_fallback(_load(found[domain]))
    return first


@dataclass(frozen=True, slots=True)
class Translator:
    """One language's words and formats, for a page and the Python code that builds it;
    ``area`` is the page's (the folder of its template), whose catalog comes first."""

    language: str
    area: str | None = None

    @property
    def locale(self) -> Locale:
        return Locale.parse(_LOCALES[self.language])

    # --- messages -------------------------------------------------------------------------
    def gettext(self, message: str, /, **values: Any) -> str:
        """A message in this language, ``%(name)s`` placeholders filled (plain text: the
        templates escape it)."""
        text = catalog(self.language, self.area).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        text = catalog(self.language, self.area).ngettext(singular, plural, n)
        return text % {"num": n, **values}

    # Jinja's newstyle gettext. Messages are text, not markup: a catalog cannot put HTML on a
    # page; the message and its values are both escaped.
    def _jinja_gettext(self, message: str, /, **values: Any) -> Markup:
        return escape(catalog(self.language, self.area).gettext(message)) % values

    def _jinja_ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> Markup:
        text = catalog(self.language, self.area).ngettext(singular, plural, n)
        return escape(text) % {"num": n, **values}

    # --- the glossary's words ---------------------------------------------------------------
    def label(self, key: object) -> str:
        """A stored code in the glossary's words (stage, milestone, outcome, KPI, clause...).
        A code the glossary lacks is shown as the catalog has it, never as ``word_word``."""
        value = str(getattr(key, "value", key))
        if value in LABELS:
            return glossary_label(value, self.language)
        if value in STAGE_LABELS:
            return stage_label(value, self.language)
        return self.gettext(value.replace("_", " "))

    def stage(self, stage: object) -> str:
        return stage_label(str(getattr(stage, "value", stage)), self.language)

    # --- formats ----------------------------------------------------------------------------
    def date(self, value: date | None, fmt: str = "medium") -> str:
        if value is None:
            return "—"
        return babel_date(value, format=fmt, locale=self.locale)

    def datetime(self, value: datetime | None, fmt: str = "medium") -> str:
        if value is None:
            return "—"
        return babel_datetime(value, format=fmt, locale=self.locale)

    def number(self, value: Decimal | float | int | None, places: int | None = None) -> str:
        if value is None:
            return "—"
        if places is not None:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            return format_decimal(value, format=pattern, locale=self.locale)
        return format_decimal(value, locale=self.locale)

    def money(self, value: Decimal | float | int | None, currency: str) -> str:
        if value is None:
            return "—"
        return format_currency(value, currency, locale=self.locale)

    def percent(self, value: Decimal | float | None, places: int = 1) -> str:
        """``value`` is a percentage (2.5 means 2.5 %), as the contracts store it."""
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "#" * places if places else "") + "%"
        return format_percent(Decimal(str(value)) / 100, format=pattern, locale=self.locale)

    def days(self, n: int) -> str:
        return self.ngettext("%(num)d day", "%(num)d days", n)

    def template_globals(self) -> dict[str, Any]:
        """What every template gets: ``_``/``gettext``/``ngettext`` for the i18n extension
        (the context's callables win over the environment's), the formats and the glossary."""
        return {
            "gettext": self._jinja_gettext,
            "ngettext": self._jinja_ngettext,
            "lang": self.language,
            "t": self,
        }


@cache
def translator(language: str, area: str | None = None) -> Translator:
    return Translator(language if language in LANGUAGES else DEFAULT_LANGUAGE, area)
