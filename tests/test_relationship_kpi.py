"""The relationship in the renewal (issue 17): the fifth KPI from the term's follow-up reviews
(hand-computed, bounds, insufficient data, trend sign, weights), totals unchanged for contracts
without follow-ups, the recommendation when the supplier does not want to continue, the repeat
rate, the score activity's scorecard for a term with follow-ups (SQLite and PostgreSQL), and
the supplier page with both in English and Japanese."""

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.renewal_activities import RenewalActivities
from domain.recommendation import recommend
from domain.relationship import RelationshipInput, RepeatRate, repeat_rate, summarise
from domain.scoring import KpiResult, build_scorecard, weighted_total
from models.followups import (
    ActionState,
    FollowUpActionInput,
    FollowUpDue,
    FollowUpInput,
    SupplierIntent,
)
from models.relationship import FollowUpObservation, IssueObservation, RelationshipFacts
from models.renewal import OpenRenewal, ScoreRequest
from models.scorecard import (
    Finding,
    KpiName,
    KpiScore,
    KpiWeights,
    MinimumData,
    Recommendation,
    Scorecard,
    ScoringConfig,
    Trend,
)
from models.tables import ContractRow, RenewalRow, ScorecardRow
from portal.deps import SESSION_COOKIE
from store import followups as followup_store
from store import renewals as renewal_store
from store.db import SessionFactory, transaction
from store.reads.supplier_page import supplier_repeat_rate
from tests.factories import register
from tests.performance_data import (
    AS_OF,
    EXPECTED_CURRENT,
    EXPECTED_PREVIOUS,
    insert_golden,
    pg_sessions_fixture,  # noqa: F401 - the pg_sessions fixture
)
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal
from tests.web_i18n_helpers import english_left

NAME = "Tokyo Packaging K.K."  # what tests.factories.register names a new supplier

D = Decimal
CFG = ScoringConfig()
TERM_START = date(2023, 12, 31)  # the golden contract's first term, from 2024-01-01 (exclusive)


def review(on: str, csat: int, nps: int, wants: bool | None = True) -> FollowUpObservation:
    return FollowUpObservation(
        held_on=date.fromisoformat(on), csat=csat, nps=nps, supplier_wants_to_continue=wants
    )


def facts(
    *reviews: FollowUpObservation, issues: tuple[IssueObservation, ...] = ()
) -> RelationshipFacts:
    return RelationshipFacts(
        follow_ups=reviews,
        issues=issues,
        supplier_wants_to_continue=reviews[-1].supplier_wants_to_continue if reviews else None,
    )


def given_facts(f: RelationshipFacts, end: date = AS_OF) -> RelationshipInput:
    return RelationshipInput(period_start=TERM_START, period_end=end, facts=f)


THREE = facts(
    review("2025-04-01", 5, 9),
    review("2025-10-01", 4, 7),
    review("2026-04-01", 3, 6, wants=False),
    issues=(
        IssueObservation(opened_on=date(2025, 4, 1), closed_on=date(2025, 4, 21)),  # 20 days
        IssueObservation(opened_on=date(2025, 10, 1)),  # open 272 days by AS_OF: overdue
        IssueObservation(opened_on=date(2026, 6, 20)),  # open 10 days: not counted
    ),
)


def card(f: RelationshipFacts | None, repeat: RepeatRate | None = None) -> Scorecard:
    return build_scorecard(
        contract_id="C-G",
        term=1,
        current=EXPECTED_CURRENT,
        previous=EXPECTED_PREVIOUS,
        market=None,
        cfg=CFG,
        relationship=given_facts(f) if f is not None else None,
        repeat=repeat,
    )


# ---------------------------------------------------------------------------- the KPI


