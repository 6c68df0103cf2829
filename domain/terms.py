"""What a draft proposes, clause by clause, and why.

Pure functions. The scorecard's recommendation and the market signals become concrete terms,
each change with the finding that justifies it:

* renegotiate on a score below ``renew_min_total``: open ``renegotiation_price_cut_pct`` below
  the current price; a unit price that rose faster than the market index: ask the gap back;
  competition intensifying: ``competition_price_cut_pct`` more and better service levels;
  price index down: pass the fall on. The cuts add up to at most ``max_price_cut_pct``;
* price index up or down: an indexation clause with a cap of ``price_adjustment_cap_pct``;
* demand falling: commit to that much less volume, at most ``max_volume_cut_pct``;
* new entrants (or a re-tender): drop exclusivity;
* re-tender / terminate: a short bridge or transition term at the current price, with a notice
  period of at most ``bridge_notice_days`` so it can end when the new supply is ready;
* on-time delivery below target, SLA attainment below target or competition: a service-level
  clause with explicit targets.

Display strings are produced in the draft's language; the stored proposal keeps plain values.
"""

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.milestones import next_term_end
from domain.outcome import interim_extension_end
from domain.phrases import (
    finding,
    format_date,
    label,
    money,
    phrase,
    plain,
    signed,
    suppliers,
)
from models.contract import ContractRead
from models.drafts import CLAUSES, ClauseChange, Proposal, ProposedTerms
from models.scorecard import (
    Finding,
    KpiName,
    MarketSignalKind,
    Recommendation,
    Scorecard,
    ScoringConfig,
)

HUNDRED = Decimal(100)


def current_terms(contract: ContractRead) -> ProposedTerms:
    """The terms in force, in the same shape as a proposal (the end date is the current one),
    with the cap and the additional clauses the contract was last agreed on (a contract with
    neither gives the terms, and their :meth:`~ProposedTerms.as_json`, it always gave)."""
    return ProposedTerms(
        unit_price=contract.terms.unit_price,
        currency=contract.currency,
        annual_volume=contract.terms.annual_volume,
        exclusivity=contract.terms.exclusivity,
        payment_terms=contract.terms.payment_terms,
        term_months=contract.renewal_term_months,
        new_end_date=contract.end_date,
        notice_period_days=contract.notice_period_days,
        price_adjustment=contract.terms.price_adjustment,
        service_levels=contract.terms.service_levels,
        price_adjustment_cap_pct=contract.price_adjustment_cap_pct,
        additional_clauses=contract.additional_clauses,
    )


# ---------------------------------------------------------------------------- display

OPTIONAL_CLAUSES: tuple[str, ...] = ("price_adjustment_cap_pct", "additional_clauses")
"""Clauses a draft shows only when the contract or the proposal states them, after
:data:`~models.drafts.CLAUSES`: drafts of contracts without them read as they always did."""


def display(clause: str, value: Any, language: str, *, currency: str) -> str:
    """A clause value as the draft shows it. Accepts the typed value or its stored JSON form,
    so earlier versions read back from the database display the same way."""
    if clause == "unit_price":
        return f"{money(Decimal(str(value))):,} {currency}"
    if clause == "annual_volume":
        return f"{plain(Decimal(str(value))):,}"
    if clause == "exclusivity":
        return label("exclusive" if value else "non_exclusive", language)
    if clause == "term_months":
        n = int(value)
        if language == "ja":
            return f"{n}ヶ月"
        return f"{n} month" if n == 1 else f"{n} months"
    if clause == "new_end_date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        return format_date(day, language)
    if clause == "notice_period_days":
        n = int(value)
        if language == "ja":
            return f"{n}日"
        return f"{n} day" if n == 1 else f"{n} days"
    if clause == "price_adjustment_cap_pct":
        if value is None:
            return label("none", language)
        return f"{Decimal(str(value)).normalize():f} %"
    if clause == "additional_clauses":
        if not value:
            return label("none", language)
        return "\n".join(f"{i}. {c}" for i, c in enumerate(value, start=1))
    text = str(value).strip()
    return text if text else label("none", language)


def _changes(
    current: ProposedTerms,
    proposed: ProposedTerms,
    reasons: Mapping[str, list[Finding]],
    language: str,
) -> tuple[ClauseChange, ...]:
    now = current.model_dump()
    new = proposed.model_dump()
    stated = [c for c in OPTIONAL_CLAUSES if now[c] not in (None, ()) or new[c] not in (None, ())]
    rows = []
    for clause in (*CLAUSES, *stated):
        changed = now[clause] != new[clause]
        rows.append(
            ClauseChange(
                clause=clause,
                label=label(clause, language),
                current=display(clause, now[clause], language, currency=current.currency),
                proposed=display(clause, new[clause], language, currency=proposed.currency),
                changed=changed,
                reasons=tuple(reasons.get(clause, ())) if changed else (),
            )
        )
    return tuple(rows)


