"""The reasons the renewal gives people, by code: why it escalated (``esc.*``), why a term
ended as it did (``out.*``) and why an approval was withdrawn (``wd.*``), as (English,
Japanese) with ``{name}`` placeholders. :mod:`domain.phrase_table` adds them to the engine's
sentence table and :mod:`domain.phrases` fills them, so the same facts read in the reader's
language (issue 17: Japanese mails carry Japanese reasons).

The English text is exactly the sentence the workflow wrote before the codes existed: events,
statuses and outcomes recorded by running renewals keep reading the same. Values a person
typed (a reviewer's comment, a termination reason, a supplier's note) are placed as typed,
never translated. The Japanese uses the glossary's words (../shared/domain/glossary.md).
"""

from typing import Final

from domain.glossary import Bilingual

__all__ = ["REASONS"]

REASONS: Final[dict[str, Bilingual]] = {
    # ------------------------------------------------------------------ escalations: final terms
    "esc.final_terms.no_approved": (
        "no approved draft at the final-terms milestone ({drafts} draft version(s), "
        "{decisions} decision(s) so far)",
        "最終条件の提示・合意の時点で承認済みの更新案がありません"
        "（これまでに更新案 {drafts} 版、判断 {decisions} 件）",
    ),
    "esc.final_terms.not_approved": (
        "version {version} ({kind}) is not approved at the final-terms milestone",
        "最終条件の提示・合意の時点で、第{version}版（{kind}）は承認されていません",
    ),
    "esc.final_terms.no_answer": (
        "version {version} was presented to the supplier on {presented_on} and it has not "
        "answered; nothing is agreed yet",
        "第{version}版は{presented_on}に取引先へ提示しましたが、回答がありません。"
        "まだ何も合意されていません",
    ),
    "esc.final_terms.declined": (
        "the supplier declined the version presented; no other version is agreed",
        "取引先は提示した版を辞退しました。ほかに合意された版はありません",
    ),
    "esc.final_terms.none_presented": (
        "no version is both approved by legal and presented to the supplier at the "
        "final-terms milestone ({versions} version(s), {decisions} decision(s) so far)",
        "最終条件の提示・合意の時点で、法務レビューで承認され取引先へ提示された版がありません"
        "（これまでに {versions} 版、判断 {decisions} 件）",
    ),
    # ------------------------------------------------------------------ escalations: send-by
    "esc.send_by.evergreen": (
        "the send-by date {send_by} arrived with no decision: the contract continues after its "
        "review unless a termination notice is posted today",
        "解約予告の発送期限（{send_by}）を迎えましたが、判断がありません。"
        "本日中に解約予告を発送しない限り、契約は見直しの後も継続します",
    ),
    "esc.send_by.renews_as_is": (
        "the send-by date {send_by} passed with no approved decision; by the chosen default the "
        "contract renews as is at its end date",
        "解約予告の発送期限（{send_by}）までに承認された判断がありませんでした。"
        "選択された既定の対応により、契約は契約満了日に現行条件のまま更新されます",
    ),
    "esc.send_by.rolls_over_as_is": (
        "the send-by date {send_by} passed with no approved decision; by the chosen default the "
        "contract rolls over as is at its end date",
        "解約予告の発送期限（{send_by}）までに承認された判断がありませんでした。"
        "選択された既定の対応により、契約は契約満了日に現行条件のまま自動更新されます",
    ),
    "esc.send_by.notice_drafted": (
        "the send-by date {send_by} arrived with no approved decision: a non-renewal notice was "
        "drafted for legal so that the contract does not renew silently",
        "解約予告の発送期限（{send_by}）を迎えましたが、承認された判断がありません。"
        "契約が知らないうちに更新されないよう、契約不更新の通知の案を作成し、法務レビューに回しました",
    ),
    "esc.send_by.notice_in_review": (
        "the send-by date {send_by} arrived with no approved decision: a non-renewal notice is "
        "in legal review so that the contract does not roll over silently",
        "解約予告の発送期限（{send_by}）を迎えましたが、承認された判断がありません。"
        "契約が知らないうちに自動更新されないよう、契約不更新の通知を法務レビュー中です",
    ),
    "esc.send_by.not_accepted": (
        "today ({send_by}) is the last day to send a non-renewal notice; version {version} is "
        "approved but the supplier has not accepted it, so the contract rolls over by its own "
        "terms unless it accepts or a notice is sent",
        "本日（{send_by}）は解約予告の発送期限です。第{version}版は承認済みですが、"
        "取引先はまだ合意していません。取引先が合意するか解約予告を発送しない限り、"
        "契約は自動更新されます",
    ),
    "esc.send_by.notice_approved": (
        "today ({send_by}) is the last day to send the approved non-renewal notice (version "
        "{version}); record its dispatch once it is sent",
        "本日（{send_by}）は承認済みの契約不更新の通知（第{version}版）の解約予告の発送期限です。"
        "発送したら、発送を記録してください",
    ),
    # ------------------------------------------------------------------ escalations: dispatch
    "esc.dispatch.after_send_by": (
        "the non-renewal notice was dispatched on {dispatched_on}, after the last day to send "
        "it ({send_by}): it stops the roll-over only if it reached the supplier by "
        "{notice_deadline}; confirm its arrival",
        "契約不更新の通知は{dispatched_on}に、解約予告の発送期限（{send_by}）の後に発送されました。"
        "解約予告期限（{notice_deadline}）までに取引先へ届いた場合に限り自動更新を止められます。"
        "到着を確認してください",
    ),
    "esc.dispatch.late": (
        "the non-renewal notice was dispatched on {dispatched_on}, after the notice deadline "
        "{notice_deadline}: it does not stop the contract rolling over at its end date",
        "契約不更新の通知は解約予告期限（{notice_deadline}）の後の{dispatched_on}に発送されたため、"
        "契約満了日の自動更新を止められません",
    ),
    # ------------------------------------------------------------------ escalations: reviews
    "esc.review_overdue": (
        "draft version {version} has waited {days} business days for a legal decision",
        "更新案 第{version}版は、法務レビューの判断を{days}営業日待っています",
    ),
    "esc.revision_overdue": (
        "legal requested changes to version {version} {days} business days ago and no revised "
        "version has been made",
        "法務レビューで第{version}版の修正依頼があってから{days}営業日が経ちましたが、"
        "修正した版はまだ作成されていません",
    ),
    "esc.rejected": (
        "draft version {version} rejected by {reviewer}: {comment}",
        "更新案 第{version}版は{reviewer}により却下されました：{comment}",
    ),
    # ------------------------------------------------------------------ escalations: the supplier
    "esc.declined": (
        "the supplier declined version {version}; back to the recommendation "
        "({recommendation}): re-tender, an interim extension, or not renewing",
        "取引先は第{version}版を辞退しました。推奨（{recommendation}）に戻り、"
        "再入札（相見積もり）、暫定契約（暫定延長）、更新しない（契約終了）のいずれかを決めてください",
    ),
    "esc.declined.note": (
        "the supplier declined version {version} ({note}); back to the recommendation "
        "({recommendation}): re-tender, an interim extension, or not renewing",
        "取引先は第{version}版を辞退しました（{note}）。推奨（{recommendation}）に戻り、"
        "再入札（相見積もり）、暫定契約（暫定延長）、更新しない（契約終了）のいずれかを決めてください",
    ),
    "esc.no_answer": (
        "version {version} was presented to the supplier and it has not answered after {days} "
        "business days; the term ends on {end_date}",
        "第{version}版を取引先へ提示しましたが、{days}営業日が経っても回答がありません。"
        "契約満了日は{end_date}です",
    ),
    # Why record_outcome refused the agreed version, by the failure's type: Conflict, the stored
    # version no longer hashes to what was approved and accepted (its text or terms changed
    # after approval, or its terms no longer read: store.renewals.approved_terms,
    # domain.versions.verified_terms); NotFound, the approved version (or its renewal) is not
    # stored. The activity's own message (English, technical) is no part of either sentence.
    "esc.agreed_refused.changed": (
        "version {version} was approved and accepted, but it is not put into force: the stored "
        "version changed after its approval and no longer matches what was approved and "
        "accepted",
        "第{version}版は承認・合意されましたが、発効できません"
        "（保存されている版が承認後に変更され、承認・合意された内容と一致しません）",
    ),
    "esc.agreed_refused.missing": (
        "version {version} was approved and accepted, but it is not put into force: the "
        "approved version is not stored",
        "第{version}版は承認・合意されましたが、発効できません（承認された版が保存されていません）",
    ),
    # The sentence before the two above: the activity's message placed as it was (English).
    # Kept for the notification requests recorded with it (a retried activity renders them).
    "esc.agreed_refused": (
        "version {version} was approved and accepted, but it is not put into force: {message}",
        "第{version}版は承認・合意されましたが、発効できません（{message}）",
    ),
    # ------------------------------------------------------------------ escalations: the end date
    "esc.expiry.interim_drafted": (
        "the term expired without approved renewal terms; an interim extension of {months} "
        "month(s) was drafted",
        "承認された更新条件がないまま契約満了日を迎えました。"
        "{months}ヶ月の暫定契約（暫定延長）の案を作成しました",
    ),
    "esc.lapsed.not_agreed": (
        "the contract lapsed on {lapsed_on} and supply is still at risk: no interim extension "
        "has been agreed with the supplier",
        "契約は{lapsed_on}に契約期限切れとなり、供給は依然として危うい状態です。"
        "暫定契約（暫定延長）はまだ取引先と合意されていません",
    ),
    "esc.lapsed.not_approved": (
        "the contract lapsed on {lapsed_on} and supply is still at risk: no interim extension "
        "has been approved",
        "契約は{lapsed_on}に契約期限切れとなり、供給は依然として危うい状態です。"
        "暫定契約（暫定延長）はまだ承認されていません",
    ),
    # ------------------------------------------------------------------ outcomes at the end date
    "out.renewed_on_agreed": ("renewed on the agreed version", "合意された版で更新されました"),
    "out.interim_on_agreed": (
        "interim extension on the agreed version",
        "合意された版で暫定契約（暫定延長）となりました",
    ),
    "out.transition_plan": (
        "the contract ends at its end date as the approved transition plan says",
        "承認された契約終了に向けた移行計画のとおり、契約は契約満了日に終了します",
    ),
    "out.ends_as_decided": (
        "the contract ends at its end date as decided",
        "決定のとおり、契約は契約満了日に終了します",
    ),
    "out.fixed_lapsed": (
        "the fixed term ended with nothing agreed: supply is at risk until an interim "
        "extension is approved by legal and accepted by the supplier",
        "何も合意されないまま契約期間が終了しました。暫定契約（暫定延長）が法務レビューで承認され、"
        "取引先と合意されるまで、供給が危うい状態です",
    ),
    "out.notice_dispatched": (
        "the approved non-renewal notice was dispatched by the notice deadline",
        "承認済みの契約不更新の通知が解約予告期限までに発送されました",
    ),
    "out.notice_late": (
        "the non-renewal notice was dispatched after the notice deadline; the {model} rolled "
        "over by its terms",
        "契約不更新の通知が解約予告期限の後に発送されたため、{model}は自動更新されました",
    ),
    "out.no_notice": (
        "not renewing was decided but no notice was recorded as dispatched by the notice "
        "deadline; the {model} rolled over by its terms",
        "更新しないことが決定されましたが、解約予告期限までに解約予告の発送が記録されなかったため、"
        "{model}は自動更新されました",
    ),
    "out.evergreen": (
        "evergreen contract: the next review period begins",
        "期間の定めのない契約のため、次の見直し期間が始まります",
    ),
    "out.default_rolled_over": (
        "no decision was made; the contract rolled over by its terms, as the default chosen for "
        "it (renew as is) says",
        "判断がなかったため、この契約に選択された既定の対応（現行条件のまま更新）のとおり、"
        "契約は自動更新されました",
    ),
    "out.nobody_decided": (
        "nobody decided and no notice was given: the contract rolled over by its terms",
        "誰も判断せず解約予告も発送されなかったため、契約は自動更新されました",
    ),
    # ------------------------------------------------------------------ outcomes recorded
    "out.draft_approved": (
        "draft version {version} approved",
        "更新案 第{version}版が承認されました",
    ),
    "out.renewed_as_default": (
        "no decision was made; renewed as is, the default chosen for this contract",
        "判断がなかったため、この契約に選択された既定の対応のとおり、現行条件のまま更新されました",
    ),
    "out.no_approved_terms": (
        "no approved terms at expiry",
        "契約満了日に承認された更新条件がありません",
    ),
    "out.interim_after_lapse": (
        "interim extension version {version} approved after the term lapsed on {lapsed_on}",
        "{lapsed_on}の契約期限切れの後、暫定契約（暫定延長）の第{version}版が承認されました",
    ),
    "out.approved_after_lapse": (
        "version {version} approved after the term lapsed",
        "契約期限切れの後、第{version}版が承認されました",
    ),
    "out.termination": ("{reason}", "{reason}"),  # as the person who decided wrote it
    "out.catch_up.present": (
        "registered after its end date {end_date}: no notice is on record, so the contract "
        "rolled over by its terms {count} time(s); the term running today (term {term}) ends "
        "{present_end}",
        "契約満了日（{end_date}）の後に登録されました。解約予告の記録がないため、"
        "契約は{count}回自動更新されました。現在の契約期間（第{term}期）の契約満了日は{present_end}です",
    ),
    "out.catch_up.lapsed": (
        "registered after its end date {end_date}: no notice is on record, so the contract "
        "rolled over by its terms {count} time(s); its renewals ran out, so term {term} lapsed "
        "on {lapsed_on}",
        "契約満了日（{end_date}）の後に登録されました。解約予告の記録がないため、"
        "契約は{count}回自動更新されました。更新回数の上限に達したため、"
        "第{term}期は{lapsed_on}に契約期限切れとなりました",
    ),
    # ------------------------------------------------------------------ approvals withdrawn
    "wd.not_renewing": (
        "not renewing was decided: {reason}",
        "更新しないことが決定されました：{reason}",
    ),
    "wd.amended": ("amended by {by}", "{by}による契約の変更"),
    "wd.amended.note": ("amended by {by}: {note}", "{by}による契約の変更：{note}"),
    "wd.end_date": (
        "the version ends on {version_end}; from the amended end date {end_date} its term ends "
        "on {expected}",
        "この版の満了日は{version_end}ですが、変更後の契約満了日（{end_date}）からは"
        "{expected}となります",
    ),
    "wd.notice_period": (
        "the version gives {version_days} days' notice; the amendment makes it {amended_days}",
        "この版の解約予告期間は{version_days}日ですが、変更により{amended_days}日となります",
    ),
    "wd.term": (
        "the version's term is {version_months} months; the amendment makes it {amended_months}",
        "この版の契約期間は{version_months}ヶ月ですが、変更により{amended_months}ヶ月となります",
    ),
    "wd.withdrawn": ("{parts}", "{parts}"),  # the parts above, joined in each language
}