def test_the_kpi_hand_computed_with_its_evidence_in_both_languages() -> None:
    s = summarise(given_facts(THREE), CFG)
    # CSAT 5, 4, 3: mean 4.0 -> 25 x 3 = 75.0; NPS 9, 7, 6: mean 7.3 -> 73.0; issues: one
    # closed in 20 days (within 30), one open past 30 days, one open 10 days (not counted):
    # 1 / 2 = 50.0. Score 0.4 x 75 + 0.4 x 73 + 0.2 x 50 = 69.2.
    assert (s.satisfaction, s.willingness, s.resolution) == (D("75.0"), D("73.0"), D("50.0"))
    assert s.score == D("69.2")
    assert (s.closed, s.open_overdue, s.open_within_target) == (1, 1, 1)
    assert s.mean_resolution_days == D("20.0")
    # Review levels 95, 72.5, 55: the later half (55) less the earlier half (95).
    assert s.trend_points == D("-40.0") and s.trend is Trend.DECLINING

    sc = card(THREE)
    kpi = sc.kpi(KpiName.RELATIONSHIP)
    assert kpi is not None and kpi.score == D("69.2") and kpi.weight == D("0.10")
    assert (kpi.period_start, kpi.period_end) == (TERM_START, AS_OF)
    assert kpi.figures["open_overdue"] == "1" and kpi.figures["trend"] == "declining"
    assert kpi.evidence == (
        "3 follow-up reviews, 2024-01-01 to 2026-06-30: satisfaction (CSAT) 4.0 of 5 on average "
        "(5 → 3), willingness to continue 7.3 of 10 on average (9 → 6), declining across the "
        "term (-40.0 points); 1 of 2 issues resolved within 30 days (closed in 20.0 days on "
        "average; 1 still open past 30 days)"
    )
    assert kpi.evidence_ja == (
        "2024年1月1日〜2026年6月30日のフォローアップ（定期レビュー） 3 件：顧客満足度（CSAT）は"
        "平均 4.0（5段階、5 → 3）、継続意向は平均 7.3（10段階、9 → 6）、期間を通じて悪化"
        "（-40.0 ポイント）。課題 2 件のうち 1 件を 30 日以内に解決（解決までの平均 20.0 日、"
        "30 日を過ぎても未解決 1 件）"
    )


def test_too_few_reviews_is_insufficient_data_and_the_total_is_as_before() -> None:
    one = facts(review("2026-04-01", 5, 10))
    sc = card(one)
    kpi = sc.kpi(KpiName.RELATIONSHIP)
    assert kpi is not None and kpi.score is None and kpi.insufficient
    assert kpi.evidence.startswith("insufficient data: 1 follow-up reviews recorded")
    assert kpi.evidence_ja.startswith("データ不足：")
    assert "評価には 2 件以上が必要" in kpi.evidence_ja
    assert sc.total == D("75.7") and sc.weight_coverage == 1
    assert sc.previous_total == D("98.2") and sc.total_change == D("-22.5")
    assert sc.trend is Trend.DECLINING
    # The minimum is a setting.
    cfg = ScoringConfig(minimum=MinimumData(follow_ups=1))
    assert summarise(given_facts(one), cfg).score == D("100.0")


def test_without_relationship_facts_the_scorecard_is_the_one_it_always_was() -> None:
    sc = card(None)
    assert [k.name for k in sc.kpis] == [
        "on_time_delivery",
        "quality",
        "responsiveness",
        "cost_performance",
    ]
    assert [k.weight for k in sc.kpis] == [D("0.35"), D("0.3"), D("0.2"), D("0.15")]
    assert sc.total == D("75.7") and sc.weight_coverage == 1


def test_a_scored_relationship_enters_the_total_and_the_change_compares_like_with_like() -> None:
    sc = card(THREE)
    # 0.315 x 75 + 0.27 x 97.5 + 0.18 x 50 + 0.135 x 68 + 0.1 x 69.2 = 75.05
    assert sc.total == D("75.1")
    # The previous window had no relationship score: the change is that of the total
    # without it (75.7 against 98.2).
    assert sc.total_change == D("-22.5") and sc.trend is Trend.DECLINING
    decline = next(f for f in sc.findings if f.code.startswith("rec.decline"))
    assert decline.code == "rec.decline.performance"
    assert "(98.2 → 75.7)" in decline.en and "取引関係を除く" in decline.ja