def compare_stored(
    before: Mapping[str, Any], after: Mapping[str, Any], language: str
) -> list[dict[str, str]]:
    """Clauses that differ between two stored proposals (earlier version -> this one)."""
    currency = str(after.get("currency") or before.get("currency") or "")
    return [
        {
            "clause": clause,
            "label": label(clause, language),
            "before": display(clause, before[clause], language, currency=currency),
            "after": display(clause, after[clause], language, currency=currency),
        }
        for clause in CLAUSES
        if clause in before and clause in after and before[clause] != after[clause]
    ]


# ---------------------------------------------------------------------------- renewal


def _scaled(value: Decimal, cut_pct: Decimal, like: Decimal) -> Decimal:
    """``value`` less ``cut_pct`` %, rounded to the precision ``like`` is written in: callers pass
    ``money(price)`` (at least cents) or ``plain(volume)`` (whole units stay whole)."""
    exponent = like.as_tuple().exponent
    places = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return (value * (HUNDRED - cut_pct) / HUNDRED).quantize(places, ROUND_HALF_UP)


def propose_renewal(
    contract: ContractRead, scorecard: Scorecard | None, cfg: ScoringConfig, *, language: str
) -> Proposal:
    policy = cfg.terms
    current = current_terms(contract)
    recommendation = scorecard.recommendation if scorecard else Recommendation.RENEGOTIATE
    market = scorecard.market if scorecard else None
    category = market.category if market else ""
    reasons: dict[str, list[Finding]] = {clause: [] for clause in (*CLAUSES, *OPTIONAL_CLAUSES)}

    def signal_figure(kind: MarketSignalKind) -> Decimal | None:
        s = market.signal(kind) if market else None
        return s.figure if s else None

    competition = signal_figure(MarketSignalKind.COMPETITION_INTENSIFYING)
    demand = signal_figure(MarketSignalKind.DEMAND_FALLING)
    entrants = signal_figure(MarketSignalKind.NEW_ENTRANTS)
    index_move = signal_figure(MarketSignalKind.PRICE_INDEX_UP) or signal_figure(
        MarketSignalKind.PRICE_INDEX_DOWN
    )

    # Term: a bridge while re-tendering, a transition when not renewing, else the usual term.
    bridge = recommendation in (Recommendation.RETENDER, Recommendation.TERMINATE)
    term_months = contract.renewal_term_months
    purpose = ("", "")
    if recommendation is Recommendation.RETENDER:
        term_months = policy.retender_bridge_months
        purpose = (label("bridge", "en"), label("bridge", "ja"))
        reasons["term_months"].append(finding("terms.term.retender", months=term_months))
    elif recommendation is Recommendation.TERMINATE:
        term_months = policy.terminate_transition_months
        purpose = (label("transition", "en"), label("transition", "ja"))
        reasons["term_months"].append(finding("terms.term.terminate", months=term_months))
    new_end = next_term_end(contract.end_date, term_months)
    reasons["new_end_date"] = list(reasons["term_months"]) or [
        finding("terms.term.next", months=term_months)
    ]

    # Price.
    unit_price = current.unit_price
    if bridge:
        reasons["unit_price"].append(
            finding("terms.price.bridge", months=term_months, purpose=purpose)
        )
    else:
        cut = Decimal(0)
        total = scorecard.total if scorecard else None
        if (
            recommendation is Recommendation.RENEGOTIATE
            and total is not None
            and total < cfg.recommendation.renew_min_total
            and policy.renegotiation_price_cut_pct > 0
        ):
            cut += policy.renegotiation_price_cut_pct
            reasons["unit_price"].append(
                finding(
                    "terms.price.renegotiate", cut=policy.renegotiation_price_cut_pct, total=total
                )
            )
        cost = scorecard.kpi(KpiName.COST_PERFORMANCE) if scorecard else None
        if cost is not None and cost.score is not None:
            gap = Decimal(cost.figures.get("gap_points", "0"))
            if gap > 0:
                cut += gap
                reasons["unit_price"].append(
                    finding(
                        "terms.price.cost_gap",
                        price_change=signed(Decimal(cost.figures["price_change_pct"])),
                        index_change=signed(Decimal(cost.figures["index_change_pct"])),
                        gap=gap,
                    )
                )
        if competition is not None and policy.competition_price_cut_pct > 0:
            cut += policy.competition_price_cut_pct
            reasons["unit_price"].append(
                finding(
                    "terms.price.competition",
                    change=signed(competition),
                    cut=policy.competition_price_cut_pct,
                )
            )
        index_down = signal_figure(MarketSignalKind.PRICE_INDEX_DOWN)
        if index_down is not None:
            cut += abs(index_down)
            reasons["unit_price"].append(
                finding("terms.price.index_down", category=category, change=abs(index_down))
            )
        if cut > policy.max_price_cut_pct:
            reasons["unit_price"].append(
                finding("terms.price.capped", total=cut, cap=policy.max_price_cut_pct)
            )
            cut = policy.max_price_cut_pct
        if cut > 0:
            unit_price = _scaled(current.unit_price, cut, money(current.unit_price))

    # Volume.
    annual_volume = current.annual_volume
    if demand is not None and current.annual_volume > 0:
        fall = abs(demand)
        volume_cut = min(fall, policy.max_volume_cut_pct)
        annual_volume = _scaled(current.annual_volume, volume_cut, plain(current.annual_volume))
        reasons["annual_volume"].append(
            finding(
                "terms.volume.demand" if volume_cut == fall else "terms.volume.capped",
                change=fall,
                cut=volume_cut,
            )
        )

    # Exclusivity.
    exclusivity = current.exclusivity
    if current.exclusivity and entrants is not None:
        exclusivity = False
        reasons["exclusivity"].append(
            finding(
                "terms.exclusivity.entrants",
                count=int(entrants),
                suppliers=suppliers(int(entrants)),
            )
        )
    elif current.exclusivity and bridge:
        exclusivity = False
        reasons["exclusivity"].append(finding("terms.exclusivity.retender"))

    # Notice.
    notice = current.notice_period_days
    if bridge and notice > policy.bridge_notice_days:
        notice = policy.bridge_notice_days
        reasons["notice_period_days"].append(
            finding("terms.notice.bridge", days=notice, purpose=purpose)
        )

    # Price adjustment: an index that moved calls for an indexation clause with a cap. The
    # contract's numeric cap goes with its clause: kept with it, and when the clause is rewritten
    # it becomes the cap the new clause states in words (a contract without one gets none, so
    # its drafts keep their terms and hashes).
    price_adjustment = current.price_adjustment
    cap_pct = current.price_adjustment_cap_pct
    if index_move is not None:
        price_adjustment = phrase(
            "clause.price_adjustment",
            language,
            {
                "months": policy.price_review_months,
                "category": category,
                "cap": policy.price_adjustment_cap_pct,
            },
        )
        reasons["price_adjustment"].append(
            finding(
                "terms.price_adjustment.index",
                category=category,
                change=signed(index_move),
                cap=policy.price_adjustment_cap_pct,
            )
        )
        if cap_pct is not None:
            cap_pct = policy.price_adjustment_cap_pct
            reasons["price_adjustment_cap_pct"] = list(reasons["price_adjustment"])

    # Service levels.
    sla_reasons: list[Finding] = []
    if competition is not None:
        sla_reasons.append(finding("terms.sla.competition"))
    on_time = scorecard.kpi(KpiName.ON_TIME_DELIVERY) if scorecard else None
    if (
        on_time is not None
        and on_time.score is not None
        and on_time.score < policy.on_time_target_pct
    ):
        sla_reasons.append(
            finding("terms.sla.on_time", rate=on_time.score, target=policy.on_time_target_pct)
        )
    responsiveness = scorecard.kpi(KpiName.RESPONSIVENESS) if scorecard else None
    if (
        responsiveness is not None
        and responsiveness.score is not None
        and responsiveness.score < policy.sla_attainment_target_pct
    ):
        hours = responsiveness.figures.get("median_first_response_hours") or "-"
        sla_reasons.append(
            finding("terms.sla.responsiveness", rate=responsiveness.score, hours=hours)
        )
    service_levels = current.service_levels
    if sla_reasons:
        service_levels = phrase(
            "clause.service_levels",
            language,
            {
                "on_time": policy.on_time_target_pct,
                "response": policy.first_response_hours,
                "resolution": policy.resolution_hours,
            },
        )
        reasons["service_levels"] = sla_reasons

    proposed = ProposedTerms(
        unit_price=unit_price,
        currency=current.currency,
        annual_volume=annual_volume,
        exclusivity=exclusivity,
        payment_terms=current.payment_terms,
        term_months=term_months,
        new_end_date=new_end,
        notice_period_days=notice,
        price_adjustment=price_adjustment,
        service_levels=service_levels,
        # The additional clauses agreed stay until a person's version changes them.
        price_adjustment_cap_pct=cap_pct,
        additional_clauses=current.additional_clauses,
    )
    return Proposal(terms=proposed, changes=_changes(current, proposed, reasons, language))


def propose_interim_extension(
    contract: ContractRead, extension_months: int, *, language: str
) -> Proposal:
    """The current terms carried over for ``extension_months`` past the end date: the same rule
    as the outcome that records the extension."""
    current = current_terms(contract)
    proposed = current.model_copy(
        update={
            "term_months": extension_months,
            "new_end_date": interim_extension_end(contract.end_date, extension_months),
        }
    )
    why = finding("terms.term.interim", end=contract.end_date, months=extension_months)
    reasons = {"term_months": [why]}
    return Proposal(terms=proposed, changes=_changes(current, proposed, reasons, language))
