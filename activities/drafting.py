"""Renegotiation and interim-extension drafts, rendered from Jinja2 templates.

Templates run in a sandbox with StrictUndefined: a template that names a missing value fails
loudly instead of printing an empty clause. User text (supplier names, reviewer comments) is
passed as data, never compiled as a template, so ``{{7*7}}`` in a comment stays ``{{7*7}}``.
Organisations override any template by putting a file of the same name in
``RENEWALS_TEMPLATE_DIR/<language>/``.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from models.contract import ContractRead
from models.renewal import DraftKind, Recommendation, Scorecard
from planning.milestones import next_term_end


@dataclass(frozen=True, slots=True)
class RenderedDraft:
    body: str
    proposed_terms: dict[str, Any]
    content_hash: str


def make_environment(override_dir: Path | None = None) -> SandboxedEnvironment:
    loaders: list[Any] = []
    if override_dir is not None:
        loaders.append(FileSystemLoader(str(override_dir)))
    loaders.append(PackageLoader("activities", "templates"))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )


def content_hash(body: str, proposed_terms: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"body": body, "terms": proposed_terms}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def propose_terms(contract: ContractRead, scorecard: Scorecard | None) -> dict[str, Any]:
    """What the draft proposes, clause by clause, as plain JSON-able values."""
    recommendation = scorecard.recommendation if scorecard else Recommendation.RENEGOTIATE
    unit_price = contract.terms.unit_price
    if recommendation is Recommendation.RENEGOTIATE:
        # A weaker score is leverage: open at 3 % below the current price.
        unit_price = (unit_price * Decimal("0.97")).quantize(Decimal("0.01"))
    new_end = next_term_end(contract.end_date, contract.renewal_term_months)
    return {
        "unit_price": str(unit_price),
        "annual_volume": str(contract.terms.annual_volume),
        "exclusivity": contract.terms.exclusivity,
        "payment_terms": contract.terms.payment_terms,
        "term_months": contract.renewal_term_months,
        "new_end_date": new_end.isoformat(),
        "notice_period_days": contract.notice_period_days,
        "price_adjustment": contract.terms.price_adjustment
        or "annual review against the category price index, capped at 3 %",
        "service_levels": contract.terms.service_levels or "on-time delivery at least 95 %",
    }


def current_terms(contract: ContractRead) -> dict[str, Any]:
    return {
        "unit_price": str(contract.terms.unit_price),
        "annual_volume": str(contract.terms.annual_volume),
        "exclusivity": contract.terms.exclusivity,
        "payment_terms": contract.terms.payment_terms,
        "term_months": contract.renewal_term_months,
        "new_end_date": contract.end_date.isoformat(),
        "notice_period_days": contract.notice_period_days,
        "price_adjustment": contract.terms.price_adjustment,
        "service_levels": contract.terms.service_levels,
    }


def compare(current: dict[str, Any], proposed: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"clause": k, "current": current.get(k), "proposed": v, "changed": current.get(k) != v}
        for k, v in proposed.items()
    ]


def render_draft(
    env: SandboxedEnvironment,
    *,
    kind: DraftKind,
    contract: ContractRead,
    supplier_name: str,
    version: int,
    scorecard: Scorecard | None,
    answers_comment: str | None,
    extension_months: int = 3,
) -> RenderedDraft:
    if kind is DraftKind.INTERIM_EXTENSION:
        extended_end = contract.end_date + relativedelta(months=extension_months)
        proposed: dict[str, Any] = {
            **current_terms(contract),
            "term_months": extension_months,
            "new_end_date": extended_end.isoformat(),
        }
    else:
        proposed = propose_terms(contract, scorecard)
    template = env.get_template(f"{contract.language}/{kind.value}.txt.j2")
    body = template.render(
        contract=contract,
        supplier_name=supplier_name,
        version=version,
        scorecard=scorecard,
        answers_comment=answers_comment,
        proposed=proposed,
        comparison=compare(current_terms(contract), proposed),
    )
    return RenderedDraft(
        body=body, proposed_terms=proposed, content_hash=content_hash(body, proposed)
    )