def test_weights_default_to_the_old_ones_scaled_and_older_settings_give_the_relationship_none() -> (
    None
):
    w = KpiWeights()
    assert sum(w.as_dict().values()) == 1
    assert w.as_dict()[KpiName.RELATIONSHIP] == D("0.10")
    old = {"on_time_delivery": D("0.35"), "quality": D("0.30"), "responsiveness": D("0.20")}
    for name, weight in old.items():
        assert w.as_dict()[KpiName(name)] == weight * D("0.9")
    older = KpiWeights(
        on_time_delivery=D("0.4"),
        quality=D("0.3"),
        responsiveness=D("0.2"),
        cost_performance=D("0.1"),
    )
    assert older.relationship == 0
    with pytest.raises(ValueError, match="add up to 1"):
        KpiWeights(on_time_delivery=D("0.4"), relationship=D("0.2"))


# ---------------------------------------------------------------------------- properties

reviews_strategy = st.lists(
    st.tuples(st.integers(1, 5), st.integers(0, 10), st.sampled_from([True, False, None])),
    max_size=8,
)
issues_strategy = st.lists(
    st.tuples(st.integers(0, 800), st.one_of(st.none(), st.integers(0, 400))), max_size=8
)


def _facts(
    reviews: list[tuple[int, int, bool | None]], issues: list[tuple[int, int | None]]
) -> RelationshipFacts:
    base = date(2024, 1, 1)
    obs = tuple(
        FollowUpObservation(
            held_on=base + timedelta(days=30 * (i + 1)), csat=c, nps=n, supplier_wants_to_continue=w
        )
        for i, (c, n, w) in enumerate(reviews)
    )
    found = tuple(
        IssueObservation(
            opened_on=base + timedelta(days=o),
            closed_on=base + timedelta(days=o + c) if c is not None else None,
        )
        for o, c in issues
    )
    return RelationshipFacts(follow_ups=obs, issues=found)


@settings(max_examples=200, deadline=None)
@given(reviews=reviews_strategy, issues=issues_strategy)
def test_the_score_is_within_0_and_100_or_insufficient(
    reviews: list[tuple[int, int, bool | None]], issues: list[tuple[int, int | None]]
) -> None:
    s = summarise(given_facts(_facts(reviews, issues), date(2026, 6, 30)), CFG)
    if len(reviews) < CFG.minimum.follow_ups:
        assert s.score is None
    else:
        assert s.score is not None and D(0) <= s.score <= D(100)
    for part in (s.satisfaction, s.willingness, s.resolution):
        assert part is None or D(0) <= part <= D(100)


@settings(max_examples=200, deadline=None)
@given(reviews=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 10)), min_size=2, max_size=8))
def test_the_trend_sign_follows_the_reviews(reviews: list[tuple[int, int]]) -> None:
    def trend_of(rows: list[tuple[int, int]]) -> Decimal:
        f = _facts([(c, n, None) for c, n in rows], [])
        points = summarise(given_facts(f), CFG).trend_points
        assert points is not None
        return points

    forward = trend_of(reviews)
    assert trend_of(list(reversed(reviews))) == -forward  # the other way round, the other sign
    ascending = sorted(reviews, key=lambda r: 25 * (r[0] - 1) + 10 * r[1])
    assert trend_of(ascending) >= 0  # never declining when every review is at least as good
    s = summarise(given_facts(_facts([(c, n, None) for c, n in reviews], [])), CFG)
    assert (s.trend is Trend.IMPROVING) == (forward > CFG.trend_stable_points)
    assert (s.trend is Trend.DECLINING) == (forward < -CFG.trend_stable_points)


