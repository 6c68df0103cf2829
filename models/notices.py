"""The dispatch of an approved non-renewal notice (renewal-semantics.md §4): only a notice
recorded as dispatched by the notice deadline stops an auto-renewing contract rolling over."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.identity import IdentityAssertion
from models.text import PersonRef, ShortText


class DispatchChannel(StrEnum):
    POST = "post"  # registered or recorded delivery (内容証明郵便 and the like)
    COURIER = "courier"
    EMAIL = "email"
    HAND = "hand"  # handed over, with a receipt
    PORTAL = "portal"  # the supplier's or a shared contract portal


class NoticeDispatch(BaseModel):
    """Argument of the ``record_dispatch`` update: procurement says an approved notice went out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    draft_version: Annotated[int, Field(ge=1)]
    dispatched_on: date
    channel: DispatchChannel
    reference: Annotated[ShortText, Field(min_length=1)]  # tracking number, message id, receipt
    recorded_by: PersonRef
    # Who sent it, signed by the API, web app or CLI (models/identity.py); checked before it counts.
    assertion: IdentityAssertion | None = None


class DispatchRecord(BaseModel):
    """A recorded dispatch, as the workflow judged it against the stored plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    draft_version: int
    content_hash: str
    dispatched_on: date
    channel: DispatchChannel
    reference: str
    recorded_by: str
    recorded_at: datetime
    notice_deadline: date
    send_by: date | None
    late: bool  # after the notice deadline: it does not stop the roll-over
    after_send_by: bool  # after the last day to post; in time only if it arrived by the deadline
