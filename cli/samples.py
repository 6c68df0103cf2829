"""Sample suppliers, contracts and deliveries for the local stack (``renewals dev``).

The contracts' dates are computed from today, so every first run shows renewals at different
stages: one waiting for its first milestone, one with facts gathered, two in legal review (one
in Japanese), one past its final-terms milestone with no approved draft (escalated), and one far
from renewal. The fixed-date files in samples/ are examples for ``renewals ... import``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from cli import dbtools
from models.contract import ContractCreate, SupplierCreate
from services import users
from services.contracts import parse_contract, register_contracts, upsert_supplier

SUPPLIERS: tuple[SupplierCreate, ...] = (
    SupplierCreate(
        id="S-TOKYO-PACK", name="Tokyo Packaging K.K.", category="packaging", country="JP"
    ),
    SupplierCreate(
        id="S-OSAKA-LOGI", name="大阪ロジスティクス株式会社", category="logistics", country="JP"
    ),
    SupplierCreate(
        id="S-NAGOYA-PARTS",
        name="Nagoya Precision Parts Co., Ltd.",
        category="components",
        country="JP",
    ),
    SupplierCreate(
        id="S-BERLIN-SOFT", name="Berlin Software GmbH", category="software", country="DE"
    ),
)


@dataclass(frozen=True, slots=True)
class _Profile:
    """How one sample contract sits in time and how its supplier has performed."""

    ends_in: relativedelta
    notice_days: int
    deliveries: int  # over the last twelve months
    late_every: int  # every n-th delivery late; 0: never
    defects_per_100: int


_PROFILES: dict[str, _Profile] = {
    # 7 months out: waiting for the gather-facts milestone (due in about a month).
    "C-PACK-BOXES": _Profile(relativedelta(months=7), 30, 24, 0, 1),
    # 5 months out with 60 days' notice: facts gathered, first discussion next.
    "C-LOGI-WAREHOUSE": _Profile(relativedelta(months=5), 60, 24, 6, 2),
    # About 2.5 months out: the first draft is in legal review.
    "C-PARTS-BRAKES": _Profile(relativedelta(months=2, days=10), 30, 24, 3, 6),
    # 75 days out, in Japanese: in legal review.
    "C-LOGI-TRUCKING": _Profile(relativedelta(days=75), 30, 24, 4, 3),
    # 20 days out and no approved draft: past final terms, escalated.
    "C-SOFT-ERP": _Profile(relativedelta(days=20), 14, 0, 0, 0),
    # 14 months out, in Japanese: nothing due for a long while.
    "C-PACK-LABELS": _Profile(relativedelta(months=14), 90, 24, 12, 1),
}


def _contracts_data(today: date) -> list[dict[str, Any]]:
    def ends(contract_id: str) -> date:
        return today + _PROFILES[contract_id].ends_in

    def notice(contract_id: str) -> int:
        return _PROFILES[contract_id].notice_days

    return [
        {
            "id": "C-PACK-BOXES",
            "title": "Corrugated shipping boxes",
            "supplier_id": "S-TOKYO-PACK",
            "owner": "buyer@example.com",
            "start_date": ends("C-PACK-BOXES") - relativedelta(years=2),
            "end_date": ends("C-PACK-BOXES"),
            "notice_period_days": notice("C-PACK-BOXES"),
            "renewal_term_months": 12,
            "currency": "JPY",
            "annual_value": Decimal("18000000"),
            "terms": {
                "unit_price": Decimal("150"),
                "annual_volume": Decimal("120000"),
                "payment_terms": "Net 60",
                "price_adjustment": "Prices fixed for the term.",
                "service_levels": "Delivery within 5 business days of order.",
            },
            "language": "en",
        },
        {
            "id": "C-LOGI-WAREHOUSE",
            "title": "物流倉庫の保管委託",
            "supplier_id": "S-OSAKA-LOGI",
            "owner": "buyer@example.com",
            "start_date": ends("C-LOGI-WAREHOUSE") - relativedelta(years=3),
            "end_date": ends("C-LOGI-WAREHOUSE"),
            "notice_period_days": notice("C-LOGI-WAREHOUSE"),
            "renewal_term_months": 24,
            "currency": "JPY",
            "annual_value": Decimal("42000000"),
            "terms": {
                "unit_price": Decimal("3500"),
                "annual_volume": Decimal("12000"),
                "exclusivity": True,
                "payment_terms": "月末締め翌月末払い",
                "price_adjustment": "燃料費の変動に応じて年1回見直す。",
                "service_levels": "入出庫の誤出荷率0.1%以下。",
            },
            "language": "ja",
        },
        {
            "id": "C-PARTS-BRAKES",
            "title": "Brake caliper castings",
            "supplier_id": "S-NAGOYA-PARTS",
            "owner": "buyer@example.com",
            "start_date": ends("C-PARTS-BRAKES") - relativedelta(years=1),
            "end_date": ends("C-PARTS-BRAKES"),
            "notice_period_days": notice("C-PARTS-BRAKES"),
            "renewal_term_months": 12,
            "currency": "JPY",
            "annual_value": Decimal("96000000"),
            "terms": {
                "unit_price": Decimal("4000"),
                "annual_volume": Decimal("24000"),
                "payment_terms": "Net 30",
                "price_adjustment": "Aluminium surcharge reviewed quarterly.",
                "service_levels": "Defect rate below 500 ppm; 98 % on-time delivery.",
            },
            "language": "en",
        },
        {
            "id": "C-LOGI-TRUCKING",
            "title": "幹線輸送サービス（東京－大阪）",
            "supplier_id": "S-OSAKA-LOGI",
            "owner": "buyer@example.com",
            "start_date": ends("C-LOGI-TRUCKING") - relativedelta(years=1),
            "end_date": ends("C-LOGI-TRUCKING"),
            "auto_renewal": True,
            "notice_period_days": notice("C-LOGI-TRUCKING"),
            "renewal_term_months": 12,
            "currency": "JPY",
            "annual_value": Decimal("30000000"),
            "terms": {
                "unit_price": Decimal("125000"),
                "annual_volume": Decimal("240"),
                "payment_terms": "月末締め翌月末払い",
                "price_adjustment": "軽油価格指数に連動。",
                "service_levels": "定時到着率97%以上。",
            },
            "language": "ja",
        },
        {
            "id": "C-SOFT-ERP",
            "title": "ERP licences and support",
            "supplier_id": "S-BERLIN-SOFT",
            "owner": "buyer@example.com",
            "start_date": ends("C-SOFT-ERP") - relativedelta(years=3),
            "end_date": ends("C-SOFT-ERP"),
            "notice_period_days": notice("C-SOFT-ERP"),
            "renewal_term_months": 36,
            "currency": "EUR",
            "annual_value": Decimal("240000"),
            "terms": {
                "unit_price": Decimal("1200"),
                "annual_volume": Decimal("200"),
                "payment_terms": "Annually in advance",
                "service_levels": "Priority-1 response within 4 hours.",
            },
            "language": "en",
        },
        {
            "id": "C-PACK-LABELS",
            "title": "ラベル印刷",
            "supplier_id": "S-TOKYO-PACK",
            "owner": "buyer@example.com",
            "start_date": ends("C-PACK-LABELS") - relativedelta(years=2),
            "end_date": ends("C-PACK-LABELS"),
            "notice_period_days": notice("C-PACK-LABELS"),
            "renewal_term_months": 12,
            "currency": "JPY",
            "annual_value": Decimal("6000000"),
            "terms": {"unit_price": Decimal("2.5"), "annual_volume": Decimal("2400000")},
            "language": "ja",
        },
    ]


def sample_contracts(today: date) -> list[ContractCreate]:
    return [
        parse_contract(data, row=row) for row, data in enumerate(_contracts_data(today), start=1)
    ]


SAMPLE_CONTRACT_IDS: tuple[str, ...] = tuple(_PROFILES)


def sample_deliveries(contracts: Sequence[ContractCreate], today: date) -> list[dbtools.Delivery]:
    out: list[dbtools.Delivery] = []
    for contract in contracts:
        profile = _PROFILES[contract.id]
        for i in range(profile.deliveries):
            delivered = today - timedelta(days=15 * i + 3)
            if delivered <= contract.start_date:
                break
            late = profile.late_every > 0 and i % profile.late_every == 0
            promised = delivered - timedelta(days=3) if late else delivered
            ordered = Decimal(100)
            defects = profile.defects_per_100 if i % 2 == 0 else 0
            out.append(
                dbtools.Delivery(
                    contract_id=contract.id,
                    supplier_id=contract.supplier_id,
                    order_date=promised - timedelta(days=14),
                    promised_date=promised,
                    delivered_date=delivered,
                    quantity_ordered=ordered,
                    quantity_accepted=ordered - defects,
                    defects=defects,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class Loaded:
    suppliers: int
    contracts: int
    deliveries: int


def load_samples(session: Session, *, today: date) -> Loaded:
    """Register the samples in the caller's transaction (all or nothing)."""
    for supplier in SUPPLIERS:
        upsert_supplier(session, supplier=supplier)
    contracts = sample_contracts(today)
    register_contracts(session, contracts=contracts)
    deliveries = dbtools.add_deliveries(session, sample_deliveries(contracts, today))
    for username, display, roles in SAMPLE_USERS:
        users.create_user(
            session,
            actor=SAMPLES_ACTOR,
            username=username,
            display_name=display,
            roles=roles,
            password=DEV_PASSWORD,
        )
    return Loaded(len(SUPPLIERS), len(contracts), deliveries)


SAMPLES_ACTOR = "renewals dev (samples)"

# Sign-in accounts for the local stack's web pages; the password is printed by `renewals dev`
# and only ever used on a laptop's own data.
DEV_PASSWORD = "renewals-dev"  # noqa: S105
SAMPLE_USERS = (
    ("buyer@example.com", "Sample buyer", ["procurement"]),
    ("legal@example.com", "Sample reviewer", ["legal"]),
    ("legal.lead@example.com", "Sample lead reviewer", ["legal", "legal_lead"]),
    ("admin@example.com", "Sample administrator", ["admin"]),
)
