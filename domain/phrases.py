"""The engine's sentences in English and Japanese, in one table.

Scorecard evidence, market signals, recommendation reasons and the reasons for each proposed term
are all built here from a code and its figures, so a Japanese draft and an English draft state
the same facts with the same numbers. The Japanese wording follows the renewal playbook the
product was built from (納期の遵守率, 品質管理の状況, 顧客対応のスピードと質, コストパフォーマンスの
変化; 競争が激化, 需要の減少, 新規参入者の出現).

Values may be ints, Decimals, dates, strings, or ``(english, japanese)`` pairs for words that
differ by language. Pure functions only: no I/O, no clock.
"""

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from domain.glossary import LABELS, STAGE_LABELS, Bilingual, bilingual, label, stage_label
from domain.phrase_table import PHRASES as _PHRASES
from models.scorecard import Finding

__all__ = [
    "LABELS",
    "ONE_PLACE",
    "STAGE_LABELS",
    "Bilingual",
    "Value",
    "bilingual",
    "finding",
    "format_date",
    "label",
    "money",
    "period_text",
    "phrase",
    "phrase_pair",
    "plain",
    "quantize",
    "signed",
    "stage_label",
    "suppliers",
]
Value = int | Decimal | date | str | Bilingual

ONE_PLACE: Final = Decimal("0.1")


def suppliers(count: int) -> Bilingual:
    """English needs the plural; Japanese counts with 社 and has none."""
    return ("supplier" if count == 1 else "suppliers", "")


def quantize(value: Decimal, places: Decimal = ONE_PLACE) -> Decimal:
    return value.quantize(places, ROUND_HALF_UP)


def plain(value: Decimal) -> Decimal:
    """Without a stored scale's trailing zeros (NUMERIC(22, 4) gives 98.0000), and never in
    exponent form (98.0000 normalises to 98, 100 must not become 1E+2)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def money(value: Decimal) -> Decimal:
    """A price with at least two decimals: 1250.5 reads as 1250.50."""
    normal = plain(value)
    exponent = normal.as_tuple().exponent
    return (
        normal.quantize(Decimal("0.01")) if isinstance(exponent, int) and exponent > -2 else normal
    )


def signed(value: Decimal) -> str:
    """``+2.0`` / ``-3.5`` / ``0.0``: changes read better with their sign."""
    return f"{value:+,}" if value != 0 else f"{value:,}"


def format_date(value: date, language: str) -> str:
    if language == "ja":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def _render(value: Value, language: str) -> str:
    if isinstance(value, tuple):
        return value[1] if language == "ja" else value[0]
    if isinstance(value, bool):  # a bool is an int: keep it out of the number branch
        return str(value)
    if isinstance(value, int | Decimal):
        return f"{value:,}"
    if isinstance(value, date):
        return format_date(value, language)
    return value


def _machine(value: Value) -> str:
    if isinstance(value, tuple):
        return value[0]
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def phrase(code: str, language: str, values: Mapping[str, Value]) -> str:
    en, ja = _PHRASES[code]
    template = ja if language == "ja" else en
    return template.format_map({k: _render(v, language) for k, v in values.items()})


def phrase_pair(code: str, values: Mapping[str, Value]) -> Bilingual:
    return phrase(code, "en", values), phrase(code, "ja", values)


def finding(code: str, /, **values: Value) -> Finding:
    """A statement in both languages; ``figures`` keeps the values in machine form (ISO dates,
    plain decimals) for anyone who wants to phrase it differently."""
    en, ja = phrase_pair(code, values)
    return Finding(code=code, figures={k: _machine(v) for k, v in values.items()}, en=en, ja=ja)


def period_text(start_exclusive: date, end: date) -> Bilingual:
    """A window (start, end] as people read it: from the day after ``start`` to ``end``."""
    first = start_exclusive + timedelta(days=1)
    return phrase_pair("period", {"start": first, "end": end})
