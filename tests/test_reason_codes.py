"""Escalation, outcome and withdrawal reasons as codes and values (issue 17): each says the same
facts in English and in Japanese; the English is exactly the sentence the workflow wrote before
the codes existed (events, statuses and outcomes of running renewals read the same); a mail
says the reason in its reader's language, and a request recorded before the codes shows its
English text as it was."""

import asyncio
import re
import string
import uuid
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from clients import renewals
from config.mail import MailSettings
from domain.agreement import amendment_withdrawals, contradiction_reason
from domain.outcome import ExpiryFacts, NoticeState, catch_up_reason, expiry_outcome
from domain.phrases import Value, phrase
from domain.reason_table import REASONS
from domain.reasons import decode_values, encode_values, enum_word, reason_facts, reason_in
from models.contract import DefaultAction, SupplierCreate, TermModel
from models.negotiation import Contradiction, VersionTerms
from models.notifications import NotificationKind, NotificationRequest
from models.renewal import DraftKind, OutcomeKind
from models.tables import OutboxRow
from store import contracts as contract_store
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.test_agreement_rules import approved, history, presented, terms
from tests.test_japanese_templates import FORBIDDEN, JAPANESE, SNAKE
from tests.workflow_helpers import today
from workflows.contract_renewal import ContractRenewalWorkflow

DATES = {
    "send_by": date(2027, 4, 26),
    "dispatched_on": date(2027, 4, 28),
    "notice_deadline": date(2027, 4, 30),
    "presented_on": date(2027, 3, 1),
    "end_date": date(2027, 7, 31),
    "lapsed_on": date(2027, 7, 31),
    "present_end": date(2029, 7, 31),
    "version_end": date(2028, 7, 31),
    "expected": date(2028, 9, 30),
}
INTS = {"drafts": 3, "decisions": 2, "versions": 3, "version": 2, "days": 10, "months": 3,
        "count": 2, "term": 3}  # fmt: skip
WORDS: dict[str, Value] = {
    "kind": enum_word(DraftKind.NON_RENEWAL_NOTICE.value),
    "recommendation": enum_word("retender"),
    "model": ("evergreen contract", "期間の定めのない契約"),
    "parts": ("amended by sato; the version gives 90 days' notice", "佐藤による契約の変更"),
}
_COUNTS = {"version_days": "90", "amended_days": "60", "version_months": "12",
           "amended_months": "24"}  # fmt: skip
TYPED: dict[str, dict[str, Value]] = {  # what a person (or the system) wrote: as written
    "ja": {
        "reviewer": "法務 太郎",
        "comment": "支払条件を60日に修正してください",
        "note": "価格が高い",
        "reason": "取引先の撤退",
        "message": "保存された本文が承認時と一致しません",
        "by": "佐藤",
        **_COUNTS,
    },
    "en": {
        "reviewer": "legal@example.com",
        "comment": "Make it 60 days",
        "note": "too dear",
        "reason": "the supplier leaves",
        "message": "the stored text changed",
        "by": "sato",
        **_COUNTS,
    },
}


def _names(code: str) -> set[str]:
    return {
        name
        for template in REASONS[code]
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    }


def _sample(code: str, language: str) -> dict[str, Value]:
    pool: dict[str, Value] = {**DATES, **INTS, **WORDS, **TYPED[language]}
    missing = _names(code) - pool.keys()
    assert not missing, f"{code}: no sample for {missing}"
    return {n: pool[n] for n in _names(code)}


def test_every_reason_code_says_the_same_in_both_languages() -> None:
    found: list[str] = []
    for code in REASONS:
        en_values, ja_values = _sample(code, "en"), _sample(code, "ja")
        en, ja = phrase(code, "en", en_values), phrase(code, "ja", ja_values)
        assert en and ja and "{" not in en + ja, code
        assert _names(code) == {
            n for _, n, _, _ in string.Formatter().parse(REASONS[code][1]) if n
        }, f"{code}: the two languages name different values"
        for word in FORBIDDEN:
            if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", ja, re.IGNORECASE):
                found.append(f"{code}: {word!r} in {ja!r}")
        found.extend(f"{code}: {m!r}" for m in SNAKE.findall(ja))
        found.extend(f"{code}: {m!r} (English)" for m in JAPANESE.findall(en))
        if any(isinstance(ja_values[n], date) for n in ja_values):
            assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", ja), (code, ja)
            assert not re.search(r"\d{4}-\d{2}-\d{2}", ja), (code, ja)
        if code not in {"out.termination", "wd.withdrawn"}:  # these are only their values
            assert JAPANESE.search(ja), (code, ja)
    assert not found, "\n".join(found)


