"""Japanese mails are wholly Japanese, English mails wholly English (issue 17, glossary.md).

Every ``ja/mail_*.txt.j2`` is rendered through the activity (text and HTML part) with sample
facts covering every milestone, recommendation and outcome code the workflow passes, and must
contain none of the glossary's English words (glossary.md's English column, domain.glossary's
English labels), no enum value and no ASCII ``word_word``. The escalation and outcome reasons
are English sentences the workflow writes (``facts["reason"]``, ``facts["withdrawn"]``): they
are rendered here with Japanese sample text. Every ``en/mail_*.txt.j2`` rendered with English
facts has no Japanese character and no ``word_word``.
"""

import dataclasses
import re
from datetime import date, timedelta
from enum import StrEnum
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from activities.digest_activities import DigestActivities
from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from config.mail import MailSettings
from domain.glossary import LABELS, STAGE_LABELS
from models.contract import SupplierCreate
from models.milestones import MilestoneKind
from models.notifications import NotificationKind, NotificationRequest
from models.renewal import DraftKind, OutcomeKind, RenewalStage, ReviewDecisionKind
from models.scorecard import Recommendation
from models.tables import OutboxRow
from store import contracts as contract_store
from store.db import SessionFactory, transaction
from store.reads.digest import FOLLOWUP_ACTION, WAITS_ON_OWNER, DigestLine, PersonDigest
from tests.factories import register

TEMPLATES = Path(__file__).resolve().parents[1] / "activities" / "templates"
GLOSSARY_MD = Path(__file__).resolve().parents[2] / "shared" / "domain" / "glossary.md"
ENUMS: tuple[type[StrEnum], ...] = (
    NotificationKind,
    MilestoneKind,
    OutcomeKind,
    Recommendation,
    RenewalStage,
    ReviewDecisionKind,
    DraftKind,
)
SNAKE = re.compile(r"[A-Za-z0-9]+_[A-Za-z0-9_]*[A-Za-z0-9]")
JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")
BASE_URL = "https://renewals.example.co.jp"

FACTS = {
    "ja": {
        "reason": "最終条件の提示・合意の期限までに承認された版がありません",
        "withdrawn": "契約の変更により単価が変わりました",
        "comment": "支払条件を60日に修正してください。\n価格調整条項も確認してください。",
        "answers": "独占条件を削除しました",
        "reviewer": "houmu@example.jp",
    },
    "en": {
        "reason": "no version was approved by the final terms milestone",
        "withdrawn": "the amendment changed the unit price",
        "comment": "Please make the payment terms 60 days.\nCheck the price adjustment too.",
        "answers": "The exclusivity clause is gone",
        "reviewer": "legal@example.com",
    },
}
COMMON_FACTS = {
    "version": "2",
    "outside_limits": "2",
    "business_days": "5",
    "escalate_on": "2027-05-10",
    "new_end_date": "2028-03-31",
    "due": "2027-04-26",
    "send_by": "2027-04-26",
    "score": "72.5",
    # follow-up reviews
    "sequence": "2",
    "period_start": "2027-01-01",
    "period_end": "2027-03-31",
    "action_id": "7",
    "as_of": "2027-04-15",
}
NAMES = {
    "ja": ("梱包資材の供給契約", "東京包装株式会社"),
    "en": ("Packaging materials", "Tokyo Packaging Co."),
}


def _glossary_english() -> set[str]:
    """The English words a Japanese reader must never see: glossary.md's English column (the
    project's shared domain document, when it is beside the repository) and the English
    labels of domain.glossary; a word the Japanese side itself uses (CSAT, NPS) is allowed."""
    english: set[str] = set()
    japanese: list[str] = []
    if GLOSSARY_MD.is_file():
        for line in GLOSSARY_MD.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 3 or cells[0] in {"value", ""} or set(cells[0]) <= {"-"}:
                continue
            japanese.append(cells[1])
            english.update(re.split(r" / |, ", cells[2]))
    for en, ja in (*LABELS.values(), *STAGE_LABELS.values()):
        english.add(en)
        japanese.append(ja)
    allowed = " ".join(japanese).casefold()
    return {w for w in english if w.strip() and w.casefold() not in allowed}


FORBIDDEN = sorted(_glossary_english() | {m.value for enum in ENUMS for m in enum})


def _kinds() -> list[str]:
    names = sorted(p.name for p in (TEMPLATES / "ja").glob("mail_*.txt.j2"))
    kinds = [n.removeprefix("mail_").removesuffix(".txt.j2") for n in names]
    return [k for k in kinds if k != "base"]


def _variants() -> list[dict[str, str]]:
    """Every milestone, recommendation and outcome code at least once; with and without the
    reminder flag."""
    milestones = [m.value for m in MilestoneKind]
    recommendations = [r.value for r in Recommendation]
    outcomes = [o.value for o in OutcomeKind]
    count = max(len(milestones), len(recommendations), len(outcomes))
    return [
        {
            "milestone": milestones[i % len(milestones)],
            "recommendation": recommendations[i % len(recommendations)],
            "outcome": outcomes[i % len(outcomes)],
            **({"reminder": "1"} if i % 2 == 0 else {}),
        }
        for i in range(count)
    ]


