"""What a renegotiation or interim-extension draft proposes, and a stored draft as read back."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from models.renewal import DraftKind
from models.scorecard import Finding


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

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values with decimals as exact strings: what is stored and hashed."""
        return {
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


__all__ = ["CLAUSES", "ClauseChange", "DraftView", "Proposal", "ProposedTerms"]
