"""How renewal mails reach a person (issue 17): ``immediate`` (every mail as it happens, and
the weekly digest) or ``digest`` (the weekly digest only; escalations still come at once,
see :mod:`activities.notifications`). People choose for themselves, on the account page, the
API (``/api/v1/me/mail-delivery``) or the CLI (``renewals users mail-delivery``); each change
is one audit entry keyed by the account's revision."""

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from domain.account_changes import change_key
from models.errors import FieldError, InvalidInput
from models.users import CurrentUser
from store import audit
from store import users as user_store

__all__ = ["MAIL_DELIVERIES", "MAIL_DELIVERY_CHANGED", "mail_delivery", "set_mail_delivery"]

MAIL_DELIVERY_CHANGED = "user_mail_delivery_changed"  # the audit action of a change
MAIL_DELIVERIES = user_store.MAIL_DELIVERIES


def mail_delivery(session: Session, *, actor: CurrentUser) -> str:
    """The signed-in person's choice."""
    return user_store.mail_delivery(session, username=actor.username)


def set_mail_delivery(
    session: Session, *, actor: CurrentUser, delivery: str, now: datetime | None = None
) -> tuple[str, bool]:
    """Choose how one's own renewal mails arrive: "immediate" or "digest". InvalidInput
    names ``mail_delivery`` for any other value; choosing what is held changes and audits
    nothing. (The choice, and whether it changed.)"""
    if delivery not in MAIL_DELIVERIES:
        raise InvalidInput(
            [FieldError("mail_delivery", f"choose one of {', '.join(MAIL_DELIVERIES)}")]
        )
    before = user_store.set_mail_delivery(session, username=actor.username, delivery=delivery)
    if before == delivery:
        return delivery, False
    revision = user_store.next_revision(session, username=actor.username)
    audit.record(
        session,
        actor=actor.username,
        action=MAIL_DELIVERY_CHANGED,
        subject_type="user",
        subject_id=actor.username,
        detail={"mail_delivery_before": before, "mail_delivery": delivery, "change": revision},
        key=change_key(actor.username, revision),
        occurred_at=now or datetime.now(UTC),
    )
    return delivery, True
