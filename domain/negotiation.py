"""The negotiation plan (交渉準備): a target and a limit (妥協点) for each negotiable term, and the
terms of a version that fall outside a limit. Internal to the company: legal's review shows the
flags, the supplier's letter never shows the plan.

The target of every term is the system's opening position, draft v1's terms
(:func:`domain.terms.propose_renewal`, its reasons quoted), with the price adjustment's cap as a
number when the index moved. The limits, each with its reason in both languages:

* unit price: at most the current price; when the category's price index rose and no reduction
  is sought, at most the current price plus that rise, capped at ``price_adjustment_cap_pct``
  (the market's rise may be passed on, never more). A version in another currency is flagged:
  its price cannot be compared;
* annual volume: at most today's committed volume; with demand falling, at most today's less
  ``1 - volume_concession_share`` of the planned cut (:class:`~models.negotiation.
  NegotiationPolicy`);
* exclusivity: not granted when v1 drops it (new entrants, a re-tender) or when today's contract
  has none; otherwise no limit;
* term: renew as is, at most the usual term plus ``renew_term_extra_months`` (at most 120);
  renegotiate, at most the usual term; re-tender or terminate, at most the bridge or transition
  term (it must not turn into a renewal);
* notice period: at least today's (shorter notice lets the supplier leave before a replacement
  is ready); for a bridge or transition term at most ``bridge_notice_days``, so it can end;
* payment terms: at least today's payment days when they can be read ("Net 60", "60 days",
  "60日"), else today's wording only;
* price adjustment: its cap stated, at most ``price_adjustment_cap_pct`` per review; today's
  wording and v1's (which state their cap in words) need no numeric cap;
* service levels: when v1 states them, a version must not drop them.

Pure functions: the caller passes the contract, the scorecard and the settings.
"""

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from domain.phrases import Bilingual, bilingual, finding, label, money, plain, quantize
from domain.terms import current_terms, display, propose_renewal
from domain.versions import display_clause
from models.contract import ContractRead
from models.drafts import ProposedTerms
from models.negotiation import (
    LimitBreach,
    LimitKind,
    NegotiationPlan,
    NegotiationPolicy,
    PlanTerm,
)
from models.scorecard import Finding, MarketSignalKind, Recommendation, Scorecard, ScoringConfig

__all__ = ["limit_breaches", "payment_days", "plan_negotiation"]

HUNDRED = Decimal(100)
_NET_DAYS = re.compile(r"\bnet\s*(\d{1,3})\b", re.IGNORECASE)
_DAYS = re.compile(r"(\d{1,3})\s*(?:days?\b|日)", re.IGNORECASE)
_LANGUAGES = ("en", "ja")


def payment_days(payment_terms: str) -> int | None:
    """The days to pay that payment terms state ("Net 60", "60 days", "60日"), or None."""
    match = _NET_DAYS.search(payment_terms) or _DAYS.search(payment_terms)
    return int(match[1]) if match else None


def _like(value: Decimal, like: Decimal) -> Decimal:
    exponent = like.as_tuple().exponent
    return value.quantize(
        Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0), ROUND_HALF_UP
    )


def _value_text(clause: str, value: Decimal, language: str, currency: str) -> str:
    if clause == "price_adjustment":
        return f"{plain(value)} %"
    if clause == "payment_terms":
        return display("notice_period_days", int(value), language, currency=currency)
    if clause in ("term_months", "notice_period_days"):
        return display(clause, int(value), language, currency=currency)
    return display(clause, value, language, currency=currency)


def _limit_text(
    clause: str,
    kind: LimitKind | None,
    value: Decimal | None,
    accepted: tuple[str, ...],
    language: str,
    currency: str,
) -> str:
    if kind in (LimitKind.AT_MOST, LimitKind.AT_LEAST) and value is not None:
        shown = _value_text(clause, value, language, currency)
        return f"{label(f'limit_{kind.value}', language)} {shown}"
    if kind is LimitKind.AS_TODAY:
        return f"{label('limit_as_today', language)} ({' / '.join(accepted)})"
    if kind is LimitKind.NOT_GRANTED or kind is LimitKind.STATED:
        return label(f"limit_{kind.value}", language)
    return label("none", language)


def _pair(clause: str, value: Decimal, currency: str) -> Bilingual:
    en, ja = (_value_text(clause, value, lang, currency) for lang in _LANGUAGES)
    return en, ja


