"""A reason as a code and its values, so a mail can say it in its reader's language.

The workflow keeps the English sentence where it always did (events, statuses, outcomes) and
passes the code and the values with a notification (``reason_code``, ``reason_values``: JSON,
dates in ISO form, a word that differs by language as ``[english, japanese]``). A mail renders
them with :func:`reason_in`; a request recorded before the codes existed has only the English
text, which is shown as it is. Pure functions only.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.glossary import LABELS, Bilingual
from domain.phrases import Value, phrase

__all__ = [
    "FREE_TEXT",
    "Reason",
    "decode_values",
    "encode_values",
    "enum_word",
    "reason_facts",
    "reason_in",
]

# Values a person typed or a system message: kept as strings even when they look like a date.
FREE_TEXT = frozenset({"by", "comment", "message", "note", "reason", "reviewer"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    values: Mapping[str, Value] = field(default_factory=dict)

    def text(self, language: str = "en") -> str:
        return phrase(self.code, language, self.values)


def enum_word(value: str) -> Bilingual:
    """An enum value as the English text showed it so far (the value itself) and the
    glossary's Japanese word for it."""
    words = LABELS.get(value)
    return (value, words[1] if words else value)


def _encode(value: Value) -> Any:
    if isinstance(value, tuple):
        return [value[0], value[1]]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


def encode_values(values: Mapping[str, Value]) -> str:
    return json.dumps(
        {k: _encode(v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True
    )


def _decode(name: str, value: Any) -> Value:
    if isinstance(value, list) and len(value) == 2:
        return (str(value[0]), str(value[1]))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if name not in FREE_TEXT and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return text
    return text


def decode_values(text: str) -> dict[str, Value]:
    raw = json.loads(text) if text else {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): _decode(str(k), v) for k, v in raw.items()}


def reason_facts(code: str, values: Mapping[str, Value], *, key: str = "reason") -> dict[str, str]:
    """The facts a notification carries for a reason: the English text under ``key`` (as
    before), the code and the values."""
    return {
        key: phrase(code, "en", values),
        "reason_code": code,
        "reason_values": encode_values(values),
    }


def reason_in(facts: Mapping[str, str], language: str, key: str = "reason") -> str:
    """The reason in ``language``; without a code (or with one this worker does not know), the
    text under ``key`` as it was recorded."""
    code = facts.get("reason_code", "")
    if code:
        try:
            return phrase(code, language, decode_values(facts.get("reason_values", "")))
        except (KeyError, ValueError, IndexError):
            pass
    return facts.get(key, "")
