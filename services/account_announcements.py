"""Every account and role change is written down and announced: one audit entry and one mail
to the legal lead(s), both in the change's own transaction and both keyed by the change (the
account and its change number), so a change that is retried lands once and a change that is
rolled back leaves neither.

Who is told: the active people holding the legal lead role, at the address that is their user
name (accounts have no other address field; a user name is fixed when the account is made, so
nobody can point the mail meant to watch them somewhere else). A legal lead whose own account
changes is told too, even when the change takes the role away or deactivates the account.
When nobody can be told the change still goes ahead, and its audit entry says so.

The mail is an ``outbox`` row of kind ``account_change`` (no contract: its ``contract_id``
is empty and its ``term`` 0), Message-ID derived from the key as the renewal mails' are. Only
activities send mail (activities/notifications.py); no activity sends these rows yet, so they
wait in the outbox for a relay, as every mail does while ``SMTP_HOST`` is unset.
"""

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from domain.account_changes import MAIL_KIND, AccountChange, change_key, mail_text
from models.text import one_email_address
from store import audit, outbox
from store import users as user_store

NOBODY_TOLD = (
    "nobody could be told: no active legal lead has an e-mail address as user name "
    "(give the legal_lead role to a person whose user name is their e-mail address)"
)


def _message_id(key: str) -> str:
    # The same form as the renewal mails' (activities.notifications.message_id).
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@contract-renewals>"


def address_of(username: str) -> str | None:
    """The e-mail address an account is reached at: its user name, when that is one."""
    try:
        return one_email_address(username)
    except ValueError:
        return None


def announce(
    session: Session,
    change: AccountChange,
    *,
    action: str,
    detail: dict[str, Any],
    also_tell: tuple[str, ...] = (),
    key: str | None = None,
) -> bool:
    """Write the change's audit entry and its mail in the caller's transaction. ``key``
    defaults to the change's (account and change number); False, and nothing written, when an
    entry with that key exists already (the caller refuses the repeat)."""
    key = key or change_key(change.username, change.revision)
    leads, unreachable = user_store.legal_leads(session)
    recipients = list(dict.fromkeys([*leads, *(a for a in also_tell if address_of(a))]))
    entry = {**detail, "kind": change.account_kind.value, "change": change.revision}
    entry["announced_to"] = recipients
    if not recipients:
        entry["not_announced"] = NOBODY_TOLD
    if unreachable:
        entry["legal_leads_without_address"] = unreachable
    written = audit.record(
        session,
        actor=change.actor,
        action=action,
        subject_type="user",
        subject_id=change.username,
        detail=entry,
        key=key,
        occurred_at=change.occurred_at,
    )
    if not written:
        return False
    if recipients and outbox.find(session, key=key) is None:
        subject, body = mail_text(change)
        outbox.stage(
            session,
            key=key,
            kind=MAIL_KIND,
            contract_id="",
            term=0,
            recipients=recipients,
            subject=subject,
            body=body,
            message_id=_message_id(key),
        )
    return True