# ---------------------------------------------------------------------------- the English as before


def test_english_is_what_the_workflow_wrote_before() -> None:
    """Call sites with sample values against the f-strings they replaced (copied from the
    workflow before the codes)."""
    send_by, deadline, on = date(2027, 4, 26), date(2027, 4, 30), date(2027, 4, 28)
    old: dict[tuple[str, tuple[tuple[str, Value], ...]], str] = {
        ("esc.final_terms.no_approved", (("drafts", 2), ("decisions", 1))): (
            "no approved draft at the final-terms milestone "
            f"({2} draft version(s), {1} decision(s) so far)"
        ),
        ("esc.expiry.interim_drafted", (("months", 3),)): (
            "the term expired without approved renewal terms; an interim extension of "
            f"{3} month(s) was drafted"
        ),
        ("esc.send_by.evergreen", (("send_by", send_by),)): (
            f"the send-by date {send_by.isoformat()} arrived with no decision: the contract "
            "continues after its review unless a termination notice is posted today"
        ),
        ("esc.send_by.notice_drafted", (("send_by", "?"),)): (
            "the send-by date ? arrived with no approved decision: a non-renewal notice "
            "was drafted for legal so that the contract does not renew silently"
        ),
        ("esc.review_overdue", (("version", 1), ("days", 10))): (
            "draft version 1 has waited 10 business days for a legal decision"
        ),
        ("esc.dispatch.after_send_by", (("dispatched_on", on), ("send_by", send_by),
                                        ("notice_deadline", deadline))): (
            f"the non-renewal notice was dispatched on {on.isoformat()}, after the last day to "
            f"send it ({send_by.isoformat()}): it stops the roll-over only if it reached the "
            f"supplier by {deadline.isoformat()}; confirm its arrival"
        ),
        ("esc.dispatch.late", (("dispatched_on", on), ("notice_deadline", deadline))): (
            f"the non-renewal notice was dispatched on {on.isoformat()}, after the notice "
            f"deadline {deadline.isoformat()}: it does not stop the contract rolling over at "
            "its end date"
        ),
        ("esc.rejected", (("version", 2), ("reviewer", "l@x"), ("comment", "no {x}"))): (
            "draft version 2 rejected by l@x: no {x}"
        ),
        ("esc.declined.note", (("version", 3), ("note", "too dear"),
                               ("recommendation", enum_word("retender")))): (
            "the supplier declined version 3 (too dear); back to the recommendation (retender): "
            "re-tender, an interim extension, or not renewing"
        ),
        ("esc.declined", (("version", 3), ("recommendation", enum_word("renegotiate")))): (
            "the supplier declined version 3; back to the recommendation (renegotiate): "
            "re-tender, an interim extension, or not renewing"
        ),
        ("esc.final_terms.not_approved", (("version", 2),
                                          ("kind", enum_word("non_renewal_notice")))): (
            "version 2 (non_renewal_notice) is not approved at the final-terms milestone"
        ),
        ("esc.lapsed.not_agreed", (("lapsed_on", deadline),)): (
            f"the contract lapsed on {deadline.isoformat()} and supply is still at risk: no "
            "interim extension has been agreed with the supplier"
        ),
        ("out.interim_after_lapse", (("version", 4), ("lapsed_on", deadline))): (
            f"interim extension version 4 approved after the term lapsed on {deadline.isoformat()}"
        ),
        ("wd.not_renewing", (("reason", "leaving"),)): "not renewing was decided: leaving",
    }  # fmt: skip
    for (code, values), text in old.items():
        assert phrase(code, "en", dict(values)) == text, code


