"""The table of the engine's sentences, by code: (English, Japanese) with ``{name}``
placeholders for the figures. :mod:`domain.phrases` fills them; nothing else reads this table.
Kept apart because it grows with every new finding while the functions that render it do not.
"""

from typing import Final

from domain.glossary import Bilingual
from domain.reason_table import REASONS

__all__ = ["PHRASES"]

PHRASES: Final[dict[str, Bilingual]] = {
    # ------------------------------------------------------------------ KPI evidence
    "kpi.on_time": (
        "{on_time} of {deliveries} deliveries arrived on or before the promised date{grace} "
        "({rate} %); {late} late, by {avg_days_late} days on average; {period}",
        "{period}の納品 {deliveries} 件のうち {on_time} 件が納期どおり{grace}"
        "（遵守率 {rate} %）。遅延 {late} 件、平均 {avg_days_late} 日の遅れ",
    ),
    "kpi.on_time.grace": (" (allowing {days} days' grace)", "（猶予 {days} 日を含む）"),
    "kpi.quality": (
        "{accepted} of {ordered} units accepted ({accepted_pct} %); {defects} defective and "
        "{returned} returned units ({defect_pct} % of ordered); {deliveries} deliveries, {period}",
        "{period}の発注数量 {ordered} のうち {accepted} を受け入れ（受入率 {accepted_pct} %）。"
        "不良 {defects}・返品 {returned}（不良率 {defect_pct} %）、納品 {deliveries} 件",
    ),
    "kpi.responsiveness": (
        "{met} of {due} tickets got a first response and a resolution within their SLA "
        "({rate} %); median first response {median_hours} h; {open_within_sla} still open "
        "within their SLA and not counted; {period}",
        "{period}の問い合わせ・トラブル {due} 件のうち {met} 件がSLA内に初回回答・解決"
        "（達成率 {rate} %）。初回回答までの時間の中央値 {median_hours} 時間。"
        "SLA期限前で対応中の {open_within_sla} 件は集計外",
    ),
    "kpi.cost": (
        "unit price {price_start} → {price_end} {currency} ({price_change} %) from {from_date}; "
        "the {category} price index {index_start} → {index_end} ({index_change} %): {relation}",
        "{from_date}以降、単価 {price_start} → {price_end} {currency}（{price_change} %）、"
        "{category}の価格指数 {index_start} → {index_end}（{index_change} %）：{relation}",
    ),
    "kpi.cost.above": ("{gap} points above the market", "市場より {gap} ポイント割高に推移"),
    "kpi.cost.below": ("{gap} points below the market", "市場より {gap} ポイント割安に推移"),
    "kpi.cost.level": ("in line with the market", "市場並みに推移"),
    "kpi.insufficient.deliveries": (
        "insufficient data: {count} deliveries in {period}; at least {minimum} needed",
        "データ不足：{period}の納品は {count} 件（評価には {minimum} 件以上が必要）",
    ),
    "kpi.insufficient.tickets": (
        "insufficient data: {count} tickets with a known outcome in {period} "
        "({opened} opened); at least {minimum} needed",
        "データ不足：{period}に対応結果の分かる問い合わせ・トラブルは {count} 件"
        "（起票 {opened} 件、評価には {minimum} 件以上が必要）",
    ),
    "kpi.insufficient.prices": (
        "insufficient data: no unit price recorded up to {date}",
        "データ不足：{date}までの単価の記録がありません",
    ),
    "kpi.insufficient.index": (
        "insufficient data: {count} price index values for {category} from {from_date} to "
        "{date}; two different periods are needed",
        "データ不足：{from_date}〜{date}の{category}の価格指数は {count} 件"
        "（異なる2時点の値が必要）",
    ),
    "period": ("{start} to {end}", "{start}〜{end}"),
    "kpi.relationship": (
        "{reviews} follow-up reviews, {period}: satisfaction (CSAT) {csat_mean} of 5 on average "
        "({csat_first} → {csat_latest}), willingness to continue {nps_mean} of 10 on average "
        "({nps_first} → {nps_latest}), {trend}; {resolution}",
        "{period}のフォローアップ（定期レビュー） {reviews} 件：顧客満足度（CSAT）は平均 "
        "{csat_mean}（5段階、{csat_first} → {csat_latest}）、継続意向は平均 {nps_mean}"
        "（10段階、{nps_first} → {nps_latest}）、{trend}。{resolution}",
    ),
    "kpi.relationship.trend": (
        "{trend} across the term ({points} points)",
        "期間を通じて{trend}（{points} ポイント）",
    ),
    "kpi.relationship.no_trend": (
        "one review, so no trend",
        "レビューが1件のため傾向は測定できません",
    ),
    "kpi.relationship.issues": (
        "{within} of {judged} issues resolved within {target} days "
        "(closed in {mean_days} days on average; {overdue} still open past {target} days)",
        "課題 {judged} 件のうち {within} 件を {target} 日以内に解決"
        "（解決までの平均 {mean_days} 日、{target} 日を過ぎても未解決 {overdue} 件）",
    ),
    "kpi.relationship.no_issues": (
        "no issue closed or open past {target} days ({open} open within them, not counted)",
        "解決済みの課題、{target} 日を過ぎても未解決の課題はありません"
        "（{target} 日以内で対応中の {open} 件は集計外）",
    ),
    "kpi.insufficient.follow_ups": (
        "insufficient data: {count} follow-up reviews recorded in {period}; "
        "at least {minimum} needed",
        "データ不足：{period}に記録されたフォローアップ（定期レビュー）は {count} 件"
        "（評価には {minimum} 件以上が必要）",
    ),
    # ------------------------------------------------------------------ market
    "market.competition": (
        "competing suppliers in {category} went from {start} to {end} ({change} %) "
        "between {from_date} and {to_date}",
        "{category}の競合サプライヤーが {start} 社から {end} 社に増加（{change} %、"
        "{from_date}〜{to_date}）",
    ),
    "market.competition.from_none": (
        "competing suppliers in {category} went from none to {end} "
        "between {from_date} and {to_date}",
        "{category}の競合サプライヤーが 0 社から {end} 社に増加（{from_date}〜{to_date}）",
    ),
    "market.competition.implication": (
        "review price and service levels",
        "価格やサービスの条件を見直す",
    ),
    "market.demand": (
        "demand in {category} fell {change} % (demand index {start} → {end}, "
        "{from_date} to {to_date})",
        "{category}の需要が {change} % 減少（需要指数 {start} → {end}、{from_date}〜{to_date}）",
    ),
    "market.demand.implication": (
        "reduce the committed volume",
        "契約のボリュームを縮小する",
    ),
    "market.entrants": (
        "{count} new {suppliers} entered {category} from {period}",
        "{period}に{category}へ {count} 社が新たに参入",
    ),
    "market.entrants.implication": (
        "re-evaluate exclusivity",
        "契約の独占条件を再評価する",
    ),
    "market.price_up": (
        "the {category} price index rose {change} % ({start} → {end}, {from_date} to {to_date})",
        "{category}の価格指数が {change} % 上昇（{start} → {end}、{from_date}〜{to_date}）",
    ),
    "market.price_up.implication": (
        "agree a price adjustment clause that follows the index, with a cap",
        "指数に連動し、上限を設けた価格調整条項を定める",
    ),
    "market.price_down": (
        "the {category} price index fell {change} % ({start} → {end}, {from_date} to {to_date})",
        "{category}の価格指数が {change} % 下落（{start} → {end}、{from_date}〜{to_date}）",
    ),
    "market.price_down.implication": (
        "pass the fall on in the price and tie later changes to the index, with a cap",
        "下落分を単価に反映し、以後は上限付きで指数に連動させる",
    ),
    "market.none": (
        "no market indicators for {category} in {period}: the market was not assessed",
        "{period}の{category}の市場データがないため、市場の状況は評価していません",
    ),
    "market.series_short": (
        "{indicator}: values for fewer than two periods in {period}; no change measured",
        "{indicator}：{period}に2時点以上の値がなく、変化を測定できません",
    ),
    # ------------------------------------------------------------------ recommendation
    "rec.insufficient": (
        "insufficient data for a weighted score: KPIs with enough data carry {coverage} % of "
        "the weight and at least {minimum} % is needed; renegotiate and ask the supplier for "
        "performance evidence",
        "データ不足のため総合評価を算出できません"
        "（十分なデータのある評価項目の比重は {coverage} %、必要なのは {minimum} % 以上）。"
        "相手方に実績データの提出を求めたうえで条件を再交渉します",
    ),
    "rec.kpi_missing": ("{kpi}: {evidence}", "{kpi}：{evidence}"),
    "rec.score.renew": (
        "weighted score {total} (grade {grade}) is at least {threshold}",
        "総合評価 {total} 点（{grade} 評価）が基準の {threshold} 点以上",
    ),
    "rec.score.renegotiate": (
        "weighted score {total} (grade {grade}) is at least {low} but below {high}: "
        "renew on renegotiated terms",
        "総合評価 {total} 点（{grade} 評価）は {low} 点以上 {high} 点未満のため、"
        "条件を見直したうえで更新します",
    ),
    "rec.score.retender": (
        "weighted score {total} (grade {grade}) is at least {low} but below {high}: "
        "invite competing offers",
        "総合評価 {total} 点（{grade} 評価）は {low} 点以上 {high} 点未満のため、"
        "他社からの提案も募ります",
    ),
    "rec.score.terminate": (
        "weighted score {total} (grade {grade}) is below {threshold}: do not renew",
        "総合評価 {total} 点（{grade} 評価）が {threshold} 点未満のため、更新しません",
    ),
    "rec.kpi_floor": (
        "{kpi} scored {score}, below the floor of {floor}",
        "{kpi}が {score} 点で、最低基準の {floor} 点を下回っています",
    ),
    "rec.decline": (
        "the weighted score fell {points} points against the previous {months} months "
        "({previous} → {total})",
        "総合評価が前の{months}ヶ月と比べて {points} 点低下（{previous} → {total}）",
    ),
    "rec.market": (
        "market, {signal}: {observation}; so {implication}",
        "市場の状況（{signal}）：{observation}。このため{implication}",
    ),
    "rec.alternatives": (
        "the market offers alternatives and the weighted score {total} is below {threshold}: "
        "re-tender rather than renegotiate",
        "市場に代替の選択肢があり、総合評価 {total} 点が {threshold} 点未満のため、"
        "再交渉ではなく再入札とします",
    ),
    "rec.renew_clean": (
        "no KPI below {floor}, no fall of {points} points or more, and no market signal that "
        "calls for new terms",
        "最低基準 {floor} 点を下回る項目、{points} 点以上の低下、条件見直しを要する市場の変化の"
        "いずれもありません",
    ),
    "rec.decline.performance": (
        "the weighted score of the other KPIs (the relationship was not scored before) fell "
        "{points} points against the previous {months} months ({previous} → {total})",
        "取引関係を除く評価項目の総合評価が前の{months}ヶ月と比べて {points} 点低下"
        "（{previous} → {total}。取引関係は前の期間に評価していません）",
    ),
    "rec.score": (
        "weighted score {total} (grade {grade})",
        "総合評価 {total} 点（{grade} 評価）",
    ),
    "rec.insufficient.noted": (
        "insufficient data for a weighted score: KPIs with enough data carry {coverage} % of "
        "the weight and at least {minimum} % is needed",
        "データ不足のため総合評価を算出できません"
        "（十分なデータのある評価項目の比重は {coverage} %、必要なのは {minimum} % 以上）",
    ),
    "rec.supplier_not_continuing": (
        "at the latest follow-up review ({date}) the supplier said it does not want to "
        "continue: re-tender to secure the supply",
        "直近のフォローアップ（{date}）で取引先が契約の継続を希望しないと表明したため、"
        "供給を確保するよう再入札（相見積もり）とします",
    ),
    "rec.relationship.trend": (
        "the term's {reviews} follow-up reviews: satisfaction (CSAT) {csat_first} → "
        "{csat_latest}, willingness to continue {nps_first} → {nps_latest}; the relationship is "
        "{trend} ({points} points)",
        "期間中のフォローアップ（定期レビュー） {reviews} 件：顧客満足度（CSAT） {csat_first} → "
        "{csat_latest}、継続意向 {nps_first} → {nps_latest}。取引関係は{trend}"
        "（{points} ポイント）",
    ),
    "rec.relationship.single": (
        "one follow-up review in the term ({date}): satisfaction (CSAT) {csat}, willingness to "
        "continue {nps}; no trend yet",
        "期間中のフォローアップ（定期レビュー）は1件（{date}）：顧客満足度（CSAT） {csat}、"
        "継続意向 {nps}。傾向はまだ測定できません",
    ),
    "rec.relationship.none": (
        "no follow-up review was recorded in the term ({period})",
        "期間中（{period}）のフォローアップ（定期レビュー）の記録はありません",
    ),
    "rec.repeat_rate": (
        "repeat rate of the supplier: {renewed} of its {ended} ended terms were renewed ({rate} %)",
        "取引先のリピート率：終了した契約期間 {ended} 件のうち {renewed} 件が更新（{rate} %）",
    ),
    "rec.repeat_rate.none": (
        "repeat rate of the supplier: none of its terms has ended yet",
        "取引先のリピート率：終了した契約期間はまだありません",
    ),
    # ------------------------------------------------------------------ proposed terms
    "terms.price.renegotiate": (
        "opening position: {cut} % below the current price, as the weighted score is {total}",
        "総合評価が {total} 点のため、現行単価から {cut} % 引き下げた価格を交渉の出発点とします",
    ),
    "terms.price.cost_gap": (
        "the unit price moved {price_change} % while the market index moved {index_change} %: "
        "ask for the {gap}-point gap back",
        "単価が {price_change} % 変動した一方、市場の価格指数は {index_change} % の変動でした。"
        "差の {gap} ポイント分の引き下げを求めます",
    ),
    "terms.price.competition": (
        "competition intensified (competing suppliers {change} %): ask for {cut} % off",
        "競争が激化（競合サプライヤー数 {change} %）しているため、{cut} % の値下げを求めます",
    ),
    "terms.price.index_down": (
        "the {category} price index fell {change} %: pass the fall on in the price",
        "{category}の価格指数が {change} % 下落したため、下落分を単価に反映します",
    ),
    "terms.price.capped": (
        "the reductions add up to {total} %; the proposal is capped at {cap} %",
        "引き下げ幅の合計は {total} % ですが、提案は上限の {cap} % にとどめます",
    ),
    "terms.price.bridge": (
        "price unchanged for the {months}-month {purpose} term",
        "{months}ヶ月の{purpose}期間中は単価を据え置きます",
    ),
    "terms.volume.demand": (
        "demand fell {change} %: commit to {cut} % less volume",
        "需要が {change} % 減少したため、契約数量を {cut} % 縮小します",
    ),
    "terms.volume.capped": (
        "demand fell {change} %: commit to {cut} % less volume (the most the policy allows)",
        "需要が {change} % 減少したため、契約数量を方針上の上限である {cut} % 縮小します",
    ),
    "terms.exclusivity.entrants": (
        "{count} new {suppliers} entered the market: drop exclusivity so their offers can be "
        "considered",
        "新規参入者が {count} 社現れたため、他社の提案も検討できるよう独占条件を外します",
    ),
    "terms.exclusivity.retender": (
        "a re-tender needs the freedom to buy elsewhere: drop exclusivity",
        "再入札のため、他社からも調達できるよう独占条件を外します",
    ),
    "terms.term.retender": (
        "a {months}-month bridge term while the re-tender runs",
        "再入札を行う間の {months}ヶ月のつなぎ期間とします",
    ),
    "terms.term.terminate": (
        "a {months}-month transition term to move the supply to another supplier in good order",
        "他の取引先へ円滑に移行するための {months}ヶ月の移行期間とします",
    ),
    "terms.term.next": (
        "the next {months}-month term starts when the current one ends",
        "現契約の満了後、{months}ヶ月の次期契約期間が始まります",
    ),
    "terms.term.interim": (
        "no renewal terms were approved before the contract ended on {end}: extend it on its "
        "current terms for {months} months while negotiation continues",
        "満了日（{end}）までに更新条件の合意に至らなかったため、取引が途切れないよう"
        "現行の条件のまま {months}ヶ月延長し、その間に交渉を続けます",
    ),
    "terms.notice.bridge": (
        "{days} days' notice, so the {purpose} term can end as soon as the new supply is ready",
        "新たな調達先の準備が整いしだい{purpose}期間を終えられるよう、"
        "解約予告期間を {days} 日とします",
    ),
    "terms.price_adjustment.index": (
        "the {category} price index moved {change} %: tie the price to the index with a cap of "
        "{cap} % per review",
        "{category}の価格指数が {change} % 変動したため、見直しごとの上限を {cap} % とする"
        "指数連動の価格調整条項を設けます",
    ),
    "terms.sla.competition": (
        "competition intensified: ask for better service levels",
        "競争が激化しているため、サービスレベルの向上を求めます",
    ),
    "terms.sla.on_time": (
        "on-time delivery was {rate} %, below the {target} % target",
        "納期の遵守率が {rate} % で、目標の {target} % を下回っています",
    ),
    "terms.sla.responsiveness": (
        "{rate} % of tickets met their SLA (median first response {hours} h)",
        "SLA達成率が {rate} %（初回回答までの時間の中央値 {hours} 時間）にとどまっています",
    ),
    "clause.price_adjustment": (
        "The unit price is reviewed every {months} months against the {category} price index "
        "for the month before the review. It moves with the index, by at most {cap} % up or "
        "down at each review.",
        "単価は{months}ヶ月ごとに、見直し月の前月の{category}の価格指数に基づいて見直す。"
        "単価は指数に連動して変動し、その幅は各見直しにつき上下 {cap} % を上限とする。",
    ),
    "clause.service_levels": (
        "At least {on_time} % of deliveries on time in each quarter. A first response to any "
        "request or complaint within {response} hours and its resolution within {resolution} "
        "hours. A monthly report of these figures to the buyer.",
        "各四半期の納期遵守率を {on_time} % 以上とする。問い合わせ・トラブルには {response} 時間"
        "以内に初回回答し、{resolution} 時間以内に解決するよう、迅速かつ誠実に対応する。"
        "これらの実績を毎月報告し、双方で関係性を数値で確認する。",
    ),
    # ------------------------------------------------------------------ negotiation plan
    "plan.as_today": (
        "{clause}: nothing in the scorecard or the market calls for worse than today's {today}",
        "{clause}：評価・市場のいずれにも、現行（{today}）より不利にする根拠はありません",
    ),
    "plan.price.index": (
        "at most {ceiling}: the current price plus the {category} price index rise of {rise} % "
        "(capped at {cap} %)",
        "上限 {ceiling}：現行単価に{category}の価格指数の上昇分 {rise} %（上限 {cap} %）を加算",
    ),
    "plan.volume.demand": (
        "at most {limit}: demand fell, so at most {share} % of the planned {cut} % cut is conceded",
        "需要の減少により、予定した {cut} % 縮小のうち譲歩は {share} % まで（上限 {limit}）",
    ),
    "plan.term": (
        "at most {limit} months (the usual {months} plus {extra}), as the recommendation is to "
        "{recommendation}",
        "推奨が「{recommendation}」のため、上限 {limit}ヶ月（通常の{months}ヶ月＋{extra}ヶ月）",
    ),
    "plan.notice.keep": (
        "at least {days} days, today's notice: less would let the supplier leave before a "
        "replacement is ready",
        "代わりの調達先を準備する前に取引先が離脱できないよう、現行の {days} 日以上とします",
    ),
    "plan.cap": (
        "any price adjustment states its cap, at most {cap} % per review",
        "価格調整条項には見直しごとの上限を明記し、{cap} % 以下とします",
    ),
    "plan.sla.kept": (
        "service levels stay stated: a version without them is flagged",
        "サービスレベルは明記したままとし、定めのない版は指摘します",
    ),
    "plan.breach": (
        "{clause}: {value} is outside the limit ({limit})",
        "{clause}：{value} は妥協点（{limit}）を外れています",
    ),
}

# ------------------------------------------------------------------ escalation and outcome reasons
# Why the renewal escalated (esc.*), why a term ended as it did (out.*), why an approval was
# withdrawn (wd.*): issue 17's reasons in the reader's language. The sentences are in
# domain/reason_table.py (this file stays under the 500-line rule); their English is the text
# the workflow wrote before the codes existed. A code is in one table only.
assert not PHRASES.keys() & REASONS.keys(), "a reason code is also a phrase code"
PHRASES.update(REASONS)