scores_strategy = st.lists(
    st.one_of(st.none(), st.decimals(0, 100, places=1, allow_nan=False, allow_infinity=False)),
    min_size=4,
    max_size=4,
)
OLD = ScoringConfig(
    weights=KpiWeights(
        on_time_delivery=D("0.35"),
        quality=D("0.30"),
        responsiveness=D("0.20"),
        cost_performance=D("0.15"),
    )
)
PERFORMANCE = (
    KpiName.ON_TIME_DELIVERY,
    KpiName.QUALITY,
    KpiName.RESPONSIVENESS,
    KpiName.COST_PERFORMANCE,
)


def scaled(w_rel: Decimal) -> ScoringConfig:
    """The old weights scaled by (1 - w_rel), and w_rel for the relationship."""
    old = OLD.weights
    keep = 1 - w_rel
    return ScoringConfig(
        weights=KpiWeights(
            on_time_delivery=old.on_time_delivery * keep,
            quality=old.quality * keep,
            responsiveness=old.responsiveness * keep,
            cost_performance=old.cost_performance * keep,
            relationship=w_rel,
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    scores=scores_strategy,
    w_rel=st.decimals(0, D("0.5"), places=2, allow_nan=False, allow_infinity=False),
)
def test_totals_without_follow_ups_are_unchanged(
    scores: list[Decimal | None], w_rel: Decimal
) -> None:
    """With the old weights (and no relationship KPI at all), and with the old ones scaled by
    (1 - w_rel) plus w_rel for the relationship (the defaults are w_rel = 0.10), whether the
    relationship is listed as insufficient data or not listed: the weights add up to 1, and the
    total and the weight coverage are the same."""
    cfg = scaled(w_rel)
    assert sum(cfg.weights.as_dict().values()) == 1
    performance = tuple(
        KpiResult(n, s, 1, {}, ("", "")) for n, s in zip(PERFORMANCE, scores, strict=True)
    )
    before = weighted_total(performance, OLD)
    insufficient = (*performance, KpiResult(KpiName.RELATIONSHIP, None, 1, {}, ("", "")))
    for kpis in (performance, insufficient):
        now = weighted_total(kpis, cfg)
        assert (now.total, now.coverage, now.scored) == (
            before.total,
            before.coverage,
            before.scored,
        )
    assert scaled(D("0.10")).weights == CFG.weights


# ---------------------------------------------------------------------------- recommendation


def test_a_supplier_that_does_not_want_to_continue_leads_to_re_tender_with_the_reason() -> None:
    sc = card(THREE)
    assert sc.recommendation is Recommendation.RETENDER
    lead = sc.findings[0]
    assert lead.code == "rec.supplier_not_continuing"
    assert lead.en == (
        "at the latest follow-up review (2026-04-01) the supplier said it does not want to "
        "continue: re-tender to secure the supply"
    )
    assert "再入札（相見積もり）" in lead.ja and "2026年4月1日" in lead.ja
    # The score and the term's follow-up trend follow, as facts without their own verdict.
    codes = [f.code for f in sc.findings]
    assert codes[1] == "rec.score" and "rec.relationship.trend" in codes
    assert sc.findings[1].en == "weighted score 75.1 (grade B)"
    assert sc.findings[1].ja == "総合評価 75.1 点（B 評価）"
    assert not any(c.startswith("rec.score.") for c in codes)
    trend = next(f for f in sc.findings if f.code == "rec.relationship.trend")
    assert "satisfaction (CSAT) 5 → 3, willingness to continue 9 → 6" in trend.en
    assert "取引関係は悪化（-40.0 ポイント）" in trend.ja


def _high(wants: bool | None) -> tuple[Recommendation, tuple[Finding, ...]]:
    scores = tuple(
        KpiScore(name=n.value, score=D(95), weight=D("0.2"), evidence="e") for n in KpiName
    )
    s = summarise(
        given_facts(facts(review("2025-06-01", 5, 10), review("2026-03-01", 5, 10, wants))), CFG
    )
    return recommend(
        kpis=scores,
        total=D(95),
        grade="A",
        coverage=D(1),
        previous_total=None,
        total_change=None,
        market=None,
        cfg=CFG,
        relationship=s,
    )


def test_renew_as_is_cites_the_trend_and_a_supplier_leaving_turns_it_to_re_tender() -> None:
    rec, reasons = _high(True)
    assert rec is Recommendation.RENEW_AS_IS
    assert [r.code for r in reasons] == [
        "rec.score.renew",
        "rec.renew_clean",
        "rec.relationship.trend",
    ]
    rec, reasons = _high(None)  # undecided: no change
    assert rec is Recommendation.RENEW_AS_IS
    rec, reasons = _high(False)
    assert rec is Recommendation.RETENDER
    assert [r.code for r in reasons] == [
        "rec.supplier_not_continuing",
        "rec.score",
        "rec.relationship.trend",
    ]


def test_a_supplier_leaving_without_enough_data_for_a_score_is_still_a_re_tender() -> None:
    s = summarise(
        given_facts(facts(review("2025-06-01", 3, 5), review("2026-03-01", 2, 3, False))), CFG
    )
    rec, reasons = recommend(
        kpis=(KpiScore(name="quality", score=None, weight=D(1), evidence="none"),),
        total=None,
        grade=None,
        coverage=D(0),
        previous_total=None,
        total_change=None,
        market=None,
        cfg=CFG,
        relationship=s,
    )
    assert rec is Recommendation.RETENDER
    assert [r.code for r in reasons][:2] == [
        "rec.supplier_not_continuing",
        "rec.insufficient.noted",
    ]
    assert "renegotiate" not in " ".join(r.en for r in reasons)


def test_a_declining_relationship_rules_out_renewing_as_is() -> None:
    scores = tuple(
        KpiScore(name=n.value, score=D(95), weight=D("0.2"), evidence="e") for n in KpiName
    )
    s = summarise(given_facts(facts(review("2025-06-01", 5, 10), review("2026-03-01", 4, 8))), CFG)
    assert s.trend_points == D("-22.5")
    rec, reasons = recommend(
        kpis=scores,
        total=D(95),
        grade="A",
        coverage=D(1),
        previous_total=None,
        total_change=None,
        market=None,
        cfg=CFG,
        relationship=s,
    )
    assert rec is Recommendation.RENEGOTIATE
    assert [r.code for r in reasons] == ["rec.score.renew", "rec.relationship.trend"]


def test_no_review_in_the_term_says_so() -> None:
    sc = card(RelationshipFacts())
    codes = [f.code for f in sc.findings]
    assert "rec.relationship.none" in codes
    assert sc.total == D("75.7") and sc.recommendation is Recommendation.RENEGOTIATE


# ---------------------------------------------------------------------------- repeat rate


def test_repeat_rate_counts_renewed_and_rolled_over_against_every_ended_term() -> None:
    rate = repeat_rate(
        ["renewed", "rolled_over", "not_renewed", "lapsed", "terminated", "interim_extension", None]
    )
    assert (rate.renewed, rate.ended, rate.rate_pct) == (2, 5, D("40.0"))
    assert repeat_rate([]).rate_pct is None
    sc = card(None, repeat=RepeatRate(renewed=2, ended=3))
    last = sc.findings[-1]
    assert last.code == "rec.repeat_rate"
    assert last.en == "repeat rate of the supplier: 2 of its 3 ended terms were renewed (66.7 %)"
    assert last.ja == "取引先のリピート率：終了した契約期間 3 件のうち 2 件が更新（66.7 %）"
    none = card(None, repeat=RepeatRate(renewed=0, ended=0)).findings[-1]
    assert none.code == "rec.repeat_rate.none" and "リピート率" in none.ja


def _ended_terms(sessions: SessionFactory, supplier_id: str, outcomes: list[str | None]) -> None:
    with transaction(sessions) as s:
        for i, outcome in enumerate(outcomes):
            cid = f"C-{supplier_id}-{i}"
            register(s, id=cid, supplier_id=supplier_id)
            renewal_store.open_renewal(
                s,
                request=OpenRenewal(
                    contract_id=cid,
                    term=1,
                    workflow_id=f"renewal/{cid}/term-1",
                    requested_by="buyer@example.com",
                    term_end_date=date(2027, 12, 31),
                ),
            )
            s.execute(
                update(RenewalRow).where(RenewalRow.contract_id == cid).values(outcome=outcome)
            )


def test_the_supplier_repeat_rate_from_the_renewals_outcomes(sessions: SessionFactory) -> None:
    _ended_terms(sessions, "S-R", ["renewed", "rolled_over", "lapsed", None])
    with transaction(sessions) as s:
        rate = supplier_repeat_rate(s, supplier_id="S-R")
        assert (rate.renewed, rate.ended) == (2, 3)
        assert supplier_repeat_rate(s, supplier_id="S-NONE").ended == 0


# ---------------------------------------------------------------------------- the activity


def _activity_env(at: datetime) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, current_attempt_scheduled_time=at)
    return env