class _Builder:
    def __init__(
        self, targets: ProposedTerms, language: str, reasons: dict[str, tuple[Finding, ...]]
    ):
        self.targets = targets
        self.language = language
        self.reasons = reasons
        self.terms: list[PlanTerm] = []

    def add(
        self,
        clause: str,
        kind: LimitKind | None,
        *,
        value: Decimal | None = None,
        accepted: Iterable[str] = (),
        why: Iterable[Finding] = (),
    ) -> None:
        kept = tuple(dict.fromkeys(t.strip() for t in accepted if t.strip()))
        cur = self.targets.currency
        self.terms.append(
            PlanTerm(
                clause=clause,
                label=label(clause, self.language),
                target=display_clause(clause, self.targets, self.language),
                limit=_limit_text(clause, kind, value, kept, self.language, cur),
                limit_kind=kind,
                limit_value=value,
                accepted_texts=kept,
                target_reasons=self.reasons.get(clause, ()),
                limit_reasons=tuple(why),
            )
        )


def _as_today(clause: str, today: ProposedTerms) -> Finding:
    shown = tuple(display_clause(clause, today, lang) for lang in _LANGUAGES)
    return finding("plan.as_today", clause=bilingual(clause), today=(shown[0], shown[1]))


def plan_negotiation(
    contract: ContractRead,
    scorecard: Scorecard | None,
    cfg: ScoringConfig,
    *,
    policy: NegotiationPolicy | None = None,
    language: str | None = None,
) -> NegotiationPlan:
    """The plan of the contract's current term from its scorecard (None: not scored) and the
    market signals in it; the rules are the module's."""
    policy = policy or NegotiationPolicy()
    lang = language or contract.language
    terms_policy = cfg.terms
    today = current_terms(contract)
    proposal = propose_renewal(contract, scorecard, cfg, language=lang)
    recommendation = scorecard.recommendation if scorecard else Recommendation.RENEGOTIATE
    market = scorecard.market if scorecard else None

    def signal(kind: MarketSignalKind) -> Decimal | None:
        s = market.signal(kind) if market else None
        return s.figure if s else None

    index_up = signal(MarketSignalKind.PRICE_INDEX_UP)
    index_moved = index_up is not None or signal(MarketSignalKind.PRICE_INDEX_DOWN) is not None
    cap = terms_policy.price_adjustment_cap_pct
    targets = proposal.terms
    if index_moved:
        targets = targets.model_copy(update={"price_adjustment_cap_pct": cap})
    reasons = {c.clause: c.reasons for c in proposal.changes if c.changed}
    bridge = recommendation in (Recommendation.RETENDER, Recommendation.TERMINATE)
    purpose = bilingual("bridge" if recommendation is Recommendation.RETENDER else "transition")
    plan = _Builder(targets, lang, reasons)

    # Unit price: a ceiling.
    price = today.unit_price
    if index_up is not None and index_up > 0 and targets.unit_price >= price and not bridge:
        rise = min(index_up, cap)
        ceiling = _like(price * (HUNDRED + rise) / HUNDRED, money(price))
        why = finding(
            "plan.price.index",
            ceiling=_pair("unit_price", ceiling, today.currency),
            category=market.category if market else "",
            rise=index_up,
            cap=cap,
        )
    else:
        ceiling, why = price, _as_today("unit_price", today)
    plan.add("unit_price", LimitKind.AT_MOST, value=ceiling, why=[why])

    # Annual volume: a ceiling on the commitment.
    volume = today.annual_volume
    if targets.annual_volume < volume:
        cut = volume - targets.annual_volume
        limit = _like(volume - (1 - policy.volume_concession_share) * cut, plain(volume))
        why = finding(
            "plan.volume.demand",
            limit=_pair("annual_volume", limit, today.currency),
            share=quantize(policy.volume_concession_share * HUNDRED),
            cut=quantize(HUNDRED * cut / volume),
        )
    else:
        limit, why = volume, _as_today("annual_volume", today)
    plan.add("annual_volume", LimitKind.AT_MOST, value=limit, why=[why])

    # Exclusivity.
    if today.exclusivity and not targets.exclusivity:
        plan.add("exclusivity", LimitKind.NOT_GRANTED, why=reasons.get("exclusivity", ()))
    elif not today.exclusivity:
        plan.add("exclusivity", LimitKind.NOT_GRANTED, why=[_as_today("exclusivity", today)])
    else:
        plan.add("exclusivity", None)

    # Term.
    usual = contract.renewal_term_months
    if bridge:
        plan.add(
            "term_months",
            LimitKind.AT_MOST,
            value=Decimal(targets.term_months),
            why=reasons.get("term_months", ()),
        )
    else:
        extra = (
            policy.renew_term_extra_months if recommendation is Recommendation.RENEW_AS_IS else 0
        )
        months = min(120, usual + extra)
        why = finding(
            "plan.term",
            limit=months,
            months=usual,
            extra=months - usual,
            recommendation=bilingual(recommendation.value),
        )
        plan.add("term_months", LimitKind.AT_MOST, value=Decimal(months), why=[why])

    # Notice period.
    if bridge:
        days = terms_policy.bridge_notice_days
        why = finding("terms.notice.bridge", days=days, purpose=purpose)
        plan.add("notice_period_days", LimitKind.AT_MOST, value=Decimal(days), why=[why])
    else:
        why = finding("plan.notice.keep", days=today.notice_period_days)
        plan.add(
            "notice_period_days",
            LimitKind.AT_LEAST,
            value=Decimal(today.notice_period_days),
            why=[why],
        )

    # Payment terms.
    days_now = payment_days(today.payment_terms)
    if days_now is not None:
        plan.add(
            "payment_terms",
            LimitKind.AT_LEAST,
            value=Decimal(days_now),
            why=[_as_today("payment_terms", today)],
        )
    else:
        plan.add(
            "payment_terms",
            LimitKind.AS_TODAY,
            accepted=[today.payment_terms],
            why=[_as_today("payment_terms", today)],
        )

    # Price adjustment: a stated cap.
    plan.add(
        "price_adjustment",
        LimitKind.AT_MOST,
        value=cap,
        accepted=[today.price_adjustment, targets.price_adjustment],
        why=[finding("plan.cap", cap=cap), *reasons.get("price_adjustment", ())],
    )

    # Service levels.
    if targets.service_levels.strip():
        why_sla = reasons.get("service_levels") or (finding("plan.sla.kept"),)
        plan.add("service_levels", LimitKind.STATED, why=why_sla)
    else:
        plan.add("service_levels", None)

    return NegotiationPlan(
        contract_id=contract.id,
        term=contract.current_term,
        language=lang,
        recommendation=recommendation,
        currency=today.currency,
        targets=targets,
        terms=tuple(plan.terms),
    )


