"""Constrained text types shared by every user-facing field."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

# Bidirectional overrides/isolates can make a clause read differently from what is stored
# (the "Trojan Source" trick); refuse them rather than strip them silently.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _nfc(value: object) -> object:
    # Normalise before the length limits: NFC is not always shorter (U+0958 becomes two code
    # points), and the limits must hold for the text that is stored, not the text that came in.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _reject_control_characters(value: str) -> str:
    if _BIDI_CONTROLS.search(value):
        raise ValueError("contains a bidirectional control character")
    for ch in value:
        if ch not in "\n\t" and unicodedata.category(ch) == "Cc":
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    return value


_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def _check_identifier(value: str) -> str:
    # Same rule as a regex pattern constraint, but with a message a user can act on.
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id: use only ASCII letters, digits, '.', '_', ':' and '-', "
            "starting with a letter or digit (no spaces)"
        )
    return value


Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_check_identifier),
]
"""Contract and supplier ids: they end up in Temporal workflow ids, so ASCII only."""

ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    BeforeValidator(_nfc),  # wraps the constraints above, so it runs before them
    AfterValidator(_reject_control_characters),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=4000),
    BeforeValidator(_nfc),  # wraps the constraints above, so it runs before them
    AfterValidator(_reject_control_characters),
]
PersonRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    BeforeValidator(_nfc),  # wraps the constraints above, so it runs before them
    AfterValidator(_reject_control_characters),
]
"""A user name or e-mail address identifying who did something."""