def test_expiry_decisions_keep_their_english() -> None:
    before = {
        (TermModel.AUTO_RENEWING, NoticeState.DISPATCHED_LATE): (
            "the non-renewal notice was dispatched after the notice deadline; the contract "
            "rolled over by its terms"
        ),
        (TermModel.EVERGREEN, NoticeState.APPROVED): (
            "not renewing was decided but no notice was recorded as dispatched by the notice "
            "deadline; the evergreen contract rolled over by its terms"
        ),
        (TermModel.EVERGREEN, NoticeState.NONE): (
            "evergreen contract: the next review period begins"
        ),
        (TermModel.AUTO_RENEWING, NoticeState.NONE): (
            "nobody decided and no notice was given: the contract rolled over by its terms"
        ),
        (TermModel.FIXED, NoticeState.NONE): (
            "the fixed term ended with nothing agreed: supply is at risk until an interim "
            "extension is approved by legal and accepted by the supplier"
        ),
    }
    for (model, notice), text in before.items():
        decision = expiry_outcome(
            ExpiryFacts(
                term_model=model,
                agreed=None,
                notice=notice,
                termination_requested=False,
                default_action=DefaultAction.NON_RENEWAL,
            )
        )
        assert decision.reason == text
        assert phrase(decision.code, "en", decision.values) == text
        assert JAPANESE.search(phrase(decision.code, "ja", decision.values))
    as_is = expiry_outcome(
        ExpiryFacts(TermModel.AUTO_RENEWING, None, NoticeState.NONE, False,
                    DefaultAction.RENEW_AS_IS)
    )  # fmt: skip
    assert as_is.reason == (
        "no decision was made; the contract rolled over by its terms, as the default chosen for "
        "it (renew as is) says"
    )
    agreed = expiry_outcome(
        ExpiryFacts(TermModel.FIXED, DraftKind.RENEGOTIATION, NoticeState.NONE, False,
                    DefaultAction.NON_RENEWAL)
    )  # fmt: skip
    assert agreed.kind is OutcomeKind.RENEWED and agreed.reason == "renewed on the agreed version"


def test_catch_up_and_contradictions_keep_their_english() -> None:
    code, values = catch_up_reason(
        end_date=date(2025, 3, 31),
        rolled_over=2,
        present_term=3,
        present_end=date(2027, 3, 31),
        lapsed_on=None,
    )
    assert phrase(code, "en", values) == (
        "registered after its end date 2025-03-31: no notice is on record, so the contract "
        "rolled over by its terms 2 time(s); the term running today (term 3) ends 2027-03-31"
    )
    assert "2027年3月31日" in phrase(code, "ja", values)
    code, values = catch_up_reason(
        end_date=date(2025, 3, 31),
        rolled_over=1,
        present_term=2,
        present_end=None,
        lapsed_on=date(2026, 3, 31),
    )
    assert phrase(code, "en", values) == (
        "registered after its end date 2025-03-31: no notice is on record, so the contract "
        "rolled over by its terms 1 time(s); its renewals ran out, so term 2 lapsed on 2026-03-31"
    )
    c = Contradiction(
        field="new_end_date", version_value="2028-03-31", amended_value="2028-05-31", reason=""
    )
    why = contradiction_reason(c, date(2027, 5, 31))
    assert why.text("en") == (
        "the version ends on 2028-03-31; from the amended end date 2027-05-31 its term ends on "
        "2028-05-31"
    )
    assert "2028年5月31日" in why.text("ja")


def test_amendment_withdrawals_say_why_in_both_languages() -> None:
    events = history(approved(1), presented(1))
    versions = [VersionTerms(version=1, terms=terms())]
    out = amendment_withdrawals(
        events, versions, on=date(2027, 1, 5), amended_by="sato", note="price", term_months=7
    )
    assert out
    withdrawn, why = out[0]
    assert withdrawn.reason.startswith("amended by sato: price; the version's term is ")
    assert why.text("en") == withdrawn.reason
    assert why.text("ja").startswith("satoによる契約の変更：price。この版の契約期間は")


# ---------------------------------------------------------------------------- values and mails


def test_values_travel_as_json_and_come_back() -> None:
    values: dict[str, Value] = {
        "send_by": date(2027, 4, 26),
        "version": 2,
        "kind": enum_word("transition_plan"),
        "comment": "2027-05-01",  # typed: stays text even though it looks like a date
        "price": Decimal("12.50"),
    }
    text = encode_values(values)
    assert '"send_by": "2027-04-26"' in text
    back = decode_values(text)
    assert back["send_by"] == date(2027, 4, 26) and back["version"] == 2
    assert back["kind"] == ("transition_plan", "契約終了に向けた移行計画")
    assert back["comment"] == "2027-05-01" and back["price"] == "12.50"
    facts = reason_facts("esc.no_answer", {"version": 2, "days": 5, "end_date": date(2027, 7, 31)})
    assert facts["reason"].endswith("the term ends on 2027-07-31")
    assert reason_in(facts, "ja").endswith("契約満了日は2027年7月31日です")
    assert reason_in(facts, "en") == facts["reason"]


