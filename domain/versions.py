"""Versions made by people (renewal-semantics.md §3): the next version's terms from a person's
edit, its clause-by-clause comparison, and its content hash recomputed from what is stored.

:func:`next_terms` applies a :class:`~models.drafts.TermsEdit` to the previous version and
refuses, every field named at once (:class:`~models.errors.InvalidInput`):

* a unit price that is not above 0, a volume below 0, more than 4 decimal places or 18 digits;
* a currency that is not an ISO 4217 code (:mod:`models.currency`);
* a term outside 1..120 months (the contract's own range), a notice period outside 0..3650 days
  or longer than the term it gives notice in;
* a cap that is not above 0 or above 100 %, or a cap without a price adjustment clause;
* payment terms or a currency on more than one line, payment terms empty or over 200
  characters (what the contract stores), an empty additional clause;
* an edit that leaves every clause as the previous version had it.

The end date is never edited: it follows from the term length and the current end date (the
contract's, as amended), by the rule that dates the renewal (:func:`domain.milestones.
next_term_end`; an interim extension by :func:`domain.outcome.interim_extension_end`).
"""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from domain.content_hash import content_hash
from domain.milestones import next_term_end
from domain.outcome import interim_extension_end
from domain.phrases import label
from domain.terms import current_terms, display
from models.contract import ContractRead
from models.currency import ISO_4217
from models.drafts import (
    VERSION_CLAUSES,
    ClauseChange,
    Proposal,
    ProposedTerms,
    TermsEdit,
    VersionComparison,
)
from models.errors import Conflict, FieldError, InvalidInput
from models.renewal import DraftKind
from models.text import single_line

__all__ = [
    "MAX_ADDITIONAL_CLAUSES",
    "NOTICE_DAYS_RANGE",
    "TERM_MONTHS_RANGE",
    "clause_changes",
    "compare_version",
    "display_clause",
    "next_terms",
    "stored_changes",
    "term_end",
    "verified_terms",
    "version_hash",
    "version_proposal",
]

TERM_MONTHS_RANGE = (1, 120)  # models.contract.ContractBase.renewal_term_months
NOTICE_DAYS_RANGE = (0, 3650)  # models.contract.ContractBase.notice_period_days
MAX_ADDITIONAL_CLAUSES = 50
_MAX_DIGITS, _MAX_PLACES = 18, 4  # models.contract.Amount
_PAYMENT_TERMS_MAX = 200  # models.contract.CommercialTerms.payment_terms (ShortText)


def term_end(current_end: date, term_months: int, kind: DraftKind) -> date:
    """The end of the term a version proposes, counted from the current end date."""
    if kind is DraftKind.INTERIM_EXTENSION:
        return interim_extension_end(current_end, term_months)
    return next_term_end(current_end, term_months)


# ---------------------------------------------------------------------------- next version


def _amount_error(field: str, value: Decimal, *, positive: bool) -> FieldError | None:
    if not value.is_finite():
        return FieldError(field, f"{value} is not a number")
    if positive and value <= 0:
        return FieldError(field, f"must be greater than 0 (got {value})")
    if value < 0:
        return FieldError(field, f"must not be negative (got {value})")
    shape = value.as_tuple()
    exponent = shape.exponent if isinstance(shape.exponent, int) else 0
    if -exponent > _MAX_PLACES:
        return FieldError(field, f"at most {_MAX_PLACES} decimal places (got {value})")
    if len(shape.digits) + exponent > _MAX_DIGITS - _MAX_PLACES:
        return FieldError(field, f"too large (at most {_MAX_DIGITS - _MAX_PLACES} digits)")
    return None


def _one_line(field: str, value: str) -> FieldError | None:
    try:
        single_line(value)
    except ValueError as exc:
        return FieldError(field, str(exc))
    return None


def _in_range(field: str, value: int, bounds: tuple[int, int], unit: str) -> FieldError | None:
    low, high = bounds
    if not low <= value <= high:
        return FieldError(field, f"must be between {low} and {high} {unit} (got {value})")
    return None