def _record(s: Session, cid: str, seq: int, due: date, csat: int, nps: int, intent: str) -> int:
    stored = followup_store.record_followup(
        s,
        slot=FollowUpDue(
            contract_id=cid,
            term=1,
            sequence=seq,
            due=due,
            period_start=due - timedelta(days=180),
            period_end=due,
        ),
        data=FollowUpInput(
            csat=csat,
            nps=nps,
            supplier_continue=SupplierIntent(intent),
            actions=(
                FollowUpActionInput(
                    description=f"action {seq}",
                    owner="procurement@example.com",
                    due=due + timedelta(days=30),
                    state=ActionState.OPEN,
                ),
            ),
        ),
        scorecard=None,
        by="procurement@example.com",
        now=datetime.combine(due, datetime.min.time(), tzinfo=UTC),
    )
    return stored.actions[0].id


def check_score_activity(sessions: SessionFactory, suffix: str) -> None:
    cid, sid, category = f"C-RK{suffix}", f"S-RK{suffix}", f"golden-rk{suffix}"
    with transaction(sessions) as s:
        insert_golden(s, contract_id=cid, supplier_id=sid, category=category)
        renewal_store.open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                requested_by="buyer@example.com",
                term_end_date=date(2026, 12, 31),
            ),
        )
        first = _record(s, cid, 1, date(2025, 4, 1), 5, 9, "yes")
        _record(s, cid, 2, date(2025, 10, 1), 4, 7, "yes")
        _record(s, cid, 3, date(2026, 4, 1), 3, 6, "no")
        followup_store.close_action(s, action_id=first, now=datetime(2025, 4, 21, 9, tzinfo=UTC))
    activities = RenewalActivities(sessions)
    request = ScoreRequest(contract_id=cid, term=1, workflow_id="w", as_of=AS_OF)
    sc = _activity_env(datetime(2026, 6, 30, 9, tzinfo=UTC)).run(activities.score_renewal, request)
    kpi = sc.kpi(KpiName.RELATIONSHIP)
    assert kpi is not None
    # Actions: the first closed in 20 days; the second (2025-10-01) open past 30 days; the
    # third (2026-04-01) open 90 days by the scoring day: past 30 days too. 1 / 3 = 33.3.
    assert kpi.figures["open_overdue"] == "2" and kpi.figures["resolution_points"] == "33.3"
    # 0.4 x 75 + 0.4 x 73 + 0.2 x 33.3 = 65.86
    assert kpi.score == D("65.9") and kpi.records == 3
    assert (kpi.period_start, kpi.period_end) == (TERM_START, AS_OF)
    assert sc.recommendation is Recommendation.RETENDER
    assert sc.findings[0].code == "rec.supplier_not_continuing"
    assert sc.findings[-1].code == "rec.repeat_rate.none"
    # Stored with the renewal, the KPI in its JSON; a retry returns the stored card.
    with transaction(sessions) as s:
        renewal = renewal_store.get_renewal(s, contract_id=cid, term=1)
        stored = renewal_store.find_scorecard(s, renewal=renewal)
    assert stored is not None and stored.kpi("relationship") == kpi
    again = _activity_env(datetime(2026, 7, 1, tzinfo=UTC)).run(activities.score_renewal, request)
    assert again == sc


