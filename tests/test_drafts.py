"""Renegotiation and interim-extension drafts: golden renderings of every template in both
languages, the terms the market and the scorecard propose, template injection, organisation
overrides, the content hash, and versions through the activity on SQLite and PostgreSQL.

Regenerate the golden files after a deliberate wording change with
``UPDATE_GOLDEN=1 pytest tests/test_drafts.py`` and read the diff.
"""

import dataclasses
import os
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, UndefinedError
from temporalio.testing import ActivityEnvironment

from activities.drafting import (
    DraftInputs,
    EarlierVersion,
    make_environment,
    quote,
    render_draft,
)
from activities.renewal_activities import RenewalActivities
from domain.content_hash import content_hash
from domain.market import MarketAggregates, SeriesEnds, assess_market
from domain.scoring import Point, build_scorecard
from domain.terms import propose_interim_extension, propose_renewal
from models.contract import ContractRead
from models.renewal import (
    DraftKind,
    DraftRequest,
    OpenRenewal,
    Recommendation,
    Scorecard,
    ScoreRequest,
)
from models.scorecard import ScoringConfig
from models.tables import DraftRow
from store import renewals as renewal_store
from store.db import SessionFactory, transaction
from tests.performance_data import (
    AS_OF,
    EXPECTED_CURRENT,
    EXPECTED_MARKET,
    EXPECTED_PREVIOUS,
    golden_contract,
    insert_golden,
    pg_sessions_fixture,  # noqa: F401 - the pg_sessions fixture
)

D = Decimal
CFG = ScoringConfig()
GOLDEN = Path(__file__).parent / "golden" / "drafts"
PREPARED = date(2026, 9, 30)
INJECTION = "{{7*7}} {% if true %}yes{% endif %} <script>alert('x')</script> & ${7*7}"


def contract(language: str = "en", **overrides: Any) -> ContractRead:
    # The owner as stored: a new contract's owner is one e-mail address, but rows stored before
    # that rule read back (and render) with whatever they hold.
    stored_owner = overrides.pop("owner", None)
    create = golden_contract("C-G", "S-G", language=language, **overrides)
    data = create.model_dump() | ({"owner": stored_owner} if stored_owner is not None else {})
    return ContractRead(**data, current_term=1, status="active")


def golden_scorecard() -> Scorecard:
    return build_scorecard(
        contract_id="C-G",
        term=1,
        current=EXPECTED_CURRENT,
        previous=EXPECTED_PREVIOUS,
        market=assess_market(EXPECTED_MARKET, CFG.market),
        cfg=CFG,
    )


def inputs(kind: DraftKind, language: str, **kw: Any) -> DraftInputs:
    base: dict[str, Any] = {
        "kind": kind,
        "contract": contract(language),
        "supplier_name": "Golden Supplies K.K.",
        "version": 1,
        "prepared_on": PREPARED,
        "requested_by": "buyer@example.com",
        "scorecard": golden_scorecard(),
    }
    base.update(kw)
    return DraftInputs(**base)


def second_version(language: str) -> DraftInputs:
    """Version 2, answering a reviewer's request for changes on version 1."""
    env = make_environment()
    first = render_draft(env, inputs(DraftKind.RENEGOTIATION, language))
    return inputs(
        DraftKind.RENEGOTIATION,
        language,
        version=2,
        prepared_on=date(2026, 10, 2),
        requested_by="legal-a@example.com",
        answers_comment="Cap the price adjustment at 2 %\nand say so in clause 1.",
        earlier=(
            EarlierVersion(
                version=1,
                requested_by="buyer@example.com",
                answers_comment=None,
                content_hash=first.content_hash,
                proposed_terms=first.proposed_terms,
                created_at=datetime(2026, 9, 30, 9, tzinfo=UTC),
            ),
        ),
    )


# ---------------------------------------------------------------------------- golden renderings


CASES = [
    (language, kind)
    for language in ("en", "ja")
    for kind in (DraftKind.RENEGOTIATION, DraftKind.INTERIM_EXTENSION)
]


@pytest.mark.parametrize(("language", "kind"), CASES, ids=[f"{lang}-{k}" for lang, k in CASES])
def test_golden_rendering(language: str, kind: DraftKind) -> None:
    draft_inputs = (
        second_version(language)
        if kind is DraftKind.RENEGOTIATION
        else inputs(kind, language, extension_months=3)
    )
    rendered = render_draft(make_environment(), draft_inputs)
    for suffix, text in (("txt", rendered.body), ("html", rendered.body_html)):
        path = GOLDEN / language / f"{kind.value}.{suffix}"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert text == path.read_text(encoding="utf-8"), f"{path} differs (UPDATE_GOLDEN=1?)"