def test_a_request_without_a_code_shows_its_text() -> None:
    assert reason_in({"reason": "recorded before"}, "ja") == "recorded before"
    assert reason_in({"reason": "x", "reason_code": "esc.unknown"}, "ja") == "x"
    assert reason_in({"reason": "x", "reason_code": "esc.rejected", "reason_values": "{"}, "ja")
    assert reason_in({"withdrawn": "w"}, "ja", "withdrawn") == "w"
    assert reason_in({}, "en") == ""


def _mail(sessions: SessionFactory, cid: str, kind: NotificationKind, facts: dict[str, str]) -> str:
    mails = NotificationActivities(sessions, make_environment(), MailSettings.outbox_only())
    key = f"rc:{cid}:{kind.value}:{uuid.uuid4().hex[:6]}"
    mails.send_notification(
        NotificationRequest(
            contract_id=cid, term=1, workflow_id="wf", kind=kind, key=key, facts=facts
        )
    )
    with transaction(sessions) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.key.startswith(key))))
    assert len(rows) == 1
    return rows[0].body + "\n" + (rows[0].body_html or "")


def test_mails_say_the_reason_in_their_language(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-RC", name="東京包装"))
        register(s, id="RC-ja", language="ja", supplier_id="S-RC")
        register(s, id="RC-en", language="en", supplier_id="S-RC")
    escalation = reason_facts(
        "esc.rejected",
        {"version": 2, "reviewer": "法務 太郎", "comment": "支払条件を直してください"},
    )
    ja = _mail(sessions, "RC-ja", NotificationKind.ESCALATION, escalation)
    assert "更新案 第2版は法務 太郎により却下されました：支払条件を直してください" in ja
    assert "rejected by" not in ja
    en = _mail(sessions, "RC-en", NotificationKind.ESCALATION, escalation)
    assert escalation["reason"] in en
    outcome = {
        "outcome": "interim_extension",
        "new_end_date": "2027-10-31",
        **reason_facts("out.interim_after_lapse", {"version": 3, "lapsed_on": date(2027, 7, 31)}),
    }
    ja = _mail(sessions, "RC-ja", NotificationKind.OUTCOME, outcome)
    assert (
        "理由：2027年7月31日の契約期限切れの後、暫定契約（暫定延長）の第3版が承認されました" in ja
    )
    withdrawn = {
        "version": "2",
        "due": "2027-04-26",
        **reason_facts("wd.withdrawn", {"parts": ("amended by sato", "satoによる契約の変更")},
                       key="withdrawn"),
    }  # fmt: skip
    ja = _mail(sessions, "RC-ja", NotificationKind.REVIEW_REQUESTED, withdrawn)
    assert "（satoによる契約の変更）" in ja and "amended by" not in ja
    en = _mail(sessions, "RC-en", NotificationKind.REVIEW_REQUESTED, withdrawn)
    assert "(amended by sato)" in en
    old = _mail(sessions, "RC-ja", NotificationKind.ESCALATION, {"reason": "an old English reason"})
    assert "an old English reason" in old


# ---------------------------------------------------------------------------- through the workflow


async def test_a_japanese_contracts_escalation_mail_is_japanese(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    cid = f"C-{uuid.uuid4().hex[:10]}"
    now = await today(time_skipping_env)
    end = now + relativedelta(months=7)
    with transaction(sessions) as s:
        register(s, id=cid, start_date=now - relativedelta(months=5), end_date=end, language="ja")
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by="buyer@example.com", task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    await time_skipping_env.sleep(end + timedelta(days=2) - now)
    status = await handle.query(ContractRenewalWorkflow.status)
    for _ in range(200):
        if status.lapsed_on is not None and len(status.escalations) >= 3:
            break
        await asyncio.sleep(0.05)
        status = await handle.query(ContractRenewalWorkflow.status)
    # The English stays where it always was: the status and the event.
    assert status.escalations[0] == (
        "draft version 1 has waited 10 business days for a legal decision"
    )
    with transaction(sessions) as s:
        rows = list(
            s.scalars(
                select(OutboxRow).where(
                    OutboxRow.contract_id == cid, OutboxRow.kind == "escalation"
                )
            )
        )
    bodies = "\n".join(r.body for r in rows)
    for words in (
        "更新案 第1版は、法務レビューの判断を10営業日待っています",
        "最終条件の提示・合意の時点で、法務レビューで承認され取引先へ提示された版がありません"
        "（これまでに 1 版、判断 0 件）",
        "何も合意されないまま契約期間が終了しました。",
    ):
        assert words in bodies, bodies
    for words in ("business days", "final-terms milestone", "supply is at risk"):
        assert words not in bodies
    await handle.terminate("test over")


def test_every_code_in_a_japanese_mail_is_japanese(sessions: SessionFactory) -> None:
    """Each code as the workflow passes it (its English recorded beside it) in the Japanese
    escalation, outcome and review-request mails: the Japanese sentence, no English of the
    glossary, no enum value, no word_word, and never the English text."""
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-RC2", name="東京包装"))
        register(s, id="RC-scan", language="ja", title="梱包資材の供給契約", supplier_id="S-RC2")
    found: list[str] = []
    for code in REASONS:
        values = _sample(code, "ja")
        for kind, key in (
            (NotificationKind.ESCALATION, "reason"),
            (NotificationKind.OUTCOME, "reason"),
            (NotificationKind.REVIEW_REQUESTED, "withdrawn"),
        ):
            facts = {
                "outcome": "renewed",
                "version": "2",
                "due": "2027-04-26",
                **reason_facts(code, values, key=key),
            }
            facts[key] = f"English text of {code}"  # what an English recording would show
            text = _mail(sessions, "RC-scan", kind, facts)
            assert phrase(code, "ja", values) in text, (code, kind, text)
            assert facts[key] not in text, (code, kind)
            for word in FORBIDDEN:
                if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text, re.I):
                    found.append(f"{code} {kind.value}: {word!r}")
            found.extend(f"{code} {kind.value}: {m!r}" for m in SNAKE.findall(text))
    assert not found, "\n".join(found)


def test_a_refused_agreed_version_says_why_in_japanese_without_the_system_message(
    sessions: SessionFactory,
) -> None:
    """record_outcome's refusal, as the workflow escalates it: the code says why by the
    failure's type (Conflict: the stored version changed after approval; NotFound: it is not
    stored); the activity's English message travels as a value neither sentence names, so the
    Japanese mail is wholly Japanese and the English names no system detail either."""
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-RC3", name="東京包装"))
        register(s, id="RC-agreed", language="ja", title="梱包資材の供給契約", supplier_id="S-RC3")
    refusals = {
        "esc.agreed_refused.changed": (
            "content_hash: the stored version hashes to e6c09d398fb5, not the agreed "
            "78b5d29a8104: it changed after approval; not put into force",
            "保存されている版が承認後に変更され、承認・合意された内容と一致しません",
            "the stored version changed after its approval",
        ),
        "esc.agreed_refused.missing": (
            "approved draft v2 of renewal renewal-RC-agreed-1 is not stored",
            "承認された版が保存されていません",
            "the approved version is not stored",
        ),
    }
    for code, (message, ja_why, en_why) in refusals.items():
        facts = reason_facts(code, {"version": 2, "message": message})
        assert facts["reason"] == (
            f"version 2 was approved and accepted, but it is not put into force: {en_why}"
            + (" and no longer matches what was approved and accepted" if "changed" in code else "")
        )
        assert message not in facts["reason"]
        assert decode_values(facts["reason_values"])["message"] == message  # for operators
        text = _mail(sessions, "RC-agreed", NotificationKind.ESCALATION, facts)
        assert f"第2版は承認・合意されましたが、発効できません（{ja_why}）" in text, text
        assert reason_in(facts, "ja") in text and message not in text
        # No English sentence: apart from the contract's id, no run of ASCII words.
        prose = re.sub(r"RC-agreed", "", re.sub(r"<[^>]+>", " ", text))
        assert not re.search(r"[A-Za-z]+[ ,:;]+[A-Za-z]+", prose), (code, prose)
