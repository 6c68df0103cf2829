"""Bad contract input is refused by parse_contract with one FieldError per problem, each naming
the field, the row and a reason a user can act on."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from models.contract import ContractCreate, ContractRead, SupplierCreate, SupplierRead
from models.errors import FieldError, InvalidInput
from store.contracts import parse_contract
from tests.factories import contract_data

ROW = 7


def refused(row: int | None = ROW, **overrides: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_contract(contract_data(**overrides), row=row)
    return caught.value


def only_error(exc: InvalidInput) -> FieldError:
    assert len(exc.errors) == 1, exc.errors
    return exc.errors[0]


def assert_refused(field: str, reason_part: str, row: int | None = ROW, **overrides: Any) -> str:
    """The input is refused with exactly one error, on ``field``, whose reason mentions
    ``reason_part``; returns the message a user would see."""
    exc = refused(row=row, **overrides)
    err = only_error(exc)
    assert err.field == field
    assert reason_part in err.reason
    assert err.row == row
    assert str(exc) == str(err)
    prefix = f"row {row}, " if row is not None else ""
    assert str(err) == f"{prefix}{field}: {err.reason}"
    return str(exc)


def test_the_factory_data_is_valid():
    contract = parse_contract(contract_data(), row=ROW)
    assert isinstance(contract, ContractCreate)
    assert contract.id == "C-1001"


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("end_date", [date(2026, 1, 1), date(2025, 12, 31), date(2020, 6, 1)])
def test_end_date_must_be_after_start_date(end_date):
    message = assert_refused("end_date", "must be after start_date 2026-01-01", end_date=end_date)
    assert message == (
        f"row 7, end_date: must be after start_date 2026-01-01 (got {end_date.isoformat()})"
    )


def test_one_day_contract_is_accepted():
    contract = parse_contract(contract_data(end_date=date(2026, 1, 2), notice_period_days=0))
    assert contract.end_date == date(2026, 1, 2)


def test_invalid_start_date_is_reported_alone():
    # No second, confusing "end_date must be after start_date" when start_date itself is bad.
    assert_refused("start_date", "valid date", start_date="2026-13-01")


def test_29_february_in_a_leap_year_is_accepted():
    contract = parse_contract(contract_data(end_date="2028-02-29"))
    assert contract.end_date == date(2028, 2, 29)


def test_29_february_in_a_common_year_is_not_a_date():
    message = assert_refused(
        "end_date", "day value is outside expected range", end_date="2027-02-29"
    )
    assert "valid date" in message


@pytest.mark.parametrize("value", ["31/12/2027", "next year", "", "2027-12"])
def test_unreadable_dates(value):
    assert_refused("end_date", "valid date", end_date=value)


# --- amounts --------------------------------------------------------------------------------


def test_negative_annual_value():
    assert_refused("annual_value", "greater than or equal to 0", annual_value=Decimal("-0.01"))


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "sNaN",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
    ],
    ids=repr,
)
def test_nan_and_infinity_amounts(value):
    assert_refused("annual_value", "finite number", annual_value=value)


def test_nan_unit_price_is_reported_under_terms():
    assert_refused(
        "terms.unit_price", "finite number", terms={"unit_price": "NaN", "payment_terms": "Net 30"}
    )


def test_five_decimal_places():
    assert_refused("annual_value", "no more than 4 decimal places", annual_value=Decimal("1.00001"))
    assert_refused(
        "terms.unit_price", "no more than 4 decimal places", terms={"unit_price": "0.00001"}
    )


def test_four_decimal_places_and_trailing_zeros_are_accepted():
    contract = parse_contract(
        contract_data(annual_value=Decimal("0.0001"), terms={"unit_price": "1250.50000"})
    )
    assert contract.annual_value == Decimal("0.0001")
    assert contract.terms.unit_price == Decimal("1250.5")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("12345678901234567890"), "no more than 18 digits"),  # 20 digits
        (Decimal("1E+30"), "no more than 18 digits"),
        (Decimal("123456789012345"), "no more than 14 digits before the decimal point"),
    ],
)
def test_huge_amounts(value, reason):
    assert_refused("annual_value", reason, annual_value=value)


def test_largest_amount_is_accepted():
    value = Decimal("99999999999999.9999")
    assert parse_contract(contract_data(annual_value=value)).annual_value == value


def test_amounts_given_as_strings_and_floats():
    contract = parse_contract(contract_data(annual_value="12000000.50"))
    assert contract.annual_value == Decimal("12000000.50")
    # A float that prints short converts exactly; one that does not is refused, never rounded.
    assert parse_contract(contract_data(annual_value=0.1)).annual_value == Decimal("0.1")
    assert_refused("annual_value", "decimal places", annual_value=0.1 + 0.2)


# --- currency and language ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["XYZ", "yen", "US$", "", "EURO"])
def test_unknown_currency(code):
    message = assert_refused("currency", f"unknown currency {code!r}", currency=code)
    assert "ISO 4217" in message


@pytest.mark.parametrize("code", ["jpy", "Jpy", " JPY ", "JPY"])
def test_currency_is_normalised_to_upper_case(code):
    assert parse_contract(contract_data(currency=code)).currency == "JPY"


def test_unknown_language():
    message = assert_refused("language", "'ja' or 'en'", language="fr")
    assert message == "row 7, language: Input should be 'ja' or 'en'"


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["", "   ", "\t"])
def test_empty_title(title):
    assert_refused("title", "at least 1 character", title=title)


def test_oversized_title():
    assert_refused("title", "at most 200 characters", title="x" * 201)
    assert parse_contract(contract_data(title="x" * 200)).title == "x" * 200


def test_title_limit_holds_after_unicode_normalisation():
    # U+0958 is one code point in, two after NFC: 150 of them are stored as 300 characters, which
    # must be refused here rather than overflow the 200-character column.
    assert_refused("title", "at most 200 characters", title="\u0958" * 150)


def test_surrounding_whitespace_is_stripped_and_text_nfc_normalised():
    contract = parse_contract(
        contract_data(title="  \u30ab\u3099ス供給  ", owner=" yamada@example.co.jp ")
    )
    assert contract.title == "\u30acス供給"
    assert contract.owner == "yamada@example.co.jp"


@pytest.mark.parametrize("field", ["title", "owner"])
@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"])
def test_bidirectional_control_characters(field, char):
    overrides: dict[str, Any] = {field: f"Inv{char}oice"}
    message = assert_refused(field, "bidirectional control character", **overrides)
    assert message == f"row 7, {field}: contains a bidirectional control character"


@pytest.mark.parametrize(
    ("char", "code"), [("\x00", "U+0000"), ("\x1b", "U+001B"), ("\x7f", "U+007F")]
)
def test_control_characters(char, code):
    message = assert_refused("title", code, title=f"Pack{char}aging")
    assert message == f"row 7, title: contains the control character {code}"


def test_control_character_in_nested_text():
    assert_refused(
        "terms.payment_terms",
        "U+0000",
        terms={"unit_price": "1", "payment_terms": "Net\x0030"},
    )


def test_japanese_text_is_accepted():
    contract = parse_contract(
        contract_data(title="梱包資材の年間供給契約", owner="yamada@example.co.jp", language="ja")
    )
    assert contract.title == "梱包資材の年間供給契約"


# --- single lines and one owner address (issue 14) -----------------------------------------


@pytest.mark.parametrize("brk", ["\n", "\u2028", "\u2029"])
def test_a_title_is_one_line(brk):
    # A title is a mail subject: it would end at the line break.
    message = assert_refused("title", "single line", title=f"Packaging{brk}Bcc: x@evil.example")
    assert message == "row 7, title: must be a single line: it contains a line break"


def test_clauses_keep_their_line_breaks():
    terms = {"unit_price": "1", "price_adjustment": "Yearly.\nCapped at 3 %."}
    assert parse_contract(contract_data(terms=terms)).terms.price_adjustment.count("\n") == 1


@pytest.mark.parametrize(
    ("owner", "reason"),
    [
        ("a@example.com, b@evil.example", "must be exactly one e-mail address, not 2"),
        ("a@example.com;b@evil.example", "must be exactly one e-mail address, not 2"),
        ("a@example.com b@evil.example", "must be exactly one e-mail address, not 2"),
        ("Buyer <buyer@example.com>", "is not an e-mail address"),
        ("調達部 山田太郎", "is not an e-mail address"),
        ("buyer", "is not an e-mail address"),
        ("buyer@", "is not an e-mail address"),
        ("a@b@example.com", "is not an e-mail address"),
        ("buyer@example.com\nBcc: x@evil.example", "single line"),
    ],
)
def test_the_owner_is_exactly_one_address(owner, reason):
    assert_refused("owner", reason, owner=owner)


@pytest.mark.parametrize(
    "owner", ["buyer@example.com", "buyer.sato+renewals@example.co.jp", "it@xn--eckwd4c7c.jp"]
)
def test_owner_addresses_are_accepted(owner):
    assert parse_contract(contract_data(owner=owner)).owner == owner


def test_what_is_stored_reads_back_whatever_the_rules_were():
    # Rows stored before these rules still read (and still replay in workflow histories).
    stored = ContractRead.model_validate(
        {
            **parse_contract(contract_data()).model_dump(),
            "title": "two\nlines",
            "owner": "調達部 山田太郎, b@example.com",
            "current_term": 1,
            "status": "active",
        }
    )
    assert stored.title == "two\nlines"
    supplier = SupplierRead.model_validate({"id": "S-1", "name": "Tokyo\nPackaging"})
    assert supplier.name == "Tokyo\nPackaging"


@pytest.mark.parametrize("field", ["name", "category"])
def test_supplier_names_are_one_line(field):
    with pytest.raises(ValidationError) as caught:
        SupplierCreate.model_validate({"id": "S-1", "name": "Tokyo", field: "Tokyo\nPackaging"})
    (error,) = caught.value.errors()
    assert error["loc"] == (field,) and "single line" in error["msg"]


# --- structure ------------------------------------------------------------------------------


def test_extra_unknown_fields():
    exc = refused(colour="red", discount="5%")
    assert {(e.field, e.reason, e.row) for e in exc.errors} == {
        ("colour", "Extra inputs are not permitted", ROW),
        ("discount", "Extra inputs are not permitted", ROW),
    }


def test_extra_unknown_field_inside_terms():
    assert_refused(
        "terms.rebate", "Extra inputs are not permitted", terms={"unit_price": "1", "rebate": "2%"}
    )


def test_missing_required_field():
    data = contract_data()
    del data["owner"]
    with pytest.raises(InvalidInput) as caught:
        parse_contract(data, row=3)
    assert str(caught.value) == "row 3, owner: Field required"


def test_several_problems_are_all_reported():
    exc = refused(currency="XYZ", language="fr", annual_value="-1")
    assert [e.field for e in exc.errors] == ["currency", "annual_value", "language"]
    assert all(e.row == ROW for e in exc.errors)
    assert str(exc).count("row 7, ") == 3
    assert "; " in str(exc)


# --- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "contract_id",
    ["C 1001", "C\t1", "契約-1", "C-1001é", "C１", "-C-1", ".hidden", "C/1", "C#1"],
)
def test_ids_must_be_plain_ascii(contract_id):
    # Ids become Temporal workflow ids: ASCII letters, digits and . _ : - only.
    message = assert_refused("id", "is not a valid id", id=contract_id)
    assert "ASCII letters, digits" in message
    assert "should match pattern" not in message  # no regular expression shown to users


def test_supplier_id_follows_the_same_rule():
    assert_refused("supplier_id", "is not a valid id", supplier_id="東京-1")


@pytest.mark.parametrize("contract_id", ["C-1001", "c.2026:Q1_01", "0", "A" * 64])
def test_valid_ids(contract_id):
    assert parse_contract(contract_data(id=contract_id)).id == contract_id


def test_id_whitespace_around_is_stripped():
    assert parse_contract(contract_data(id="  C-1001  ")).id == "C-1001"


@pytest.mark.parametrize(("contract_id", "reason"), [("", "at least 1"), ("A" * 65, "at most 64")])
def test_id_length(contract_id, reason):
    assert_refused("id", reason, id=contract_id)


# --- whole numbers --------------------------------------------------------------------------


def test_negative_notice_period():
    assert_refused("notice_period_days", "greater than or equal to 0", notice_period_days=-1)


def test_notice_period_upper_bound():
    assert_refused("notice_period_days", "less than or equal to 3650", notice_period_days=3651)


@pytest.mark.parametrize(
    ("months", "reason"),
    [(0, "greater than or equal to 1"), (121, "less than or equal to 120")],
)
def test_renewal_term_bounds(months, reason):
    assert_refused("renewal_term_months", reason, renewal_term_months=months)


def test_fractional_notice_period():
    assert_refused("notice_period_days", "integer", notice_period_days=30.5)


# --- rows -----------------------------------------------------------------------------------


def test_without_a_row_number_the_message_has_no_row():
    message = assert_refused("language", "'ja' or 'en'", row=None, language="fr")
    assert message == "language: Input should be 'ja' or 'en'"


@pytest.mark.parametrize("row", [1, 2, 10_000])
def test_the_row_number_is_carried(row):
    err = only_error(refused(row=row, currency="XYZ"))
    assert err.row == row
    assert str(err).startswith(f"row {row}, currency: ")