def test_golden_renegotiation_says_what_changes_from_what_to_what_and_why() -> None:
    en = render_draft(make_environment(), second_version("en"))
    ja = render_draft(make_environment(), second_version("ja"))
    # 1,050.00 less 3 % (score 75.7) and 3.0 points (price rose 5.0 % against an index +2.0 %).
    assert en.proposed_terms["unit_price"] == "987.00"
    assert "current:  1,050.00 JPY\n    proposed: 987.00 JPY" in en.body
    assert "opening position: 3 % below the current price, as the weighted score is 75.7" in (
        en.body
    )
    assert "ask for the 3.0-point gap back" in en.body
    assert "現行：1,050.00 JPY\n    提案：987.00 JPY" in ja.body
    # A new entrant: exclusivity goes.
    assert en.proposed_terms["exclusivity"] is False
    assert "current:  exclusive\n    proposed: non-exclusive" in en.body
    assert "新規参入者が 1 社現れたため" in ja.body
    # On-time 75.0 < 95 and SLA attainment 50.0 < 90: a service-level clause.
    assert "on-time delivery was 75.0 %, below the 95 % target" in en.body
    assert "SLA達成率が 50.0 %（初回回答までの時間の中央値 2.0 時間）" in ja.body
    # The rationale quotes the scorecard and the market with their figures.
    assert "Weighted score: 75.7 (grade B)" in en.body
    assert "trend declining (-22.5 points)" in en.body
    assert "総合評価：75.7 点（B 評価）" in ja.body
    labels = (
        "納期の遵守率",
        "品質管理の状況",
        "顧客対応のスピードと質",
        "コストパフォーマンスの変化",
    )
    for label in labels:
        assert label in ja.body
    assert "新規参入者の出現：2025年7月1日〜2026年6月30日にgoldenへ 1 社が新たに参入" in ja.body
    assert "契約見直しの必要性：契約の独占条件を再評価する" in ja.body
    # Version 2 quotes the comment it answers and lists version 1.
    assert "> Cap the price adjustment at 2 %\n> and say so in clause 1." in en.body
    assert "- version 1, 2026-09-30, requested by buyer@example.com" in en.body
    assert "本版は、legal-a@example.com からの第1版に対する修正依頼に対応したものです" in ja.body
    # The playbook's preparation steps close the Japanese draft.
    for step in ("情報収集", "交渉準備", "相手方とのコミュニケーション", "契約書のレビューと修正"):
        assert step in ja.body
    assert "迅速かつ誠実に対応" in ja.body


def test_interim_extension_carries_the_terms_over() -> None:
    for language, carried in (("en", "TERMS CARRIED OVER UNCHANGED"), ("ja", "引き継ぐ条件")):
        rendered = render_draft(
            make_environment(), inputs(DraftKind.INTERIM_EXTENSION, language, extension_months=4)
        )
        assert rendered.proposed_terms["new_end_date"] == "2027-04-30"
        assert rendered.proposed_terms["term_months"] == 4
        assert rendered.proposed_terms["unit_price"] == "1050.00"  # unchanged
        assert rendered.proposed_terms["exclusivity"] is True
        assert carried in rendered.body
    ja = render_draft(make_environment(), inputs(DraftKind.INTERIM_EXTENSION, "ja"))
    assert "暫定契約（期間延長）案" in ja.body
    assert "取引が途切れることの\nないよう" in ja.body


# ---------------------------------------------------------------------------- proposed terms


def card_with(**market: Any) -> Scorecard:
    base = {k: v for k, v in dataclasses.asdict(EXPECTED_MARKET).items() if k != "price_index"}
    base.update(
        {
            "competitors": SeriesEnds(None, None),
            "demand_index": SeriesEnds(None, None),
            "price_index": SeriesEnds(None, None),
            "new_entrants": None,
        }
    )
    base.update(market)
    assessment = assess_market(MarketAggregates(**base), CFG.market)
    return golden_scorecard().model_copy(update={"market": assessment})


def series(start: str, end: str) -> SeriesEnds:
    return SeriesEnds(Point(date(2025, 6, 1), D(start)), Point(date(2026, 6, 1), D(end)))


def changed(card: Scorecard, language: str = "en") -> dict[str, tuple[str, str, list[str]]]:
    proposal = propose_renewal(contract(language), card, CFG, language=language)
    return {
        c.clause: (c.current, c.proposed, [r.text(language) for r in c.reasons])
        for c in proposal.changes
        if c.changed
    }