def test_the_score_activity_carries_the_relationship_kpi_on_sqlite(
    sessions: SessionFactory,
) -> None:
    check_score_activity(sessions, "")


@pytest.mark.postgres
def test_the_score_activity_carries_the_relationship_kpi_on_postgres(
    pg_sessions: SessionFactory,
) -> None:
    check_score_activity(pg_sessions, f"-{uuid.uuid4().hex[:8]}")


# ---------------------------------------------------------------------------- supplier page


def _supplier_page_data(p: Portal) -> tuple[str, list[str]]:
    """A supplier with three contracts: one renewed, one not renewed (repeat rate 50 %), the
    third with a term-1 scorecard carrying the relationship KPI."""
    sid = f"S-{uuid.uuid4().hex[:8]}"
    ids = [f"C-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with transaction(p.sessions) as s:
        for cid, outcome in zip(ids, ("renewed", "not_renewed", None), strict=True):
            register(s, id=cid, supplier_id=sid)
            renewal = RenewalRow(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal-{cid}-1",
                requested_by="buyer@example.com",
                term_end_date=date(2026, 12, 31),
                stage="completed" if outcome else "facts_gathered",
                outcome=outcome,
            )
            s.add(renewal)
            s.flush()
            if outcome is None:
                sc = card(THREE).model_copy(update={"contract_id": cid})
                s.add(
                    ScorecardRow(
                        renewal_id=renewal.id,
                        total=sc.total,
                        grade=sc.grade,
                        recommendation=sc.recommendation.value,
                        body=sc.model_dump(mode="json"),
                    )
                )
        typed = []
        for cid in ids:
            row = s.get(ContractRow, cid)
            assert row is not None
            typed += [row.title, row.owner]
    return sid, [sid, *ids, *typed]


def _browser(p: Portal, lang: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies["procurement"][0]},
        headers={"Accept-Language": lang},
    )


