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


# Line breaks a mail client, a terminal or a spreadsheet would honour: LF (CR, VT, FF and NEL
# are control characters, refused above), LINE SEPARATOR and PARAGRAPH SEPARATOR.
_LINE_BREAKS = re.compile("[\n\u2028\u2029]")


def single_line(value: str) -> str:
    """For fields where a line break means nothing (a title is a mail subject, a name a table
    cell): refused, not folded, so that what is stored is what was typed."""
    if _LINE_BREAKS.search(value):
        raise ValueError("must be a single line: it contains a line break")
    return value


# One address, as people type them (RFC 5321's dot-atom local part and host name): no display
# name, no comments, no list. The local part's atext, and ASCII labels for the domain (an
# internationalised domain is written in its xn-- form).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})*")
_SEPARATORS = re.compile(r"[,;\s]+")


def one_email_address(value: str) -> str:
    """Exactly one e-mail address: ``a@example.com, b@evil.example`` is refused (mail would go
    to both), as are ``Name <a@example.com>`` and anything that is no address at all."""
    single_line(value)
    if not _ADDRESS.fullmatch(value):
        addresses = sum(1 for part in _SEPARATORS.split(value) if "@" in part)
        if addresses > 1:
            raise ValueError(f"must be exactly one e-mail address, not {addresses}: {value!r}")
        raise ValueError(f"{value!r} is not an e-mail address (expected one, like a@example.com)")
    if len(value) > 254:
        raise ValueError("is longer than an e-mail address can be (254 characters)")
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

SingleLineText = Annotated[ShortText, AfterValidator(single_line)]
"""Short text that is one line: titles, names."""

EmailAddress = Annotated[ShortText, AfterValidator(one_email_address)]
"""Exactly one e-mail address (a contract's owner)."""