def _rendered(sessions: SessionFactory, language: str) -> list[tuple[str, str, str]]:
    """(kind, text with the subject, the HTML's text and the HTML as it is) of every mail
    template of ``language`` and every variant."""
    title, supplier = NAMES[language]
    cid = f"SCAN-{language}"
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-SCAN", name=supplier))
        register(s, id=cid, language=language, title=title, supplier_id="S-SCAN")
    # A legal team's mailbox, so that a review request is written for both its audiences (the
    # reviewers' and the owner's words).
    outbox = dataclasses.replace(MailSettings.outbox_only(), legal_team="legal@example.com")
    mails = NotificationActivities(sessions, make_environment(), outbox, web_base_url=BASE_URL)
    for kind in _kinds():
        if kind == NotificationKind.DIGEST.value:
            continue  # a person's weekly digest, not a contract's mail: _digests() below
        for i, variant in enumerate(_variants()):
            request = NotificationRequest(
                contract_id=cid,
                term=1,
                workflow_id="wf",
                kind=NotificationKind(kind),
                key=f"scan:{language}:{kind}:{i}",
                facts={**COMMON_FACTS, **FACTS[language], **variant},
            )
            mails.send_notification(request)
    with transaction(sessions) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.contract_id == cid)))
    # Every kind but the digest once per variant, the review request twice (both audiences).
    assert len(rows) == len(_kinds()) * len(_variants())
    out: list[tuple[str, str, str]] = []
    for row in [*rows, *_digests(sessions, language, title, supplier, cid)]:
        assert row.body_html, row.key
        html_text = unescape(re.sub(r"<[^>]+>", " ", row.body_html))
        out.append((row.key, f"{row.subject}\n{row.body}\n{html_text}", row.body_html))
    return out


def _digests(
    sessions: SessionFactory, language: str, title: str, supplier: str, cid: str
) -> list[OutboxRow]:
    """A weekly digest with a line of every milestone, waiting stage and version kind, an
    overdue follow-up action and the plan's dates, composed by the digest's activity."""
    day = date(2027, 3, 1)
    plan = {
        "send_by": day + timedelta(days=20),
        "notice_deadline": day + timedelta(days=23),
        "end_date": day + timedelta(days=30),
    }

    def line(what: str, **more: Any) -> DigestLine:
        return DigestLine(
            contract_id=cid,
            term=1,
            title=title,
            supplier_name=supplier,
            language=language,
            what=what,
            due=day,
            **{**plan, **more},
        )

    person = PersonDigest(
        username="scan@example.com",
        language=language,
        lists={
            "due_this_week": [line(m.value) for m in MilestoneKind],
            "overdue": [
                line(MilestoneKind.FIRST_DISCUSSION.value),
                line(FOLLOWUP_ACTION, detail=FACTS[language]["answers"]),
            ],
            "awaiting": [
                *(line(stage) for stage in WAITS_ON_OWNER),
                *(line(k.value, version=2) for k in DraftKind),
            ],
            "send_by_soon": [line(MilestoneKind.SEND_BY.value)],
            "lapsed": [line(RenewalStage.LAPSED.value)],
        },
        more={"due_this_week": 3},
    )
    activities = DigestActivities(
        sessions,
        NotificationActivities(
            sessions, make_environment(), MailSettings.outbox_only(), web_base_url=BASE_URL
        ),
        web_base_url=BASE_URL,
    )
    subject, body, html = activities.compose(person, language, as_of=day)
    return [OutboxRow(key=f"scan:{language}:digest", subject=subject, body=body, body_html=html)]


def test_the_scan_knows_the_glossary() -> None:
    """The forbidden list holds the glossary's English words and the enum values."""
    assert {"renew as is", "last day to send the notice", "notice deadline", "end date"} <= set(
        FORBIDDEN
    )
    assert {"legal_review", "gather_facts", "interim_extension"} <= set(FORBIDDEN)
    assert "NPS" not in FORBIDDEN  # the Japanese words keep the abbreviation
    assert set(_kinds()) == {k.value for k in NotificationKind}  # every mail is scanned


def test_japanese_mails_are_wholly_japanese(sessions: SessionFactory) -> None:
    found: list[str] = []
    for key, text, html in _rendered(sessions, "ja"):
        for word in FORBIDDEN:
            if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text, re.IGNORECASE):
                found.append(f"{key}: {word!r}")
        found.extend(f"{key}: {m!r}" for m in SNAKE.findall(text + html))
        for words in ("解約予告の発送期限", "解約予告期限", "契約満了日"):
            assert words in text, (key, text)
        assert "年" in text and "月" in text and "日" in text, (key, text)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("language", ["en"])
def test_english_mails_are_wholly_english(sessions: SessionFactory, language: str) -> None:
    found: list[str] = []
    for key, text, html in _rendered(sessions, language):
        found.extend(f"{key}: {m!r}" for m in JAPANESE.findall(text))
        found.extend(f"{key}: {m!r}" for m in SNAKE.findall(text + html))
        for words in ("Last day to send the notice:", "Notice deadline:", "End date:"):
            assert words in text, (key, text)
    assert not found, "\n".join(found)
