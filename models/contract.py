"""Contracts, suppliers and their commercial terms."""

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.currency import ISO_4217
from models.jurisdictions import (
    DEFAULT_TIME_ZONES,
    UnknownJurisdiction,
    split_jurisdiction,
    validate_jurisdiction,
)
from models.numbers import UnsignedZero
from models.text import Identifier, LongText, ShortText, one_email_address, single_line

Language = Literal["ja", "en"]

Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
    UnsignedZero,
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


def _not_a_number(value: Any) -> Any:
    """Dates come as text or as date objects, never as numbers. pydantic reads a number (or a
    string of one) as a Unix time: a cell holding 0 would be stored as 1970-01-01 (and 86400 as
    the day after), and other numbers, such as Excel's serial dates, get a message about "zero
    time" that helps nobody. Everything else is left to pydantic's date parsing and messages."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            float(value)  # every spelling pydantic reads as a timestamp: 0, 86400, 1e9, 0.0
        except ValueError:
            return value
        raise ValueError(f"{value!r} is not a date (expected YYYY-MM-DD)")
    raise ValueError(f"{value} is not a date (expected YYYY-MM-DD)")


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
"""A contract date: text pydantic reads as a date (YYYY-MM-DD) or a date object, never a
number."""


class TermModel(StrEnum):
    FIXED = "fixed"  # ends on its end date unless renewed
    AUTO_RENEWING = "auto_renewing"  # rolls over for renewal_term_months unless notice is given
    EVERGREEN = "evergreen"  # no end: reviewed every review_period_months


class DefaultAction(StrEnum):
    """What happens when an auto-renewing contract's send-by date passes with no decision."""

    NON_RENEWAL = "non_renewal"  # the safe default: draft a non-renewal notice and escalate
    RENEW_AS_IS = "renew_as_is"  # chosen explicitly: let it roll over, and say so


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown IANA time zone {value!r} (e.g. Asia/Tokyo, Europe/Berlin)"
        ) from None
    return value


def _known_jurisdiction(value: str) -> str:
    try:
        return validate_jurisdiction(value)
    except UnknownJurisdiction as exc:
        raise ValueError(str(exc)) from None


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
Jurisdiction = Annotated[str, AfterValidator(_known_jurisdiction)]


class ContractStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class SupplierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    name: ShortText
    category: ShortText = "general"
    country: Annotated[str, Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")] = "JP"

    @field_validator("name", "category")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return single_line(value)


class SupplierRead(SupplierCreate):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    @field_validator("name", "category")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # What is stored is read back as it is: a supplier stored before names had to be one
        # line must not make every list of suppliers fail.
        return value


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
    team: Identifier | None = None  # its members act on the contract as its owner does
    start_date: IsoDate
    term_model: TermModel = TermModel.FIXED
    # For an evergreen contract: the next review date (computed on registration if omitted).
    end_date: Annotated[IsoDate | None, Field(validate_default=True)] = None
    notice_period_days: Annotated[int, Field(ge=0, le=3650)] = 30
    auto_renewal: bool = False
    renewal_term_months: Annotated[int, Field(ge=1, le=120)] = 12
    currency: Currency
    annual_value: Amount
    terms: CommercialTerms
    language: Language = "en"
    max_renewals: Annotated[int, Field(ge=0, le=100)] | None = None  # None: unlimited
    renewals_used: Annotated[int, Field(ge=0, le=100)] = 0
    review_period_months: Annotated[int, Field(ge=1, le=60)] = 12  # evergreen only
    jurisdiction: Jurisdiction = "JP"
    time_zone: TimeZoneName | None = None  # None: the jurisdiction's usual zone, else UTC
    transit_buffer_days: Annotated[int, Field(ge=0, le=60)] = 3
    default_action: DefaultAction | None = None  # None: the category's or organisation's default

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, end_date: date | None, info: ValidationInfo) -> date | None:
        # A field validator (not a model validator) so the error names ``end_date`` rather than
        # the whole record. start_date is declared first, so it is in info.data unless invalid.
        if end_date is None:
            if info.data.get("term_model", TermModel.FIXED) is not TermModel.EVERGREEN:
                raise ValueError("required unless term_model is evergreen")
            return None
        start_date = info.data.get("start_date")
        if start_date is not None and end_date <= start_date:
            raise ValueError(
                f"must be after start_date {start_date.isoformat()} (got {end_date.isoformat()})"
            )
        return end_date

    @field_validator("renewals_used")
    @classmethod
    def _within_max(cls, used: int, info: ValidationInfo) -> int:
        limit = info.data.get("max_renewals")
        if limit is not None and used > limit:
            raise ValueError(f"{used} exceeds max_renewals {limit}")
        return used

    @field_validator("notice_period_days")
    @classmethod
    def _notice_within_term(cls, notice: int, info: ValidationInfo) -> int:
        start, end = info.data.get("start_date"), info.data.get("end_date")
        if start is not None and end is not None and notice > (end - start).days:
            raise ValueError(
                f"{notice} days is longer than the term ({(end - start).days} days from "
                "start_date to end_date)"
            )
        return notice

    @model_validator(mode="after")
    def _consistent_term(self) -> Self:
        # Older records and simple imports say only auto_renewal=true (or yes, TRUE, 1: pydantic's
        # boolean parsing); an explicit term_model always wins.
        if "term_model" not in self.model_fields_set and self.auto_renewal:
            object.__setattr__(self, "term_model", TermModel.AUTO_RENEWING)
        elif "auto_renewal" in self.model_fields_set and self.auto_renewal != (
            self.term_model is TermModel.AUTO_RENEWING
        ):
            raise ValueError(
                f"auto_renewal={str(self.auto_renewal).lower()} contradicts "
                f"term_model={self.term_model.value!r}"
            )
        object.__setattr__(self, "auto_renewal", self.term_model is TermModel.AUTO_RENEWING)
        return self

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or DEFAULT_TIME_ZONES.get(
            split_jurisdiction(self.jurisdiction)[0], "UTC"
        )


class ContractCreate(ContractBase):
    """A new contract. Stricter than what is read back (ContractRead), which must accept rows
    stored before these rules: the title is a mail subject and the owner a mail recipient, so
    the title is one line and the owner exactly one e-mail address."""

    id: Identifier

    @field_validator("title")
    @classmethod
    def _title_one_line(cls, title: str) -> str:
        return single_line(title)

    @field_validator("owner")
    @classmethod
    def _owner_one_address(cls, owner: str) -> str:
        return one_email_address(owner)


class ContractRead(ContractBase):
    model_config = ConfigDict(from_attributes=True, frozen=True, extra="forbid")

    end_date: IsoDate  # stored contracts always have one (evergreen: the next review date)
    id: Identifier
    current_term: int
    status: ContractStatus
    # Put into force with the terms last agreed (issue 15: a version made by a person may state
    # them); never registered or imported. The defaults keep payloads from before them valid.
    price_adjustment_cap_pct: Annotated[Decimal, Field(allow_inf_nan=False)] | None = None
    additional_clauses: tuple[str, ...] = ()


class ContractAmendment(BaseModel):
    """A change to the dates that drive the renewal plan; running workflows re-plan on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    end_date: IsoDate | None = None
    notice_period_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    amended_by: ShortText
    reason: LongText = ""

    @model_validator(mode="after")
    def _changes_something(self) -> "ContractAmendment":
        if self.end_date is None and self.notice_period_days is None:
            raise ValueError("an amendment must change end_date or notice_period_days")
        return self
