"""Request and response bodies of the API (what the OpenAPI schema documents)."""

from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from models.contract import IsoDate
from models.notices import DispatchChannel, DispatchRecord
from models.numbers import PositiveDbInt
from models.renewal import ReviewDecisionKind

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_offset`` is null on the last page."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None

    @classmethod
    def of(cls, items: list[T], *, total: int, limit: int, offset: int) -> "Page[T]":
        following = offset + limit
        return cls(
            items=items,
            total=total,
            limit=limit,
            offset=offset,
            next_offset=following if following < total else None,
        )


class Me(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    permissions: list[str]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(max_length=120)]
    display_name: Annotated[str, Field(max_length=200)] = ""
    roles: list[str]
    password: Annotated[str | None, Field(max_length=1024)] = None


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    active: bool


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] = "api"
    valid_days: Annotated[int, Field(ge=1, le=3650)] = 90


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; store it now.")
    prefix: str
    name: str
    expires_at: datetime | None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_id: Annotated[str, Field(min_length=1, max_length=64)]


class StartOut(BaseModel):
    workflow_id: str
    contract_id: str
    term: int
    created: bool
    status: str


class AmendmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: IsoDate | None = None
    notice_period_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    reason: Annotated[str, Field(max_length=4000)] = ""


class AmendmentOut(BaseModel):
    contract_id: str
    end_date: date
    notice_period_days: int
    notice_deadline: date | None
    through_workflow: bool


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=4000)]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecisionKind
    draft_version: PositiveDbInt
    content_hash: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    comment: Annotated[str, Field(max_length=4000)] = ""


class DispatchIn(BaseModel):
    """An approved non-renewal notice went out: when, how, and what identifies it."""

    model_config = ConfigDict(extra="forbid")

    draft_version: PositiveDbInt
    dispatched_on: IsoDate
    channel: DispatchChannel
    reference: Annotated[
        str, Field(min_length=1, max_length=200, description="tracking number, message id")
    ]


class DispatchOut(BaseModel):
    workflow_id: str
    contract_id: str
    term: int
    stage: str
    dispatch: DispatchRecord
    late: bool = Field(description="after the notice deadline: it does not stop the roll-over")
    note: str = Field(description="what the dispatch means for the end of the term")


class ImportOut(BaseModel):
    kind: str
    format: str
    rows_read: int
    inserted: int
    updated: int
    dry_run: bool


class AuditEntryOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    content_hash: str | None
    detail: dict[str, Any]