# ---------------------------------------------------------------------------- the check


def _breach(
    plan: NegotiationPlan, item: PlanTerm, clause: str, value: Bilingual, limit: Bilingual
) -> LimitBreach:
    lang = plan.language
    return LimitBreach(
        clause=clause,
        label=label(clause, lang),
        value=value[1] if lang == "ja" else value[0],
        limit=limit[1] if lang == "ja" else limit[0],
        reason=finding("plan.breach", clause=bilingual(clause), value=value, limit=limit),
        because=item.limit_reasons,
    )


def _shown(clause: str, terms: ProposedTerms) -> Bilingual:
    en, ja = (display_clause(clause, terms, lang) for lang in _LANGUAGES)
    return en, ja


def _limit_pair(plan: NegotiationPlan, item: PlanTerm) -> Bilingual:
    en, ja = (
        _limit_text(
            item.clause, item.limit_kind, item.limit_value, item.accepted_texts, lang, plan.currency
        )
        for lang in _LANGUAGES
    )
    return en, ja


def _outside(item: PlanTerm, value: Decimal | None) -> bool:
    if item.limit_value is None:
        return False
    if value is None:
        return True
    if item.limit_kind is LimitKind.AT_MOST:
        return value > item.limit_value
    if item.limit_kind is LimitKind.AT_LEAST:
        return value < item.limit_value
    return False


def _breached(item: PlanTerm, terms: ProposedTerms, currency: str) -> bool:
    clause = item.clause
    if clause == "unit_price":
        return terms.currency != currency or _outside(item, terms.unit_price)
    if clause in ("annual_volume", "term_months", "notice_period_days"):
        return _outside(item, Decimal(getattr(terms, clause)))
    if clause == "exclusivity":
        return item.limit_kind is LimitKind.NOT_GRANTED and terms.exclusivity
    if clause == "payment_terms":
        if item.limit_kind is LimitKind.AS_TODAY:
            return terms.payment_terms.strip() not in item.accepted_texts
        days = payment_days(terms.payment_terms)
        return _outside(item, Decimal(days) if days is not None else None)
    if clause == "price_adjustment":
        cap = terms.price_adjustment_cap_pct
        if cap is not None:
            return _outside(item, cap)
        text = terms.price_adjustment.strip()
        return bool(text) and text not in item.accepted_texts
    if clause == "service_levels":
        return item.limit_kind is LimitKind.STATED and not terms.service_levels.strip()
    return False


def limit_breaches(plan: NegotiationPlan, terms: ProposedTerms) -> tuple[LimitBreach, ...]:
    """The terms of a version outside the plan's limits, in the plan's order: each with its
    value, the limit and the reason. An empty tuple: every term is within its limit. A price
    adjustment is reported on its cap (``price_adjustment_cap_pct``), the value at fault."""
    found: list[LimitBreach] = []
    for item in plan.terms:
        if item.limit_kind is None or not _breached(item, terms, plan.currency):
            continue
        clause = "price_adjustment_cap_pct" if item.clause == "price_adjustment" else item.clause
        found.append(_breach(plan, item, clause, _shown(clause, terms), _limit_pair(plan, item)))
    return tuple(found)
