"""Signed decisions for tests that talk to a workflow through clients.renewals directly.

Every test worker checks decisions with ``TEST_IDENTITY_KEYS``; ``SIGNED`` signs each request
for the person it names (reviewer, requested_by, recorded_by, amended_by), as a front end that
authenticated that person would. The worker's check still runs in full: signature, workflow,
action, digest, expiry, replay, and the person's account when accounts exist.
"""

from pydantic import BaseModel

from config.identity import IdentityKeys
from models.identity import IdentityAssertion

TEST_IDENTITY_KEYS = IdentityKeys.generate()
# Roles signed when no account exists (the worker then takes the signed roles).
TEST_ROLES = ("legal", "procurement")


def claimed_person(request: BaseModel) -> str:
    for name in ("reviewer", "requested_by", "recorded_by", "edited_by", "presented_by"):
        value = getattr(request, name, None)
        if isinstance(value, str):
            return value
    amendment = getattr(request, "amendment", None)
    if amendment is not None:
        return str(amendment.amended_by)
    raise AssertionError(f"{type(request).__name__} names nobody")


class ClaimedSigner:
    def __init__(self, keys: IdentityKeys, roles: tuple[str, ...] = TEST_ROLES) -> None:
        self.keys = keys
        self.roles = roles

    def assertion_for(
        self,
        *,
        workflow_id: str,
        action: str,
        request: BaseModel,
        draft_version: int | None = None,
        content_hash: str | None = None,
    ) -> IdentityAssertion:
        signer = self.keys.signer(subject=claimed_person(request), roles=self.roles)
        return signer.assertion_for(
            workflow_id=workflow_id,
            action=action,
            request=request,
            draft_version=draft_version,
            content_hash=content_hash,
        )


SIGNED = ClaimedSigner(TEST_IDENTITY_KEYS)
