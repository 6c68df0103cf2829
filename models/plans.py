"""The stored plan of a term (renewal-semantics.md §1): what the running workflow decided about
its dates, kept in the database every time it plans or re-plans, with each milestone's state as
it changes. Every view reads this; a contract whose renewal has not started shows a preview
made by the same plan function, and says so (``preview``)."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from models.contract import DefaultAction, TermModel
from models.milestones import MilestoneKind, MilestoneState


class MilestoneRecord(BaseModel):
    """Argument of the record_milestone activity: a milestone's state changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    kind: MilestoneKind
    state: MilestoneState
    completed_at: datetime | None = None
    late: bool = False


class StoredMilestone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MilestoneKind
    due: date
    nominal: date
    fires_at: datetime | None
    state: MilestoneState
    completed_at: datetime | None = None
    late: bool = False  # ran (or will run) after its due date
    moved_for_notice: bool = False
    provenance: tuple[str, ...] = ()


class StoredPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str | None  # None: a preview, no renewal is running
    preview: bool
    end_date: date
    notice_deadline: date
    notice_provenance: tuple[str, ...] = ()
    send_by: date | None = None
    send_by_provenance: tuple[str, ...] = ()
    time_zone: str = "UTC"
    term_model: TermModel
    default_action: DefaultAction | None = None
    planned_on: date
    revision: int = 1  # how many times the workflow planned this term (amendments re-plan)
    milestones: tuple[StoredMilestone, ...]

    def get(self, kind: MilestoneKind) -> StoredMilestone | None:
        return next((m for m in self.milestones if m.kind is kind), None)

    def next_open(self) -> StoredMilestone | None:
        """The first milestone the renewal has not passed yet (pending, in plan order)."""
        return next((m for m in self.milestones if m.state is MilestoneState.PENDING), None)
