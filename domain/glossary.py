"""The glossary's words (../shared/domain/glossary.md) for every code a person reads: KPIs,
recommendations, milestones and dates, outcomes, versions, clauses, decisions, supplier answers,
channels, term models, roles and the stages of a renewal, in English and Japanese.

Letters, mails, pages, calendars and the CLI all take their words from here, so a stored code
(``gather_facts``) reads the same everywhere and never reaches a person as such. The sentences
built around them are :mod:`domain.phrases`.
"""

from typing import Final

__all__ = ["LABELS", "STAGE_LABELS", "Bilingual", "bilingual", "label", "stage_label"]

Bilingual = tuple[str, str]

LABELS: Final[dict[str, Bilingual]] = {
    # KPIs
    "on_time_delivery": ("On-time delivery", "納期の遵守率"),
    "quality": ("Quality", "品質管理の状況"),
    "responsiveness": ("Responsiveness", "顧客対応のスピードと質"),
    "cost_performance": ("Cost performance", "コストパフォーマンスの変化"),
    "relationship": ("Relationship", "取引関係（満足度・継続意向・課題対応）"),
    "repeat_rate": ("Repeat rate", "リピート率"),
    # recommendations
    "renew_as_is": ("renew as is", "現行条件のまま更新"),
    "renegotiate": ("renegotiate", "条件を見直して更新"),
    "retender": ("re-tender", "再入札（相見積もり）"),
    "terminate": ("do not renew", "更新しない（契約終了）"),
    # milestones and the dates people read (glossary)
    "gather_facts": ("gather facts and score", "更新準備の開始（情報収集・評価）"),
    "first_discussion": ("first discussion", "最初の話し合い"),
    "final_terms": ("final terms", "最終条件の提示・合意"),
    "send_by": ("last day to send the notice", "解約予告の発送期限"),
    "expiry": ("end date", "契約満了日"),
    "notice_deadline": ("notice deadline", "解約予告期限"),
    # outcomes of a term (glossary)
    "renewed": ("renewed", "更新済み"),
    "rolled_over": ("rolled over by its terms", "自動更新された"),
    "not_renewed": ("not renewed", "更新せず終了"),
    "lapsed": ("lapsed", "契約期限切れ"),
    "interim_extension": ("interim extension", "暫定契約（暫定延長）"),
    "terminated": ("terminated", "解約"),
    # versions
    "renegotiation": ("renegotiation proposal", "条件見直しの提案"),
    "non_renewal_notice": ("non-renewal notice", "契約不更新の通知"),
    "transition_plan": ("transition plan", "契約終了に向けた移行計画"),
    # trends
    "improving": ("improving", "改善"),
    "stable": ("stable", "横ばい"),
    "declining": ("declining", "悪化"),
    # market signals
    "competition_intensifying": ("competition intensifying", "競争が激化"),
    "demand_falling": ("demand falling", "需要の減少"),
    "new_entrants": ("new entrants", "新規参入者の出現"),
    "price_index_up": ("price index up", "価格指数の上昇"),
    "price_index_down": ("price index down", "価格指数の下落"),
    # clauses
    "unit_price": ("Unit price", "単価"),
    "annual_volume": ("Committed annual volume", "年間契約数量"),
    "exclusivity": ("Exclusivity", "独占条件"),
    "term_months": ("Term", "契約期間"),
    "new_end_date": ("End date", "満了日"),
    "notice_period_days": ("Notice period", "解約予告期間"),
    "payment_terms": ("Payment terms", "支払条件"),
    "price_adjustment": ("Price adjustment", "価格調整条項"),
    "service_levels": ("Service levels", "サービスレベル"),
    "price_adjustment_cap_pct": ("Price adjustment cap", "価格調整の上限"),
    "additional_clauses": ("Additional clauses", "追加条項"),
    # negotiation plan limits (妥協点), internal: never in the supplier's letter
    "limit_at_most": ("at most", "上限"),
    "limit_at_least": ("at least", "下限"),
    "limit_not_granted": ("non-exclusive only", "非独占のみ"),
    "limit_stated": ("must be stated", "明記が必要"),
    "limit_as_today": ("as today", "現行どおり"),
    # values
    "exclusive": ("exclusive", "独占"),
    "non_exclusive": ("non-exclusive", "非独占"),
    "none": ("(none)", "（定めなし）"),
    "insufficient": ("insufficient data", "データ不足"),
    "bridge": ("bridge", "つなぎ"),
    "transition": ("transition", "移行"),
    # indicators
    "price_index": ("price index", "価格指数"),
    "demand_index": ("demand index", "需要指数"),
    "competitor_count": ("competing suppliers", "競合サプライヤー数"),
    # decisions, supplier answers (glossary)
    "approve": ("approve", "承認"),
    "reject": ("reject", "却下"),
    "request_changes": ("request changes", "修正依頼"),
    "accepted": ("accepted", "合意"),
    "countered": ("counter-offer", "対案"),
    "declined": ("declined", "辞退"),
    # how a notice was sent
    "post": ("registered post", "郵便（内容証明など）"),
    "courier": ("courier", "宅配便"),
    "email": ("e-mail", "電子メール"),
    "hand": ("handed over", "手渡し"),
    "portal": ("contract portal", "契約ポータル"),
    # term models, the safe default, a contract's status
    "fixed": ("fixed term", "期間満了型"),
    "auto_renewing": ("auto-renewing", "自動更新型"),
    "evergreen": ("evergreen", "期間の定めなし"),
    "non_renewal": ("non-renewal notice", "契約不更新の通知"),
    "active": ("active", "有効"),
    # roles (auth.roles.Role), as people read them
    "role_procurement": ("procurement", "調達"),
    "role_legal": ("legal", "法務"),
    "role_admin": ("administrator", "管理者"),
    "role_procurement_lead": ("procurement lead", "調達責任者"),
    "role_legal_lead": ("legal lead", "法務責任者"),
    "role_reader": ("reader", "閲覧者"),
    # milestone states
    "pending": ("pending", "未了"),
    "done": ("done", "完了"),
    "done_late": ("done late", "完了（遅延）"),
    "skipped": ("skipped", "省略"),
}

# The stage of a term's renewal, as people read it (renewals.stage and the read models' two
# extra values, not_started and contract_terminated).
STAGE_LABELS: Final[dict[str, Bilingual]] = {
    "not_started": ("not started", "未開始"),
    "waiting": ("waiting for preparation", "更新準備の開始待ち"),
    "facts_gathered": ("facts gathered and scored", "情報収集・評価済み"),
    "legal_review": ("in legal review", "法務レビュー中"),
    "approved": ("approved by legal", "法務承認済み"),
    "escalated": ("escalated", "エスカレーション中"),
    "final_terms_issued": ("final terms issued", "最終条件の提示済み"),
    "changes_requested": ("changes requested", "修正依頼中"),
    "offer_presented": ("offer presented", "条件提示済み"),
    "agreed": ("agreed", "合意済み"),
    "termination_pending": ("termination pending", "解約手続き中"),
    "lapsed": ("lapsed", "契約期限切れ"),
    "completed": ("completed", "完了"),
    "contract_terminated": ("terminated", "解約"),
}


def label(key: str, language: str) -> str:
    en, ja = LABELS[key]
    return ja if language == "ja" else en


def stage_label(stage: str, language: str) -> str:
    """A renewal's stage in the reader's language; an unknown stage (a newer worker's) is
    shown as stored rather than failing the page."""
    words = STAGE_LABELS.get(stage)
    if words is None:
        return stage
    return words[1] if language == "ja" else words[0]


def bilingual(key: str) -> Bilingual:
    return LABELS[key]
