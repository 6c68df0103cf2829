"""The end of a term: which outcome the contract's terms give (renewal-semantics.md §4), where
the next term ends, and how a contract registered after its end date is brought to its present
term in one step (§5).

One rule for the workflow (which decides at expiry), for the draft that proposes an interim
extension and for the outcome that records it, so the letter, the contract row and every view
name the same dates.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from domain.glossary import Bilingual
from domain.milestones import next_term_end
from domain.phrases import Value, phrase
from models.contract import DefaultAction, TermModel
from models.renewal import DraftKind, OutcomeKind


def interim_extension_end(end_date: date, extension_months: int) -> date:
    """The current terms carried ``extension_months`` past the end date (plain calendar months:
    an extension is counted from the day the term ends, not kept at a month's end)."""
    return end_date + relativedelta(months=extension_months)


def new_end_date(
    kind: OutcomeKind, *, end_date: date, term_months: int, extension_months: int
) -> date | None:
    """The end of the term an outcome opens, or None when the outcome opens no new term."""
    if kind in (OutcomeKind.RENEWED, OutcomeKind.ROLLED_OVER):
        return next_term_end(end_date, term_months)
    if kind is OutcomeKind.INTERIM_EXTENSION:
        return interim_extension_end(end_date, extension_months)
    return None


class NoticeState(StrEnum):
    """Where the term's non-renewal notice stands at the end date."""

    NONE = "none"  # no notice version, or none approved
    APPROVED = "approved"  # approved by legal, dispatch not recorded
    DISPATCHED = "dispatched"  # dispatched on or before the notice deadline: effective
    DISPATCHED_LATE = "dispatched_late"  # dispatched after the notice deadline: not effective


def notice_state(
    *, approved: bool, dispatched_on: date | None, notice_deadline: date
) -> NoticeState:
    if not approved:
        return NoticeState.NONE
    if dispatched_on is None:
        return NoticeState.APPROVED
    return (
        NoticeState.DISPATCHED if dispatched_on <= notice_deadline else NoticeState.DISPATCHED_LATE
    )


@dataclass(frozen=True, slots=True)
class ExpiryFacts:
    """What the engine knows on the end date. ``agreed`` is the kind of the version that was
    agreed (until supplier answers exist, approved stands for agreed)."""

    term_model: TermModel  # effective: an auto-renewing contract with no renewals left is fixed
    agreed: DraftKind | None
    notice: NoticeState
    termination_requested: bool
    default_action: DefaultAction


@dataclass(frozen=True, slots=True)
class ExpiryDecision:
    kind: OutcomeKind
    code: str  # the reason's code in domain.phrase_table (esc.* / out.*)
    escalate: bool  # nobody decided what the contract's terms then did, or supply is at risk
    values: Mapping[str, Value] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """Plain English words for the record (the mail says it in its reader's language)."""
        return phrase(self.code, "en", self.values)


def _model(term_model: TermModel) -> Bilingual:
    if term_model is TermModel.EVERGREEN:
        return ("evergreen contract", "期間の定めのない契約")
    return ("contract", "契約")


def expiry_outcome(f: ExpiryFacts) -> ExpiryDecision:
    """The outcome of §4's table for the facts on the end date."""
    if f.agreed is DraftKind.RENEGOTIATION:
        return ExpiryDecision(OutcomeKind.RENEWED, "out.renewed_on_agreed", False)
    if f.agreed is DraftKind.INTERIM_EXTENSION:
        return ExpiryDecision(OutcomeKind.INTERIM_EXTENSION, "out.interim_on_agreed", False)
    if f.term_model is TermModel.FIXED:
        if f.agreed is DraftKind.TRANSITION_PLAN:
            return ExpiryDecision(OutcomeKind.NOT_RENEWED, "out.transition_plan", False)
        if f.termination_requested:
            return ExpiryDecision(OutcomeKind.TERMINATED, "out.ends_as_decided", False)
        return ExpiryDecision(OutcomeKind.LAPSED, "out.fixed_lapsed", True)
    # Auto-renewing and evergreen contracts continue by their own terms unless an effective
    # notice stopped them: an approval or an intention is not a notice.
    if f.notice is NoticeState.DISPATCHED:
        return ExpiryDecision(OutcomeKind.NOT_RENEWED, "out.notice_dispatched", False)
    model = {"model": _model(f.term_model)}
    if f.notice is NoticeState.DISPATCHED_LATE:
        return ExpiryDecision(OutcomeKind.ROLLED_OVER, "out.notice_late", True, model)
    if f.termination_requested or f.notice is NoticeState.APPROVED:
        return ExpiryDecision(OutcomeKind.ROLLED_OVER, "out.no_notice", True, model)
    if f.term_model is TermModel.EVERGREEN:
        return ExpiryDecision(OutcomeKind.ROLLED_OVER, "out.evergreen", False)
    if f.default_action is DefaultAction.RENEW_AS_IS:
        return ExpiryDecision(OutcomeKind.ROLLED_OVER, "out.default_rolled_over", False)
    return ExpiryDecision(OutcomeKind.ROLLED_OVER, "out.nobody_decided", True)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A contract registered after its end date, brought to the present in one step."""

    rolled_over: tuple[tuple[date, date], ...]  # (end of the term, end of the next), in order
    present_end: date | None  # end of the term running today; None: the contract lapsed
    lapsed_on: date | None  # the end date after which nothing continued it


def catch_up(
    *,
    end_date: date,
    term_model: TermModel,
    term_months: int,
    renewals_left: int | None,
    today: date,
) -> CatchUp:
    """Every roll-over the terms caused between ``end_date`` and ``today`` (no notice is on
    record for a term that ended before it was registered), and the present term's end."""
    if today <= end_date:
        return CatchUp((), end_date, None)
    if term_model is TermModel.FIXED:
        return CatchUp((), None, end_date)
    steps: list[tuple[date, date]] = []
    end = end_date
    left = renewals_left
    while end < today:
        if left is not None and left <= 0:
            # Its last allowed renewal is behind it: from here it behaves as a fixed term.
            return CatchUp(tuple(steps), None, end)
        following = next_term_end(end, term_months)
        steps.append((end, following))
        end = following
        if left is not None:
            left -= 1
    return CatchUp(tuple(steps), end, None)


def catch_up_reason(
    *,
    end_date: date,
    rolled_over: int,
    present_term: int,
    present_end: date | None,
    lapsed_on: date | None,
) -> tuple[str, dict[str, Value]]:
    """Why a contract registered after its end date stands where :func:`catch_up` put it: the
    code and values of the reason (the outcome records its English, the mail its reader's)."""
    values: dict[str, Value] = {"end_date": end_date, "count": rolled_over, "term": present_term}
    if present_end is not None:
        return "out.catch_up.present", {**values, "present_end": present_end}
    return "out.catch_up.lapsed", {**values, "lapsed_on": lapsed_on or "?"}
