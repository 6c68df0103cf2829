"""Checking records against their model: every error collected (never only the first), each
named by the file's row and column, and a record repeating an earlier one's key refused."""

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Generic

from pydantic import ValidationError

from models.errors import FieldError, InvalidInput
from models.imports import ImportKind, M, Valid
from services.imports._formats import FileFormat, Record


def _no_advance(_n: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Unique:
    """What must not repeat within a file, and how a repeat is reported."""

    field: str
    key: Callable[[Any], Hashable | None]  # None: nothing to compare
    repeated: Callable[[Any, int], str]  # (value, row it first appears on) -> reason


BY_ID = Unique(
    "id",
    lambda v: getattr(v, "id", None),
    lambda v, first: f"{str(v.id)!r} is also on row {first}",
)


class Validator(Generic[M]):
    """Checks records against their model a batch at a time, remembering the keys seen so a
    record repeating an earlier one's key is refused in whichever batch it comes."""

    def __init__(
        self,
        parse: Callable[[Mapping[str, Any], int], M],
        *,
        file_format: FileFormat,
        unique: Unique | None = BY_ID,
        file: str | None = None,
    ) -> None:
        self.parse = parse
        self.file_format = file_format
        self.unique = unique
        self.file = file
        self.first_row: dict[Hashable, int] = {}

    def check(
        self, records: Iterable[Record], advance: Callable[[int], None] = _no_advance
    ) -> tuple[list[Valid[M]], list[FieldError]]:
        """The valid records and every error of ``records``; ``advance(1)`` for each."""
        valid: list[Valid[M]] = []
        errors: list[FieldError] = []
        unique, first_row = self.unique, self.first_row
        for record in records:
            try:
                value = self.parse(record.data, record.row)
            except InvalidInput as exc:
                errors.extend(_for_file(e, self.file_format, self.file) for e in exc.errors)
            else:
                key = unique.key(value) if unique is not None else None
                if unique is not None and key is not None and key in first_row:
                    reason = unique.repeated(value, first_row[key])
                    errors.append(FieldError(unique.field, reason, row=record.row, file=self.file))
                else:
                    if key is not None:
                        first_row[key] = record.row
                    valid.append(Valid(record.row, value))
            advance(1)
        return valid, errors


def validate_records(
    records: Iterable[Record],
    parse: Callable[[Mapping[str, Any], int], M],
    *,
    file_format: FileFormat,
    advance: Callable[[int], None] = _no_advance,
    unique: Unique | None = BY_ID,
    file: str | None = None,
) -> tuple[list[Valid[M]], list[FieldError]]:
    """Validate every record; collect all errors (never stop at the first) and flag records
    that repeat an earlier one's key (the later ones are errors)."""
    validator = Validator(parse, file_format=file_format, unique=unique, file=file)
    return validator.check(records, advance)


def _for_file(error: FieldError, file_format: FileFormat, file: str | None) -> FieldError:
    # In a CSV the terms are plain columns: name the column the user sees.
    name = error.field
    if file_format == "csv" and name.startswith("terms."):
        name = name.removeprefix("terms.")
    return FieldError(name, error.reason, row=error.row, file=error.file or file)


def parse_model(
    model: type[M], *, default_tz: tzinfo | None = None
) -> Callable[[Mapping[str, Any], int], M]:
    """A parser for a record type: its model, times without an offset read in ``default_tz``."""

    def parse(data: Mapping[str, Any], row: int) -> M:
        try:
            return model.model_validate(data, context={"default_tz": default_tz})
        except ValidationError as exc:
            raise InvalidInput.from_validation_error(exc, row=row) from None

    return parse


def sort_errors(errors: Iterable[FieldError]) -> list[FieldError]:
    """In the order of the file; stable, so a row's problems keep the order they were found."""
    return sorted(errors, key=lambda e: e.row if e.row is not None else 0)


UNIQUE: dict[ImportKind, Unique] = {
    ImportKind.SUPPLIERS: BY_ID,
    ImportKind.CONTRACTS: BY_ID,
    ImportKind.DELIVERIES: Unique(
        "reference",
        lambda v: (v.contract_id, v.reference) if v.reference else None,
        lambda v, first: f"{v.reference!r} already appears in row {first}",
    ),
    ImportKind.SERVICE_TICKETS: Unique(
        "reference",
        lambda v: (v.contract_id, v.reference),
        lambda v, first: f"{v.reference!r} already appears in row {first}",
    ),
    ImportKind.PRICE_HISTORY: Unique(
        "effective_date",
        lambda v: (v.contract_id, v.effective_date),
        lambda v, first: (
            f"{v.effective_date.isoformat()} already appears for contract "
            f"{v.contract_id!r} in row {first}"
        ),
    ),
    ImportKind.MARKET_INDICATORS: Unique(
        "period",
        lambda v: (v.category, v.period),
        lambda v, first: (
            f"{v.period.isoformat()} already appears for category {v.category!r} in row {first}"
        ),
    ),
}


__all__ = [
    "BY_ID",
    "UNIQUE",
    "Unique",
    "Validator",
    "parse_model",
    "sort_errors",
    "validate_records",
]