async def test_the_supplier_page_shows_the_repeat_rate_and_the_relationship_kpi(
    db_portal: Portal,
) -> None:
    sid, allowed = _supplier_page_data(db_portal)
    async with _browser(db_portal, "en") as http:
        page = await http.get(f"/suppliers/{sid}")
    assert page.status_code == 200
    assert "<dt>Repeat rate</dt>" in page.text
    assert "50% (1 of 2 ended terms renewed or rolled over)" in page.text
    assert '<th scope="row">Relationship</th>' in page.text
    assert "3 follow-up reviews" in page.text
    assert ">31.5%<" in page.text and ">10%<" in page.text  # the weights as configured
    async with _browser(db_portal, "ja") as http:
        page = await http.get(f"/suppliers/{sid}")
    assert page.status_code == 200
    assert "<dt>リピート率</dt>" in page.text
    assert "50%（終了した契約期間 2 件のうち、更新済み・自動更新された 1 件）" in page.text
    assert '<th scope="row">取引関係（満足度・継続意向・課題対応）</th>' in page.text
    assert "顧客満足度（CSAT）は平均 4.0" in page.text
    assert english_left(page.text, allowed=[*allowed, NAME, "general", "JP", "golden"]) == []


async def test_a_supplier_without_ended_terms_says_so(db_portal: Portal) -> None:
    sid = f"S-{uuid.uuid4().hex[:8]}"
    with transaction(db_portal.sessions) as s:
        register(s, id=f"C-{uuid.uuid4().hex[:8]}", supplier_id=sid)
    for lang, text in (("en", "No term has ended yet"), ("ja", "終了した契約期間はまだありません")):
        async with _browser(db_portal, lang) as http:
            page = await http.get(f"/suppliers/{sid}")
        assert page.status_code == 200 and text in page.text
