"""The outbox: every mail is a keyed row before it is sent, so a retried activity finds it and
never composes or sends a second, different message."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.account_tables import UserRow
from models.tables import OutboxRow
from store.users import MAIL_DIGEST

SUBJECT_LIMIT = 300  # characters; the column's width


@dataclass(frozen=True, slots=True)
class Reader:
    """What a mail needs of one recipient's account: the language they chose (None: the
    contract's), whether only the weekly digest reaches them, and their roles (which page
    their link opens)."""

    language: str | None
    digest_only: bool
    roles: str


def readers(session: Session, addresses: Iterable[str]) -> dict[str, Reader]:
    """The accounts of ``addresses`` (casefolded, as usernames are stored), in one read:
    the digest choice counts for active accounts only (store.users.digest_only), the language
    and roles for any account (store.users.chosen_languages, get_user). Addresses without an
    account are left out."""
    wanted = {a.strip().casefold() for a in addresses if a.strip()}
    if not wanted:
        return {}
    return {
        name: Reader(
            language=language or None,
            digest_only=delivery == MAIL_DIGEST and active is True,
            roles=roles,
        )
        for name, language, delivery, active, roles in session.execute(
            select(
                UserRow.username,
                UserRow.language,
                UserRow.mail_delivery,
                UserRow.active,
                UserRow.roles,
            ).where(UserRow.username.in_(wanted))
        )
    }


def find(session: Session, *, key: str) -> OutboxRow | None:
    return session.scalar(select(OutboxRow).where(OutboxRow.key == key))


def find_all(session: Session, *, keys: list[str]) -> list[OutboxRow]:
    """The rows of ``keys`` (one message's per-language rows), detached, in the order staged."""
    rows = list(
        session.scalars(select(OutboxRow).where(OutboxRow.key.in_(keys)).order_by(OutboxRow.id))
    )
    for row in rows:
        session.expunge(row)
    return rows


def stage(
    session: Session,
    *,
    key: str,
    kind: str,
    contract_id: str,
    term: int,
    recipients: list[str],
    subject: str,
    body: str,
    message_id: str,
    body_html: str | None = None,
) -> OutboxRow:
    """Write the message and hand back a detached copy, for sending outside the transaction.
    ``body_html`` is the HTML alternative of ``body``; without it the mail is text only."""
    row = OutboxRow(
        key=key,
        kind=kind,
        contract_id=contract_id,
        term=term,
        recipients=", ".join(recipients),
        subject=subject.strip()[:SUBJECT_LIMIT],
        body=body.lstrip("\n"),
        body_html=body_html,
        message_id=message_id,
    )
    session.add(row)
    session.flush()
    session.expunge(row)
    return row


def mark(session: Session, *, key: str, error: str | None, sent_at: datetime | None) -> None:
    """Count an attempt; ``sent_at`` set means the mail server accepted the message."""
    row = find(session, key=key)
    if row is None:
        return
    row.attempts += 1
    row.last_error = error
    if sent_at is not None:
        row.sent_at = sent_at


def claim_unsent(session: Session, *, kinds: tuple[str, ...], limit: int) -> list[OutboxRow]:
    """Unsent messages of ``kinds``, oldest first, locked for this transaction (PostgreSQL
    skips rows another relay holds; SQLite has one writer at a time): two relays never send
    the same row."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.kind.in_(kinds), OutboxRow.sent_at.is_(None))
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))