def test_demand_falling_proposes_a_smaller_committed_volume() -> None:
    rows = changed(card_with(demand_index=series("100", "88")))
    assert rows["annual_volume"] == (
        "9,600",
        "8,448",
        ["demand fell 12.0 %: commit to 12.0 % less volume"],
    )


def test_volume_cut_is_capped() -> None:
    rows = changed(card_with(demand_index=series("100", "50")))
    _, proposed, reasons = rows["annual_volume"]
    assert proposed == "6,720"  # 30 % at most
    assert reasons == [
        "demand fell 50.0 %: commit to 30 % less volume (the most the policy allows)"
    ]


def test_competition_asks_for_a_price_cut_and_better_service() -> None:
    rows = changed(card_with(competitors=series("10", "13")))
    # 3 % opening + 3.0 points cost gap + 2 % competition = 8 % off 1,050.00.
    assert rows["unit_price"][1] == "966.00 JPY"
    assert rows["unit_price"][2][-1] == (
        "competition intensified (competing suppliers +30.0 %): ask for 2 % off"
    )
    assert "competition intensified: ask for better service levels" in rows["service_levels"][2]
    assert rows["service_levels"][1].startswith("At least 95 % of deliveries on time")


def test_price_index_up_proposes_indexation_with_the_configured_cap() -> None:
    rows = changed(card_with(price_index=series("100", "106")))
    current, proposed, reasons = rows["price_adjustment"]
    assert current == "(none)"
    assert proposed == (
        "The unit price is reviewed every 12 months against the golden price index for the month "
        "before the review. It moves with the index, by at most 5 % up or down at each review."
    )
    assert reasons == [
        "the golden price index moved +6.0 %: tie the price to the index with a cap of 5 % per "
        "review"
    ]
    cfg = ScoringConfig(terms=CFG.terms.model_copy(update={"price_adjustment_cap_pct": D(2)}))
    card = card_with(price_index=series("100", "106"))
    ja = propose_renewal(contract("ja"), card, cfg, language="ja")
    clause = next(c for c in ja.changes if c.clause == "price_adjustment")
    assert "上下 2 % を上限とする" in clause.proposed


def test_price_index_down_is_passed_on_and_the_cuts_are_capped() -> None:
    rows = changed(card_with(price_index=series("100", "90")))
    # 3 + 3.0 + 10.0 = 16 %, capped at 10 %: 1,050.00 x 0.9.
    _, proposed, reasons = rows["unit_price"]
    assert proposed == "945.00 JPY"
    assert reasons[-2:] == [
        "the golden price index fell 10.0 %: pass the fall on in the price",
        "the reductions add up to 16.0 %; the proposal is capped at 10 %",
    ]
    assert "price_adjustment" in rows


def test_retender_proposes_a_bridge_term() -> None:
    card = golden_scorecard().model_copy(update={"recommendation": Recommendation.RETENDER})
    rows = changed(card)
    assert rows["term_months"][1] == "6 months"
    assert rows["new_end_date"][1] == "2027-06-30"
    assert "notice_period_days" not in rows  # 30 days is already within the bridge's 30
    assert "unit_price" not in rows  # the bridge keeps the price
    assert rows["exclusivity"][1] == "non-exclusive"


def test_terminate_proposes_a_transition_term_with_short_notice() -> None:
    card = golden_scorecard().model_copy(update={"recommendation": Recommendation.TERMINATE})
    proposal = propose_renewal(contract("ja", notice_period_days=90), card, CFG, language="ja")
    rows = {c.clause: c for c in proposal.changes}
    assert rows["term_months"].proposed == "3ヶ月"
    assert rows["notice_period_days"].current == "90日"
    assert rows["notice_period_days"].proposed == "30日"
    assert "他の取引先へ円滑に移行するための 3ヶ月の移行期間" in rows["term_months"].reasons[0].ja


def test_renew_as_is_changes_only_the_dates() -> None:
    card = golden_scorecard().model_copy(
        update={"recommendation": Recommendation.RENEW_AS_IS, "market": None, "kpis": ()}
    )
    rows = changed(card)
    assert set(rows) == {"new_end_date"}


def test_interim_extension_proposal() -> None:
    proposal = propose_interim_extension(contract("en"), 3, language="en")
    assert [c.clause for c in proposal.changes if c.changed] == ["term_months", "new_end_date"]
    assert proposal.terms.new_end_date == date(2027, 3, 31)


