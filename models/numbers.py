"""Integer types for numbers that reach the database: request parameters (offsets, term numbers,
draft versions), request bodies and imported records.

Python integers are unbounded but the database's are not: a larger one fails in the driver or
the database (SQLite's OverflowError, PostgreSQL's "integer out of range") and the request
answers 500. Bounding the value where it comes in refuses it instead, with the field named.
"""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

DB_INT_MAX = 2**31 - 1
"""The largest value of an ``Integer`` column on PostgreSQL (int4), the narrowest integer any
of our tables stores (SQLite's are 64-bit). Terms, draft versions and counts are stored in such
columns, and no offset into a list of ours comes near it."""

DbInt = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
"""A count or an offset: 0 and up."""

PositiveDbInt = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
"""A number that starts at 1: a term, a draft version."""


def _unsigned_zero(value: Decimal) -> Decimal:
    # Decimal keeps the sign of zero: "-0" equals 0 but prints, hashes into a draft's content
    # hash and compares in a diff as something else. PostgreSQL's numeric drops the sign and
    # SQLite keeps the text, so the same import would read back differently per database.
    return value.copy_abs() if value.is_zero() and value.is_signed() else value


UnsignedZero = AfterValidator(_unsigned_zero)
"""For decimals that may be 0: ``-0`` (``-0.00``, ``-0E+2``) is stored as ``0`` in the same
notation."""
