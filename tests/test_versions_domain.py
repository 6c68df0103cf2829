"""Versions made by people (renewal-semantics.md §3): the next version's terms from a structured
edit, every bad edit refused with its field named, the clause-by-clause comparison against the
contract and the previous version, and the content hash recomputed from what is stored."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.content_hash import content_hash
from domain.milestones import next_term_end
from domain.outcome import interim_extension_end
from domain.terms import current_terms
from domain.versions import (
    clause_changes,
    compare_version,
    next_terms,
    verified_terms,
    version_hash,
)
from models.contract import ContractRead
from models.drafts import CLAUSES, VERSION_CLAUSES, ProposedTerms, TermsEdit
from models.errors import Conflict, InvalidInput
from models.renewal import DraftKind
from tests.factories import make_contract

D = Decimal
END = date(2027, 12, 31)
LEGACY_KEYS = {
    "unit_price",
    "currency",
    "annual_volume",
    "exclusivity",
    "payment_terms",
    "term_months",
    "new_end_date",
    "notice_period_days",
    "price_adjustment",
    "service_levels",
}


def contract(**overrides: Any) -> ContractRead:
    create = make_contract(**overrides)
    return ContractRead(**create.model_dump(), current_term=1, status="active")


def v1(**changes: Any) -> ProposedTerms:
    terms = current_terms(contract()).model_copy(
        update={"new_end_date": next_term_end(END, 12), "term_months": 12}
    )
    return terms.model_copy(update=changes)


def fields_refused(previous: ProposedTerms, edit: TermsEdit, **kw: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        next_terms(previous, edit, current_end=kw.pop("current_end", END), **kw)
    return {e.field: e.reason for e in caught.value.errors}


# ---------------------------------------------------------------------------- stored form


def test_drafts_stored_before_the_new_clauses_hash_as_they_did() -> None:
    terms = v1()
    stored = terms.as_json()
    assert set(stored) == LEGACY_KEYS  # no new key for a draft that does not use them
    # What the drafting activity stored and hashed reads back to the same JSON and hash.
    again = ProposedTerms.model_validate(stored)
    assert again.as_json() == stored
    body, html = "letter", "<p>letter</p>"
    assert version_hash(body=body, terms=again, body_html=html) == content_hash(body, stored, html)


def test_version_clauses_extend_the_letters_clauses_in_their_order() -> None:
    assert tuple(c for c in VERSION_CLAUSES if c in CLAUSES) == CLAUSES
    assert set(VERSION_CLAUSES) - set(CLAUSES) == {"price_adjustment_cap_pct", "additional_clauses"}


def test_a_negative_zero_volume_is_stored_as_zero() -> None:
    after = next_terms(v1(), TermsEdit(annual_volume=D("-0")), current_end=END)
    assert after.as_json()["annual_volume"] == "0"


def test_the_cap_and_additional_clauses_are_stored_when_set() -> None:
    terms = v1(
        price_adjustment="Indexed yearly.",
        price_adjustment_cap_pct=D("2.5"),
        additional_clauses=("Audit rights.", "監査権"),
    )
    stored = terms.as_json()
    assert stored["price_adjustment_cap_pct"] == "2.5"
    assert stored["additional_clauses"] == ["Audit rights.", "監査権"]
    assert ProposedTerms.model_validate(stored) == terms
    assert version_hash(body="b", terms=terms, body_html=None) != version_hash(
        body="b", terms=v1(price_adjustment="Indexed yearly."), body_html=None
    )


# ---------------------------------------------------------------------------- next_terms


def test_an_edit_changes_what_it_names_and_dates_the_term_again() -> None:
    previous = v1()
    edit = TermsEdit(
        unit_price=D("1199.90"),
        term_months=24,
        price_adjustment="Indexed to the resin index every 12 months.",
        price_adjustment_cap_pct=D(2),
        additional_clauses=(" Quarterly business reviews. ",),
    )
    after = next_terms(previous, edit, current_end=END)
    assert after.unit_price == D("1199.90")
    assert after.term_months == 24 and after.new_end_date == date(2029, 12, 31)
    assert after.price_adjustment_cap_pct == D(2)
    assert after.additional_clauses == ("Quarterly business reviews.",)
    # Everything the edit left out is the previous version's.
    for clause in ("currency", "annual_volume", "exclusivity", "payment_terms", "service_levels"):
        assert getattr(after, clause) == getattr(previous, clause)


def test_the_end_date_follows_an_amended_end_and_the_kind() -> None:
    previous = v1()
    amended = date(2028, 5, 31)
    after = next_terms(previous, TermsEdit(notice_period_days=60), current_end=amended)
    assert after.new_end_date == next_term_end(amended, 12)
    interim = next_terms(
        previous,
        TermsEdit(term_months=3),
        current_end=date(2028, 1, 31),
        kind=DraftKind.INTERIM_EXTENSION,
    )
    assert interim.new_end_date == interim_extension_end(date(2028, 1, 31), 3)


def test_the_currency_is_read_as_a_code() -> None:
    after = next_terms(v1(), TermsEdit(currency=" eur "), current_end=END)
    assert after.currency == "EUR"


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        ({"unit_price": D("-5")}, "unit_price", "greater than 0"),
        ({"unit_price": D(0)}, "unit_price", "greater than 0"),
        ({"unit_price": D("1.23456")}, "unit_price", "decimal places"),
        ({"unit_price": D("1" * 15)}, "unit_price", "too large"),
        ({"unit_price": D("1E+20")}, "unit_price", "too large"),
        ({"annual_volume": D(-1)}, "annual_volume", "negative"),
        ({"currency": "XXX"}, "currency", "unknown currency 'XXX'"),
        ({"currency": "JP\nY"}, "currency", "single line"),
        ({"term_months": 0}, "term_months", "between 1 and 120"),
        ({"term_months": 121}, "term_months", "between 1 and 120"),
        ({"notice_period_days": -1}, "notice_period_days", "between 0 and 3650"),
        ({"notice_period_days": 400}, "notice_period_days", "longer than the term"),
        ({"term_months": 1, "notice_period_days": 45}, "notice_period_days", "longer than"),
        ({"payment_terms": "Net 30\nor Net 60"}, "payment_terms", "single line"),
        ({"payment_terms": "  "}, "payment_terms", "must not be empty"),
        ({"payment_terms": "N" * 201}, "payment_terms", "at most 200 characters"),
        ({"price_adjustment_cap_pct": D(3)}, "price_adjustment_cap_pct", "needs a price"),
        ({"price_adjustment_cap_pct": D(0)}, "price_adjustment_cap_pct", "above 0"),
        ({"price_adjustment_cap_pct": D(101)}, "price_adjustment_cap_pct", "at most 100"),
        ({"additional_clauses": ("ok", " ")}, "additional_clauses.2", "must not be empty"),
        (
            {"price_adjustment_cap_pct": D(2), "remove_price_adjustment_cap": True},
            "remove_price_adjustment_cap",
            "set and removed",
        ),
        ({}, "terms", "changes nothing"),
        ({"unit_price": D("1250.50"), "exclusivity": True}, "terms", "changes nothing"),
    ],
)
def test_bad_edits_are_refused_with_the_field_named(
    edit: dict[str, Any], field: str, words: str
) -> None:
    refused = fields_refused(v1(), TermsEdit(**edit))
    assert field in refused, refused
    assert words in refused[field]


def test_a_number_that_is_no_number_is_refused_by_the_edit_itself() -> None:
    with pytest.raises(ValidationError) as caught:
        TermsEdit(unit_price=D("NaN"))
    assert [e.field for e in InvalidInput.from_validation_error(caught.value).errors] == [
        "unit_price"
    ]


def test_every_problem_is_named_at_once() -> None:
    refused = fields_refused(
        v1(), TermsEdit(unit_price=D(-1), currency="ZZZ", term_months=0, payment_terms="a\nb")
    )
    assert set(refused) == {"unit_price", "currency", "term_months", "payment_terms"}


def test_the_cap_may_be_removed_and_the_clauses_cleared() -> None:
    capped = v1(
        price_adjustment="Indexed.", price_adjustment_cap_pct=D(2), additional_clauses=("x",)
    )
    after = next_terms(
        capped, TermsEdit(remove_price_adjustment_cap=True, additional_clauses=()), current_end=END
    )
    assert after.price_adjustment_cap_pct is None and after.additional_clauses == ()
    assert set(after.as_json()) == LEGACY_KEYS


EDITS = st.fixed_dictionaries(
    {},
    optional={
        "unit_price": st.decimals(min_value="0.01", max_value="99999", places=2),
        "annual_volume": st.decimals(min_value=0, max_value=100000, places=0),
        "exclusivity": st.booleans(),
        "term_months": st.integers(1, 120),
        "notice_period_days": st.integers(0, 3650),
        "currency": st.sampled_from(["JPY", "usd", "EUR", "XXX"]),
        "payment_terms": st.sampled_from(["Net 30", "Net 90", "月末締め翌月末払い", "a\nb"]),
    },
)


@given(edit=EDITS, end=st.dates(date(2026, 1, 1), date(2035, 12, 31)))
def test_any_edit_gives_valid_terms_or_a_named_refusal(edit: dict[str, Any], end: date) -> None:
    previous = v1()
    try:
        after = next_terms(previous, TermsEdit(**edit), current_end=end)
    except InvalidInput as refused:
        fields = {e.field for e in refused.errors}
        assert fields and all(e.reason for e in refused.errors)
        # A shorter term may make the previous notice period too long: that field is named.
        assert fields <= {*edit, "terms", "notice_period_days"}
        return
    assert after.unit_price > 0 and after.annual_volume >= 0
    assert after.new_end_date == next_term_end(end, after.term_months)
    assert after.notice_period_days <= (after.new_end_date - end).days
    assert after.as_json() != previous.as_json()
    for field, value in edit.items():
        got = getattr(after, field)
        assert got == (value.strip().upper() if field == "currency" else value)


# ---------------------------------------------------------------------------- comparison


def test_the_comparison_shows_each_changed_clause_against_contract_and_previous() -> None:
    c = contract(language="ja")
    previous = next_terms(v1(), TermsEdit(unit_price=D("1200")), current_end=END)
    version = next_terms(
        previous,
        TermsEdit(
            notice_period_days=60,
            price_adjustment="指数連動",
            price_adjustment_cap_pct=D(2),
            additional_clauses=("監査権を定める。",),
        ),
        current_end=END,
    )
    cmp = compare_version(version, contract=c, previous=previous, previous_version=2)
    by_clause = {ch.clause: ch for ch in cmp.against_contract}
    assert by_clause["unit_price"].label == "単価"
    assert by_clause["unit_price"].current == "1,250.50 JPY"
    assert by_clause["unit_price"].proposed == "1,200.00 JPY"
    assert by_clause["notice_period_days"].proposed == "60日"
    assert by_clause["new_end_date"].current == "2027年12月31日"
    assert by_clause["price_adjustment_cap_pct"].label == "価格調整の上限"
    assert by_clause["price_adjustment_cap_pct"].proposed == "2 %"
    assert by_clause["additional_clauses"].current == "（定めなし）"
    assert "exclusivity" not in by_clause  # unchanged clauses are left out
    assert all(ch.changed for ch in cmp.against_contract)
    assert cmp.previous_version == 2
    assert cmp.against_previous is not None
    assert [ch.clause for ch in cmp.against_previous] == [
        "notice_period_days",
        "price_adjustment",
        "price_adjustment_cap_pct",
        "additional_clauses",
    ]
    assert cmp.against_previous[0].current == "30日"


def test_a_first_version_has_no_previous_and_english_labels() -> None:
    cmp = compare_version(v1(), contract=contract())
    assert cmp.against_previous is None and cmp.previous_version is None
    (end,) = cmp.against_contract  # the usual term again: only the end date moves
    assert (end.clause, end.label, end.current, end.proposed) == (
        "new_end_date",
        "End date",
        "2027-12-31",
        "2028-12-31",
    )


def test_a_currency_change_shows_on_the_price() -> None:
    before = v1()
    after = next_terms(before, TermsEdit(currency="USD"), current_end=END)
    (change,) = clause_changes(before, after, language="en")
    assert change.clause == "unit_price"
    assert (change.current, change.proposed) == ("1,250.50 JPY", "1,250.50 USD")


def test_the_comparison_covers_every_version_clause() -> None:
    before = v1()
    after = v1(
        unit_price=D(1),
        annual_volume=D(1),
        exclusivity=False,
        term_months=1,
        new_end_date=date(2028, 1, 31),
        notice_period_days=1,
        payment_terms="Net 1",
        price_adjustment="x",
        price_adjustment_cap_pct=D(1),
        service_levels="y",
        additional_clauses=("z",),
    )
    assert tuple(c.clause for c in clause_changes(before, after, language="en")) == VERSION_CLAUSES


# ---------------------------------------------------------------------------- the stored version


def _stored(terms: ProposedTerms) -> tuple[str, str, dict[str, Any], str]:
    body, html = "Version 2 letter", "<p>Version 2 letter</p>"
    stored = terms.as_json()
    return body, html, stored, content_hash(body, stored, html)


def test_the_stored_version_verifies_and_gives_its_terms() -> None:
    terms = v1(price_adjustment="Indexed.", price_adjustment_cap_pct=D("2.0"))
    body, html, stored, agreed = _stored(terms)
    assert (
        verified_terms(body=body, body_html=html, stored_terms=stored, expected_hash=agreed)
        == terms
    )


def test_a_legacy_version_without_html_verifies() -> None:
    stored = v1().as_json()
    agreed = content_hash("old letter", stored)
    got = verified_terms(
        body="old letter", body_html=None, stored_terms=stored, expected_hash=agreed
    )
    assert got == v1()


@pytest.mark.parametrize(
    "tamper",
    [
        {"unit_price": "1.00"},
        {"notice_period_days": 90},
        {"new_end_date": (END + timedelta(days=150)).isoformat()},
        {"additional_clauses": ["The buyer pays double."]},
    ],
)
def test_terms_edited_in_the_database_are_refused(tamper: dict[str, Any]) -> None:
    body, html, stored, agreed = _stored(v1())
    with pytest.raises(Conflict, match=r"^content_hash: .*changed after approval"):
        verified_terms(
            body=body, body_html=html, stored_terms=stored | tamper, expected_hash=agreed
        )


def test_edited_text_is_refused_and_unreadable_terms_are_named() -> None:
    body, html, stored, agreed = _stored(v1())
    with pytest.raises(Conflict, match="content_hash"):
        verified_terms(body=body + ".", body_html=html, stored_terms=stored, expected_hash=agreed)
    with pytest.raises(Conflict, match=r"^proposed_terms: "):
        verified_terms(
            body=body, body_html=html, stored_terms=stored | {"bonus": 1}, expected_hash=agreed
        )
