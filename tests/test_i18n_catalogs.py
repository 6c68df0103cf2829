"""The pages' languages: the catalogs hold a Japanese translation of every message the pages
use and their compiled form is current; the language is the person's choice, else the
browser's; dates, numbers and money are written as each language writes them."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from domain.phrases import LABELS, STAGE_LABELS
from models.renewal import RenewalStage
from store.reads.pipeline import stage_names
from web import catalogs
from web.i18n import negotiate, translator


def test_every_message_of_every_area_is_translated_and_compiled() -> None:
    assert catalogs.areas(), "no template areas found"
    assert catalogs.check() == []


@pytest.mark.parametrize(
    ("preference", "header", "expected"),
    [
        ("ja", "en-GB,en;q=0.9", "ja"),  # the person's choice wins
        ("en", "ja", "en"),
        (None, "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        (None, "en-US,en;q=0.9,ja;q=0.8", "en"),
        (None, "fr-FR, ja;q=0.5", "ja"),  # the first language the workspace has
        (None, "en;q=0.1, ja;q=0.9", "ja"),  # by quality, not by position
        (None, "ja;q=0", "en"),  # q=0 means "not this one"
        (None, "", "en"),
        (None, None, "en"),
        (None, "*", "en"),
        ("xx", "garbage;;;q=abc", "en"),
    ],
)
def test_the_language_of_a_page(preference: str | None, header: str | None, expected: str) -> None:
    assert negotiate(preference, header) == expected


def test_formats_follow_the_language() -> None:
    ja, en = translator("ja"), translator("en")
    day = date(2026, 3, 31)
    assert ja.date(day, "long") == "2026年3月31日"
    assert en.date(day, "long") == "31 March 2026"
    assert ja.money(Decimal("1234567"), "JPY") == "￥1,234,567"
    assert en.money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert ja.number(Decimal("1234.5"), 2) == "1,234.50"
    assert en.percent(Decimal("2.5")) == "2.5%"
    assert ja.date(None) == "—"
    assert "2026" in ja.datetime(datetime(2026, 3, 31, 9, 30))


def test_every_stage_has_both_languages_words() -> None:
    """A stage added to the workflow without its words would show as a code on every page."""
    for stage in [*stage_names(), *(s.value for s in RenewalStage)]:
        assert stage in STAGE_LABELS, stage
        en, ja = STAGE_LABELS[stage]
        assert en and ja and "_" not in en and "_" not in ja


def test_codes_are_shown_in_the_glossarys_words() -> None:
    ja = translator("ja")
    assert ja.label("gather_facts") == LABELS["gather_facts"][1]
    assert ja.stage("changes_requested") == "修正依頼中"
    assert ja.label(RenewalStage.OFFER_PRESENTED) == "条件提示済み"
    assert translator("en").stage("legal_review") == "in legal review"
    # An unknown code is never shown with its underscores.
    assert "_" not in translator("en").label("some_new_code")


def test_catalog_text_cannot_put_markup_on_a_page() -> None:
    """Messages are escaped like values: a catalog is text, not HTML."""
    rendered = translator("en").template_globals()["gettext"]("<b>%(x)s</b>", x="<i>")
    assert str(rendered) == "&lt;b&gt;&lt;i&gt;&lt;/b&gt;"
