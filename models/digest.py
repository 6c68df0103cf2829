"""Inputs and results of the weekly digest (issue 17): a Temporal Schedule starts
DigestWorkflow at DIGEST_WEEKDAY / DIGEST_HOUR in DIGEST_TIME_ZONE; it lists the recipients a
page at a time and stages each person's digest in the outbox, keyed by person and ISO week."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class DigestTotals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recipients: int = 0  # people looked at
    staged: int = 0  # digests written to the outbox by this run
    already: int = 0  # the week's digest was there already (a retry, a second run)
    empty: int = 0  # nothing in any list: no digest
    sent: int = 0  # handed to the mail server by this run

    def __add__(self, other: "DigestTotals") -> "DigestTotals":
        return DigestTotals(
            recipients=self.recipients + other.recipients,
            staged=self.staged + other.staged,
            already=self.already + other.already,
            empty=self.empty + other.empty,
            sent=self.sent + other.sent,
        )


class DigestInput(BaseModel):
    """What the Schedule starts the workflow with; the week is the run's own (workflow time,
    in ``time_zone``), so a re-run in the same week stages nothing twice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = "Asia/Tokyo"
    page_size: Annotated[int, Field(ge=1, le=500)] = 50
    pages_per_run: Annotated[int, Field(ge=1, le=1000)] = 40  # then continue as new
    # Carried across continue-as-new (None at the start: the first page decides them).
    as_of: date | None = None
    week: str | None = None
    after: str | None = None
    totals: DigestTotals = DigestTotals()


class DigestWeekRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime  # the workflow's now (UTC)
    time_zone: str


class DigestWeek(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date  # the local day the digest is for
    week: str  # its ISO year-week, "2027-W05"


class DigestRecipientsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after: str | None  # the last username of the page before
    limit: Annotated[int, Field(ge=1, le=500)]


class DigestRecipientPage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usernames: list[str]
    next_after: str | None  # None: that was the last page


class DigestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    week: str
    usernames: Annotated[list[str], Field(max_length=500)]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_key(username: str, week: str) -> str:
    """The outbox key of one person's digest of one week."""
    return f"digest:{username}:{week}"
