"""Contracts, suppliers and their commercial terms."""

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.currency import ISO_4217
from models.text import Identifier, LongText, ShortText

Language = Literal["ja", "en"]

Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
]
"""Money and quantities: exact decimals, never floats; 4 places cover any currency's minor unit."""


def _known_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_4217:
        # Quote what the user typed, not our upper-cased version of it.
        raise ValueError(
            f"unknown currency {value!r} (expected an ISO 4217 code such as JPY, EUR, USD)"
        )
    return code


Currency = Annotated[str, AfterValidator(_known_currency)]


class ContractStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class SupplierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    name: ShortText
    category: ShortText = "general"
    country: Annotated[str, Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")] = "JP"


class SupplierRead(SupplierCreate):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class CommercialTerms(BaseModel):
    """The terms currently in force; drafts propose changes clause by clause against these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_price: Amount
    annual_volume: Amount = Decimal(0)
    exclusivity: bool = False
    payment_terms: ShortText = "Net 30"
    price_adjustment: LongText = ""
    service_levels: LongText = ""


class ContractBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: ShortText
    supplier_id: Identifier
    owner: ShortText
    start_date: date
    end_date: date
    auto_renewal: bool = False
    notice_period_days: Annotated[int, Field(ge=0, le=3650)] = 30
    renewal_term_months: Annotated[int, Field(ge=1, le=120)] = 12
    currency: Currency
    annual_value: Amount
    terms: CommercialTerms
    language: Language = "en"

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, end_date: date, info: ValidationInfo) -> date:
        # A field validator (not a model validator) so the error names ``end_date`` rather than
        # the whole record. start_date is declared first, so it is in info.data unless invalid.
        start_date = info.data.get("start_date")
        if start_date is not None and end_date <= start_date:
            raise ValueError(
                f"must be after start_date {start_date.isoformat()} (got {end_date.isoformat()})"
            )
        return end_date


class ContractCreate(ContractBase):
    id: Identifier


class ContractRead(ContractBase):
    model_config = ConfigDict(from_attributes=True, frozen=True, extra="forbid")

    id: Identifier
    current_term: int
    status: ContractStatus


class ContractAmendment(BaseModel):
    """A change to the dates that drive the renewal plan; running workflows re-plan on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    end_date: date | None = None
    notice_period_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    amended_by: ShortText
    reason: LongText = ""

    @model_validator(mode="after")
    def _changes_something(self) -> "ContractAmendment":
        if self.end_date is None and self.notice_period_days is None:
            raise ValueError("an amendment must change end_date or notice_period_days")
        return self
