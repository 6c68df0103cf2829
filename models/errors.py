"""Errors the engine raises on purpose, and what each means.

    RenewalsError                   base: what the application refuses deliberately
    ├── InvalidInput                bad data: one FieldError per problem (row, field, reason)
    ├── NotFound                    a contract, supplier or renewal that does not exist
    ├── NotAllowed                  the acting person may not do this (segregation of duties)
    └── Conflict                    the request clashes with stored state
        └── DuplicateContract       a contract id that is already registered

Each carries a message fit for an end user. Activities turn every one of them into a
non-retryable Temporal application error (retrying cannot fix bad data), and database failures
into short retryable ones: see :mod:`activities.failures`.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one value. ``row`` is the record's row in its file (the header is row 1,
    as a spreadsheet shows it); ``file`` names the file when the data came from one."""

    field: str
    reason: str
    row: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}, " if self.file is not None else ""
        where += f"row {self.row}, " if self.row is not None else ""
        return f"{where}{self.field}: {self.reason}"


class RenewalsError(Exception):
    """Base of the deliberate errors."""


class InvalidInput(RenewalsError):
    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid input")

    @classmethod
    def from_validation_error(
        cls, exc: ValidationError, *, row: int | None = None, file: str | None = None
    ) -> "InvalidInput":
        errors = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "(record)"
            reason = err["msg"].removeprefix("Value error, ")
            errors.append(FieldError(field=field, reason=reason, row=row, file=file))
        return cls(errors)


class NotFound(RenewalsError):
    pass


class NotAllowed(RenewalsError):
    """Refused for who is asking, not for what is asked: the HTTP interfaces answer 403."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.errors = (FieldError(field, message),) if field else ()
        super().__init__(message)


class Conflict(RenewalsError):
    pass


class DuplicateContract(Conflict):
    def __init__(self, contract_id: str, *, row: int | None = None) -> None:
        self.contract_id = contract_id
        self.error = FieldError(
            field="id", reason=f"contract {contract_id!r} already exists", row=row
        )
        super().__init__(str(self.error))
