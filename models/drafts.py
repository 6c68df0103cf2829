"""What a renegotiation or interim-extension draft proposes, and a stored draft as read back."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from models.renewal import DraftKind
from models.scorecard import Finding
from models.text import LongText


class ProposedTerms(BaseModel):
    """The terms of the next term, clause by clause. Text clauses are in the draft's language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_price: Decimal
    currency: str
    annual_volume: Decimal
    exclusivity: bool
    payment_terms: str
    term_months: int
    new_end_date: date
    notice_period_days: int
    price_adjustment: str
    service_levels: str
    # Versions made by people (issue 15) may state the price adjustment's cap as a number and add
    # clauses. Unset, both stay out of as_json: every draft stored before them keeps its hash.
    price_adjustment_cap_pct: Decimal | None = None  # at most this % up or down per review
    additional_clauses: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values with decimals as exact strings: what is stored and hashed."""
        data: dict[str, Any] = {
            "unit_price": format(self.unit_price, "f"),
            "currency": self.currency,
            "annual_volume": format(self.annual_volume, "f"),
            "exclusivity": self.exclusivity,
            "payment_terms": self.payment_terms,
            "term_months": self.term_months,
            "new_end_date": self.new_end_date.isoformat(),
            "notice_period_days": self.notice_period_days,
            "price_adjustment": self.price_adjustment,
            "service_levels": self.service_levels,
        }
        if self.price_adjustment_cap_pct is not None:
            data["price_adjustment_cap_pct"] = format(self.price_adjustment_cap_pct, "f")
        if self.additional_clauses:
            data["additional_clauses"] = list(self.additional_clauses)
        return data


CLAUSES: tuple[str, ...] = (
    "unit_price",
    "annual_volume",
    "exclusivity",
    "term_months",
    "new_end_date",
    "notice_period_days",
    "payment_terms",
    "price_adjustment",
    "service_levels",
)
"""Clause order in drafts and comparisons (currency goes with the price)."""

VERSION_CLAUSES: tuple[str, ...] = (
    "unit_price",
    "annual_volume",
    "exclusivity",
    "term_months",
    "new_end_date",
    "notice_period_days",
    "payment_terms",
    "price_adjustment",
    "price_adjustment_cap_pct",
    "service_levels",
    "additional_clauses",
)
"""Every clause a version made by a person may change, in the order its comparison lists them:
:data:`CLAUSES` (what the system's letters show) plus the numeric cap and additional clauses."""


class ClauseChange(BaseModel):
    """One row of the clause-by-clause comparison: from what, to what, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str
    label: str  # in the draft's language
    current: str  # display values, in the draft's language
    proposed: str
    changed: bool
    reasons: tuple[Finding, ...] = ()


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: ProposedTerms
    changes: tuple[ClauseChange, ...]


class TermsEdit(BaseModel):
    """What a person changes to make the next version (after legal's comments, or to enter a
    supplier's counter-offer). A field left out (None) keeps the previous version's clause; the
    end date follows from the term length. ``remove_price_adjustment_cap`` removes the cap, and
    ``additional_clauses`` replaces the whole list (``[]`` clears it). None means "keep" rather
    than a set-but-null field because a request crosses Temporal's data converter, which writes
    every field: "which fields were set" does not survive it. The rules (a positive price, a
    known currency, notice within the term, ...) are :func:`domain.versions.next_terms`'s,
    which refuses with every field named."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_price: Decimal | None = None
    currency: str | None = None
    annual_volume: Decimal | None = None
    exclusivity: bool | None = None
    term_months: int | None = None
    notice_period_days: int | None = None
    payment_terms: LongText | None = None  # one line: checked by next_terms, with the field named
    price_adjustment: LongText | None = None
    price_adjustment_cap_pct: Decimal | None = None
    remove_price_adjustment_cap: bool = False
    service_levels: LongText | None = None
    additional_clauses: tuple[LongText, ...] | None = None

    def changed_fields(self) -> tuple[str, ...]:
        """The clauses this edit sets, in field order."""
        named = [
            name
            for name in type(self).model_fields
            if name != "remove_price_adjustment_cap" and getattr(self, name) is not None
        ]
        if self.remove_price_adjustment_cap:
            named.append("price_adjustment_cap_pct")
        return tuple(named)


class VersionComparison(BaseModel):
    """What a version changes, clause by clause (only the clauses that differ): against the
    contract in force, and against the version before it (None for the first version)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    against_contract: tuple[ClauseChange, ...]
    previous_version: int | None = None
    against_previous: tuple[ClauseChange, ...] | None = None


class DraftView(BaseModel):
    """A stored draft version as reviewers and the legal review page read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    kind: DraftKind
    version: int
    language: str
    body: str
    body_html: str | None  # None for drafts stored before HTML renderings existed
    proposed_terms: dict[str, Any]
    content_hash: str
    hash_verified: bool  # the stored text still produces the stored hash
    requested_by: str
    answers_comment: str | None
    created_at: datetime


__all__ = [
    "CLAUSES",
    "VERSION_CLAUSES",
    "ClauseChange",
    "DraftView",
    "Proposal",
    "ProposedTerms",
    "TermsEdit",
    "VersionComparison",
]
