"""The check that makes a person's decision count: its signed identity assertion, the
person's current account, and the record of spent assertions (renewal-semantics.md §6).

A refusal is recorded in the audit trail (once per update, however often the activity runs)
and returned, not raised: the workflow refuses the update with the reason.
"""

from datetime import UTC, datetime

from sqlalchemy.orm import Session
from temporalio import activity

from activities.failures import activity_failures
from auth.roles import Permission, Role, parse_roles, permissions_for
from config.identity import IdentityKeys
from domain.identity import assertion_refusal
from models.activity_names import ActivityName
from models.errors import NotFound
from models.identity import IdentityCheck, IdentityVerdict
from store import audit
from store import users as user_store
from store.db import SessionFactory, transaction
from store.identity import spend_assertion

__all__ = ["PERMISSION_FOR_ACTION", "IdentityActivities"]

# What each workflow update needs of the person who sends it, by their current roles.
PERMISSION_FOR_ACTION: dict[str, Permission] = {
    "submit_review": Permission.REVIEW,
    "amend": Permission.CONTRACTS_WRITE,
    "terminate": Permission.RENEWALS_WRITE,
    "request_redraft": Permission.RENEWALS_WRITE,
    "record_dispatch": Permission.RENEWALS_WRITE,
    "edit_version": Permission.RENEWALS_WRITE,
    "record_offer": Permission.RENEWALS_WRITE,
    "record_answer": Permission.RENEWALS_WRITE,
    "record_hearing": Permission.RENEWALS_WRITE,
}


class IdentityActivities:
    def __init__(self, sessions: SessionFactory, keys: IdentityKeys) -> None:
        self._sessions = sessions
        self._keys = keys

    @activity.defn(name=ActivityName.VERIFY_IDENTITY)
    def verify_identity(self, check: IdentityCheck) -> IdentityVerdict:
        now = datetime.now(UTC)
        with activity_failures(), transaction(self._sessions) as session:
            reason = assertion_refusal(
                check.assertion,
                keys=self._keys.keys,
                now=now,
                workflow_id=check.workflow_id,
                action=check.action,
                claimed=check.claimed,
                digest=check.request_digest,
                draft_version=check.draft_version,
                content_hash=check.content_hash,
            )
            roles: tuple[str, ...] = ()
            if reason is None:
                assert check.assertion is not None
                reason, roles = self._current_person(session, check)
            if reason is None:
                assert check.assertion is not None
                if not spend_assertion(
                    session,
                    nonce=check.assertion.nonce,
                    workflow_id=check.workflow_id,
                    update_id=check.update_id,
                    username=check.assertion.subject,
                    action=check.action,
                    now=now,
                ):
                    reason = (
                        "assertion.nonce: this signed decision was already used; sign a new one"
                    )
            if reason is None:
                assert check.assertion is not None
                return IdentityVerdict(accepted=True, subject=check.assertion.subject, roles=roles)
            audit.record(
                session,
                actor=check.claimed or "unknown",
                action=audit.AuditAction.DECISION_REFUSED,
                subject_type="renewal",
                subject_id=check.workflow_id,
                detail={
                    "action": check.action,
                    "update_id": check.update_id,
                    "claimed": check.claimed,
                    "signed_for": check.assertion.subject if check.assertion else None,
                    "reason": reason,
                },
                key=f"decision-refused:{check.workflow_id}:{check.update_id}",
                occurred_at=now,
            )
            return IdentityVerdict(accepted=False, reason=reason)

    def _current_person(
        self, session: Session, check: IdentityCheck
    ) -> tuple[str | None, tuple[str, ...]]:
        """The person's roles as the accounts hold them now (not as signed: a role removed
        since counts as removed). Without any account (an operator's own installation) the
        signed roles stand: the signature still proves a trusted front end sent it."""
        assert check.assertion is not None
        if user_store.count_users(session) == 0:
            roles = tuple(check.assertion.roles)
        else:
            try:
                row = user_store.get_user_row(session, username=check.assertion.subject)
            except NotFound:
                return f"assertion.subject: {check.assertion.subject!r} has no account", ()
            if not row.active:
                return f"assertion.subject: the account {row.username!r} is deactivated", ()
            roles = tuple(sorted(r.value for r in parse_roles(row.roles)))
        needed = PERMISSION_FOR_ACTION.get(check.action)
        if needed is None:
            return f"assertion.action: {check.action!r} is not a decision this engine takes", ()
        known = frozenset(Role(r) for r in roles if r in Role._value2member_map_)
        if needed not in permissions_for(known):
            return (
                f"assertion.subject: {check.assertion.subject!r} does not hold the permission "
                f"{needed.value} ({', '.join(roles) or 'no roles'})",
                (),
            )
        return None, roles
