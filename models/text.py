"""Constrained text types shared by every user-facing field."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# Bidirectional overrides/isolates can make a clause read differently from what is stored
# (the "Trojan Source" trick); refuse them rather than strip them silently.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _reject_control_characters(value: str) -> str:
    if _BIDI_CONTROLS.search(value):
        raise ValueError("contains a bidirectional control character")
    for ch in value:
        if ch not in "\n\t" and unicodedata.category(ch) == "Cc":
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    return unicodedata.normalize("NFC", value)


Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    ),
]
"""Contract and supplier ids: they end up in Temporal workflow ids, so ASCII only."""

ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_reject_control_characters),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=4000),
    AfterValidator(_reject_control_characters),
]
PersonRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(_reject_control_characters),
]
"""A user name or e-mail address identifying who did something."""