# ---------------------------------------------------------------------------- injection


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("kind", list(DraftKind))
def test_user_text_renders_literally(language: str, kind: DraftKind) -> None:
    draft_inputs = inputs(
        kind,
        language,
        contract=contract(language, title=INJECTION, owner=INJECTION),
        supplier_name=INJECTION,
        answers_comment=INJECTION,
        requested_by=INJECTION,
    )
    rendered = render_draft(make_environment(), draft_inputs)
    # Text: exactly what was typed, not evaluated ("49" or "yes" alone would mean it was).
    assert rendered.body.count(INJECTION) >= 3
    assert "49 " not in rendered.body and "{{7*7}}" in rendered.body
    # HTML: the same text, escaped.
    escaped = (
        "{{7*7}} {% if true %}yes{% endif %} &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
        "&amp; ${7*7}"
    )
    assert rendered.body_html.count(escaped) >= 3
    assert "<script>" not in rendered.body_html


def test_comment_with_a_template_in_it_is_quoted_not_run() -> None:
    comment = "Please use {% for x in range(10**9) %}{{ x }}{% endfor %} and {{ config }}"
    rendered = render_draft(
        make_environment(), inputs(DraftKind.RENEGOTIATION, "en", answers_comment=comment)
    )
    assert f"> {comment}" in rendered.body


def test_quote_filter_quotes_every_line() -> None:
    assert quote("one\n\ntwo") == "> one\n>\n> two"


# ---------------------------------------------------------------------------- overrides, sandbox


def test_an_organisation_template_overrides_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "renegotiation.txt.j2").write_text(
        "ACME RENEWAL {{ contract.id }} v{{ draft.version }} for {{ supplier_name }}\n",
        encoding="utf-8",
    )
    env = make_environment(tmp_path)
    rendered = render_draft(env, inputs(DraftKind.RENEGOTIATION, "en", supplier_name="{{7*7}}"))
    assert rendered.body == "ACME RENEWAL C-G v1 for {{7*7}}\n"
    # Templates the organisation did not override still come from the package.
    assert rendered.body_html.startswith('<article class="draft draft-renegotiation" lang="en"')
    assert render_draft(env, inputs(DraftKind.RENEGOTIATION, "ja")).body.startswith("契約更新案")


def test_override_templates_stay_in_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    env = make_environment(tmp_path)
    for source, error in (
        ("{{ ''.__class__.__mro__ }}", (SecurityError, UndefinedError)),
        ("{{ changes.append(1) }}", (SecurityError,)),
        ("{{ nothing_by_this_name }}", (UndefinedError,)),
    ):
        (tmp_path / "en" / "renegotiation.txt.j2").write_text(source, encoding="utf-8")
        env = make_environment(tmp_path)
        with pytest.raises(error):
            render_draft(env, inputs(DraftKind.RENEGOTIATION, "en"))


def test_html_templates_are_autoescaped_and_text_templates_are_not() -> None:
    env = make_environment()
    for language in ("en", "ja"):
        for kind in DraftKind:
            select = env.autoescape
            assert callable(select)
            assert select(f"{language}/{kind.value}.html.j2") is True
            assert select(f"{language}/{kind.value}.txt.j2") is False


# ---------------------------------------------------------------------------- content hash


def test_hash_is_stable_for_the_same_inputs() -> None:
    a = render_draft(make_environment(), second_version("ja"))
    b = render_draft(make_environment(), second_version("ja"))
    assert a.content_hash == b.content_hash
    assert a.content_hash == content_hash(a.body, a.proposed_terms, a.body_html)


@pytest.mark.parametrize(
    "change",
    [
        {"supplier_name": "Golden Supplies Ltd."},
        {"answers_comment": "Cap it at 3 %"},
        {"version": 3},
        {"contract": contract("en", terms={"unit_price": D("1050.01"), "exclusivity": True})},
        {"contract": contract("en", terms={"unit_price": D("1050.00"), "annual_volume": D(9601)})},
        {"contract": contract("en", notice_period_days=31)},
        {"contract": contract("en", title="Packaging materials 2")},
    ],
)
def test_hash_changes_with_any_term_or_text(change: dict[str, Any]) -> None:
    base = render_draft(make_environment(), inputs(DraftKind.RENEGOTIATION, "en"))
    other = render_draft(make_environment(), inputs(DraftKind.RENEGOTIATION, "en", **change))
    assert other.content_hash != base.content_hash