def _edited(edit: TermsEdit, errors: list[FieldError]) -> dict[str, Any]:
    """The clauses the edit sets, checked one by one; errors are appended."""
    values: dict[str, Any] = {
        field: getattr(edit, field)
        for field in type(edit).model_fields
        if field != "remove_price_adjustment_cap" and getattr(edit, field) is not None
    }
    if edit.remove_price_adjustment_cap:
        if "price_adjustment_cap_pct" in values:
            errors.append(
                FieldError(
                    "remove_price_adjustment_cap",
                    "a cap cannot be set and removed at once: give one of the two",
                )
            )
        values["price_adjustment_cap_pct"] = None
    if "unit_price" in values and (
        e := _amount_error("unit_price", values["unit_price"], positive=True)
    ):
        errors.append(e)
    if "annual_volume" in values:
        if e := _amount_error("annual_volume", values["annual_volume"], positive=False):
            errors.append(e)
        elif values["annual_volume"].is_zero():
            values["annual_volume"] = values["annual_volume"].copy_abs()  # "-0" is stored as 0
    if "currency" in values:
        typed = str(values["currency"])
        if e := _one_line("currency", typed):
            errors.append(e)
        else:
            code = typed.strip().upper()
            if code not in ISO_4217:
                errors.append(
                    FieldError(
                        "currency",
                        f"unknown currency {typed!r} (expected an ISO 4217 code such as JPY, "
                        "EUR, USD)",
                    )
                )
            values["currency"] = code
    if "term_months" in values and (
        e := _in_range("term_months", values["term_months"], TERM_MONTHS_RANGE, "months")
    ):
        errors.append(e)
    if "notice_period_days" in values and (
        e := _in_range(
            "notice_period_days", values["notice_period_days"], NOTICE_DAYS_RANGE, "days"
        )
    ):
        errors.append(e)
    if "payment_terms" in values:
        text = str(values["payment_terms"]).strip()
        if e := _one_line("payment_terms", text):
            errors.append(e)
        elif not text:
            errors.append(FieldError("payment_terms", "must not be empty"))
        elif len(text) > _PAYMENT_TERMS_MAX:
            errors.append(
                FieldError("payment_terms", f"at most {_PAYMENT_TERMS_MAX} characters (one line)")
            )
        values["payment_terms"] = text
    cap = values.get("price_adjustment_cap_pct")
    if cap is not None:
        if not cap.is_finite() or cap <= 0 or cap > 100:
            errors.append(
                FieldError(
                    "price_adjustment_cap_pct", f"must be above 0 and at most 100 (got {cap})"
                )
            )
        elif e := _amount_error("price_adjustment_cap_pct", cap, positive=True):
            errors.append(e)
    if "additional_clauses" in values:
        clauses = tuple(c.strip() for c in values["additional_clauses"])
        for i, c in enumerate(clauses, start=1):
            if not c:
                errors.append(FieldError(f"additional_clauses.{i}", "must not be empty"))
        if len(clauses) > MAX_ADDITIONAL_CLAUSES:
            errors.append(
                FieldError("additional_clauses", f"at most {MAX_ADDITIONAL_CLAUSES} clauses")
            )
        values["additional_clauses"] = clauses
    for field in ("price_adjustment", "service_levels"):
        if field in values:
            values[field] = str(values[field]).strip()
    return values


def next_terms(
    previous: ProposedTerms,
    edit: TermsEdit,
    *,
    current_end: date,
    kind: DraftKind = DraftKind.RENEGOTIATION,
) -> ProposedTerms:
    """The next version's terms: ``previous`` with the edit applied, its end date recomputed
    from ``current_end`` (the contract's end date now, amendments included). Raises
    :class:`InvalidInput` naming every field refused."""
    errors: list[FieldError] = []
    values = _edited(edit, errors)
    if errors:
        raise InvalidInput(errors)
    merged = previous.model_copy(update=values)
    new_end = term_end(current_end, merged.term_months, kind)
    merged = merged.model_copy(update={"new_end_date": new_end})
    term_days = (new_end - current_end).days
    if merged.notice_period_days > term_days:
        errors.append(
            FieldError(
                "notice_period_days",
                f"{merged.notice_period_days} days is longer than the term it is notice in "
                f"({merged.term_months} months, {term_days} days to {new_end.isoformat()})",
            )
        )
    if merged.price_adjustment_cap_pct is not None and not merged.price_adjustment.strip():
        errors.append(
            FieldError(
                "price_adjustment_cap_pct",
                "a cap needs a price adjustment clause to cap: add price_adjustment",
            )
        )
    if not errors and merged.as_json() == previous.as_json():
        errors.append(
            FieldError("terms", "changes nothing: every clause is as in the previous version")
        )
    if errors:
        raise InvalidInput(errors)
    return merged


# ---------------------------------------------------------------------------- comparison


