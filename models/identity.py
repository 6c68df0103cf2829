"""Proven identity for decisions that reach a renewal workflow.

A person's decision (a review, an amendment, a termination, a redraft request, a notice's
dispatch) carries an :class:`IdentityAssertion`: who the API, web app or CLI authenticated,
for which workflow and update, over exactly which request, until when, signed with a key that
only the trusted front ends and the workers hold. The workflow has an activity check it (with
the person's current roles and status) before the decision counts.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# How long a signed decision may travel before it is refused as stale. A person's request
# reaches the workflow within seconds; the allowance covers clock skew and the client's own
# retries while a renewal is still opening.
ASSERTION_LIFETIME_SECONDS = 300
# A decision dated this far in the future (clock skew between a front end and a worker) is
# still taken; beyond it the assertion is refused.
CLOCK_SKEW_SECONDS = 60


class IdentityAssertion(BaseModel):
    """Signed by a front end; ``signature`` is HMAC-SHA256 over every other field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: Annotated[str, Field(min_length=1, max_length=100)]
    subject: Annotated[str, Field(min_length=1, max_length=200)]  # the user's name
    roles: tuple[str, ...]
    workflow_id: Annotated[str, Field(min_length=1, max_length=200)]
    action: Annotated[str, Field(min_length=1, max_length=60)]  # the update's name
    request_digest: Annotated[str, Field(min_length=64, max_length=64)]
    draft_version: int | None = None
    content_hash: str | None = None
    issued_at: datetime
    expires_at: datetime
    nonce: Annotated[str, Field(min_length=16, max_length=64)]
    signature: Annotated[str, Field(min_length=1, max_length=200)]


class IdentityCheck(BaseModel):
    """What the workflow asks the identity activity: does this assertion prove that
    ``claimed`` made this request to this workflow?"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_id: str
    update_id: str
    action: str
    claimed: str  # the person the request names (reviewer, requested_by, ...)
    request_digest: str
    draft_version: int | None = None
    content_hash: str | None = None
    assertion: IdentityAssertion | None


class IdentityVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accepted: bool
    reason: str = ""  # why it was refused: names the field
    subject: str | None = None
    roles: tuple[str, ...] = ()  # the person's current roles (from the accounts when any exist)