def test_hash_covers_the_terms_and_the_html_too() -> None:
    r = render_draft(make_environment(), inputs(DraftKind.RENEGOTIATION, "en"))
    assert content_hash(r.body, {**r.proposed_terms, "unit_price": "1.00"}, r.body_html) != (
        r.content_hash
    )
    assert content_hash(r.body, r.proposed_terms, r.body_html + " ") != r.content_hash
    # Drafts stored before HTML renderings were hashed over text and terms only.
    assert content_hash(r.body, r.proposed_terms) != r.content_hash


# ---------------------------------------------------------------------------- versions in the db


def _activity_env(at: datetime) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, current_attempt_scheduled_time=at)
    return env


def check_versions(sessions: SessionFactory, suffix: str, language: str) -> None:
    cid, sid, category = f"C-V{suffix}", f"S-V{suffix}", f"golden{suffix}"
    with transaction(sessions) as s:
        insert_golden(s, contract_id=cid, supplier_id=sid, category=category, language=language)
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
    activities = RenewalActivities(sessions)
    at = datetime(2026, 9, 30, 9, tzinfo=UTC)
    card = _activity_env(at).run(
        activities.score_renewal,
        ScoreRequest(contract_id=cid, term=1, workflow_id="w", as_of=AS_OF),
    )
    assert card.total == D("75.7") and card.recommendation is Recommendation.RENEGOTIATE

    def draft(version: int, by: str, comment: str | None) -> Any:
        return _activity_env(at).run(
            activities.render_draft,
            DraftRequest(
                contract_id=cid,
                term=1,
                workflow_id="w",
                kind=DraftKind.RENEGOTIATION,
                version=version,
                requested_by=by,
                answers_comment=comment,
                scorecard=card,
            ),
        )

    v1 = draft(1, "buyer@example.com", None)
    v2 = draft(2, "legal-a@example.com", "Explain the volume cut.")
    assert draft(2, "legal-a@example.com", "Explain the volume cut.") == v2  # retried: same row
    assert v1.content_hash != v2.content_hash
    with transaction(sessions) as s:
        first = renewal_store.read_draft(
            s, contract_id=cid, term=1, kind=DraftKind.RENEGOTIATION, version=1
        )
        second = renewal_store.read_draft(
            s, contract_id=cid, term=1, kind=DraftKind.RENEGOTIATION, version=2
        )
        versions = renewal_store.list_draft_versions(
            s, contract_id=cid, term=1, kind=DraftKind.RENEGOTIATION
        )
    assert [v.version for v in versions] == [1, 2]
    assert first.hash_verified and second.hash_verified
    assert first.content_hash == v1.content_hash and second.content_hash == v2.content_hash
    assert second.answers_comment == "Explain the volume cut."
    assert "> Explain the volume cut." in second.body
    assert v1.content_hash[:12] in second.body  # the history names version 1 by its hash
    assert second.body_html is not None and "<blockquote" in second.body_html
    assert second.proposed_terms["unit_price"] == "987.00"
    # A stored text changed after the fact no longer matches its hash.
    with transaction(sessions) as s:
        row = s.get(DraftRow, s.query(DraftRow.id).filter_by(content_hash=v1.content_hash).scalar())
        assert row is not None
        row.body = row.body.replace("987.00", "900.00")
    with transaction(sessions) as s:
        tampered = renewal_store.read_draft(
            s, contract_id=cid, term=1, kind=DraftKind.RENEGOTIATION, version=1
        )
    assert not tampered.hash_verified


def test_versions_on_sqlite(sessions: SessionFactory) -> None:
    check_versions(sessions, "", "ja")


@pytest.mark.postgres
def test_versions_on_postgres(pg_sessions: SessionFactory) -> None:
    check_versions(pg_sessions, f"-{uuid.uuid4().hex[:8]}", "en")


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("kind", list(DraftKind))
def test_every_template_renders_without_a_scorecard(language: str, kind: DraftKind) -> None:
    """A contract registered after it expired gets its interim extension without any scorecard;
    a renegotiation drafted without one says so instead of inventing figures."""
    rendered = render_draft(make_environment(), inputs(kind, language, scorecard=None))
    assert rendered.body and rendered.body_html.startswith("<article")
    if kind is DraftKind.RENEGOTIATION:
        assert ("No scorecard was available" if language == "en" else "評価データがありません") in (
            rendered.body
        )
        # Without figures there is no score-based cut, and no market-driven change.
        assert rendered.proposed_terms["unit_price"] == "1050.00"
        assert rendered.proposed_terms["exclusivity"] is True
