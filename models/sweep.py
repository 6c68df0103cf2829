"""Inputs and results of the scheduled sweep that starts renewals as contracts come into range."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.milestones import RenewalPolicy


class SweepTotals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Active contracts near enough to expiry that one could be due and whose current term has no
    # renewal yet, each checked against the exact rule (the rest of the table is never read).
    examined: int = 0
    due: int = 0  # of those, inside their renewal window and not yet started
    started: int = 0  # new renewal workflows
    already: int = 0  # due, but a workflow for that term existed (a racing sweep, say)
    batches: int = 0

    def __add__(self, other: "SweepTotals") -> "SweepTotals":
        return SweepTotals(
            examined=self.examined + other.examined,
            due=self.due + other.due,
            started=self.started + other.started,
            already=self.already + other.already,
            batches=self.batches + other.batches,
        )


class SweepInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date | None = None  # None: the day the sweep runs (workflow time)
    after_id: str | None = None  # paging cursor carried across continue-as-new
    batch_size: Annotated[int, Field(ge=1, le=5000)] = 500
    batches_per_run: Annotated[int, Field(ge=1, le=1000)] = 50
    requested_by: str = "schedule"
    policy: RenewalPolicy = RenewalPolicy()
    totals: SweepTotals = SweepTotals()
    # How far before its end date any active contract's notice may have to leave (its notice
    # period plus two calendar days per business day of transit buffer: store.sweep's
    # max_reach_days), read by the first page and carried through the sweep (and across
    # continue-as-new) so later pages do not read it again. The name is kept from when it was
    # the notice period alone: it is in the histories of running sweeps.
    max_notice_days: int | None = None


class SweepBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    after_id: str | None
    limit: int
    requested_by: str
    policy: RenewalPolicy
    max_notice_days: int | None = None  # the reach (see SweepInput); None: the page reads it
    # Renewals this sweep started in its earlier pages (and runs): where this page's first
    # start falls in the sweep's spread of opening times (activities/sweep_activities.py).
    started_before: int = 0


class SweepPage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    next_after_id: str | None  # None: that was the last page
    totals: SweepTotals
    max_notice_days: int | None = None  # the reach the page used, for the pages after it