def display_clause(clause: str, terms: ProposedTerms, language: str) -> str:
    """One clause of a version as the comparison shows it, in ``language``."""
    if clause == "price_adjustment_cap_pct":
        cap = terms.price_adjustment_cap_pct
        return f"{cap.normalize():f} %" if cap is not None else label("none", language)
    if clause == "additional_clauses":
        if not terms.additional_clauses:
            return label("none", language)
        return "\n".join(f"{i}. {c}" for i, c in enumerate(terms.additional_clauses, start=1))
    return display(clause, getattr(terms, clause), language, currency=terms.currency)


def _value(clause: str, terms: ProposedTerms) -> Any:
    if clause == "unit_price":  # currency goes with the price
        return (terms.as_json()["unit_price"], terms.currency)
    return terms.as_json().get(clause)


def clause_changes(
    before: ProposedTerms, after: ProposedTerms, *, language: str
) -> tuple[ClauseChange, ...]:
    """Each clause that differs, from ``before`` to ``after``, labelled in ``language``."""
    return tuple(
        ClauseChange(
            clause=clause,
            label=label(clause, language),
            current=display_clause(clause, before, language),
            proposed=display_clause(clause, after, language),
            changed=True,
        )
        for clause in VERSION_CLAUSES
        if _value(clause, before) != _value(clause, after)
    )


_OPTIONAL_CLAUSES = ("price_adjustment_cap_pct", "additional_clauses")


def version_proposal(
    contract: ContractRead, terms: ProposedTerms, *, language: str | None = None
) -> Proposal:
    """A version made by a person as its letter shows it: every clause of the contract in force
    against the version, changed or not; the cap and the additional clauses when either side
    states them."""
    lang = language or contract.language
    today = current_terms(contract)
    rows = []
    for clause in VERSION_CLAUSES:
        before, after = _value(clause, today), _value(clause, terms)
        if clause in _OPTIONAL_CLAUSES and before is None and after is None:
            continue
        rows.append(
            ClauseChange(
                clause=clause,
                label=label(clause, lang),
                current=display_clause(clause, today, lang),
                proposed=display_clause(clause, terms, lang),
                changed=before != after,
            )
        )
    return Proposal(terms=terms, changes=tuple(rows))


def stored_changes(
    before: Mapping[str, Any], after: ProposedTerms, *, language: str
) -> list[dict[str, str]]:
    """The clauses a version changes against a stored earlier one, as the letter's revision
    history prints them; an earlier version that no longer reads as terms shows none."""
    try:
        previous = ProposedTerms.model_validate(dict(before))
    except ValidationError:
        return []
    return [
        {"clause": c.clause, "label": c.label, "before": c.current, "after": c.proposed}
        for c in clause_changes(previous, after, language=language)
    ]


def compare_version(
    version: ProposedTerms,
    *,
    contract: ContractRead,
    previous: ProposedTerms | None = None,
    previous_version: int | None = None,
    language: str | None = None,
) -> VersionComparison:
    """What ``version`` changes against the contract in force and against the version before
    it, in the contract's language unless ``language`` says otherwise."""
    lang = language or contract.language
    return VersionComparison(
        against_contract=clause_changes(current_terms(contract), version, language=lang),
        previous_version=previous_version if previous is not None else None,
        against_previous=(
            clause_changes(previous, version, language=lang) if previous is not None else None
        ),
    )


# ---------------------------------------------------------------------------- content hash


def version_hash(*, body: str, terms: ProposedTerms, body_html: str | None) -> str:
    """The content hash of a version: its text, HTML and terms (as stored, :meth:`as_json`)."""
    return content_hash(body, terms.as_json(), body_html)


def verified_terms(
    *,
    body: str,
    body_html: str | None,
    stored_terms: Mapping[str, Any],
    expected_hash: str,
) -> ProposedTerms:
    """The terms to put into force, read from the stored version and proven to be the ones
    approved and accepted: the hash is recomputed from the stored text and terms (never the
    stored hash column) and must equal ``expected_hash``. Raises :class:`Conflict` naming
    ``content_hash`` (or ``proposed_terms`` when they are unreadable) otherwise."""
    try:
        terms = ProposedTerms.model_validate(dict(stored_terms))
    except ValidationError as exc:
        raise Conflict(
            f"proposed_terms: the stored terms cannot be read ({exc.error_count()} problems); "
            "not put into force"
        ) from None
    actual = version_hash(body=body, terms=terms, body_html=body_html)
    if actual != expected_hash:
        raise Conflict(
            f"content_hash: the stored version hashes to {actual[:12]}, not the agreed "
            f"{expected_hash[:12]}: it changed after approval; not put into force"
        )
    return terms
