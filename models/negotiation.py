"""The negotiation of a renewal (renewal-semantics.md §2, §3): the plan procurement negotiates
to, and what happened to each version between legal and the supplier.

* :class:`NegotiationPlan` (交渉準備): for each negotiable term a target (the system's opening
  position, draft v1's terms) and a limit (妥協点, the compromise point). Internal: shown to
  procurement and legal, never printed in the supplier's letter.
* :class:`LimitBreach`: a term of a version outside its limit, which legal's review shows.
* The version events (:data:`VersionEvent`): approved, presented to the supplier, the supplier's
  answer, superseded by a later version, approval withdrawn by an amendment. The rules over
  them are :mod:`domain.agreement`'s.

These types travel in workflow payloads and through the interfaces: no I/O. Rules and their
reasons live in :mod:`domain.negotiation` and :mod:`domain.agreement`.
"""

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.drafts import ProposedTerms, TermsEdit
from models.identity import IdentityAssertion
from models.renewal import DraftKind
from models.scorecard import Finding, Recommendation, Scorecard, Share
from models.text import LongText, PersonRef

# ---------------------------------------------------------------------------- the plan


class NegotiationPolicy(BaseModel):
    """The room procurement has beyond the opening position (the rest comes from
    :class:`models.scorecard.TermsPolicy`: the price cap, the bridge notice)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume_concession_share: Share = Decimal("0.5")
    """Demand falling: at most this share of the planned volume cut may be given back."""
    renew_term_extra_months: Annotated[int, Field(ge=0, le=120)] = 12
    """Renew as is: a term this many months longer than the usual one may be agreed."""


class LimitKind(StrEnum):
    AT_MOST = "at_most"  # a ceiling: price, volume, term, notice of a bridge, the cap
    AT_LEAST = "at_least"  # a floor: notice period, payment days
    NOT_GRANTED = "not_granted"  # exclusivity may not be granted
    STATED = "stated"  # the clause may not be dropped (service levels)
    AS_TODAY = "as_today"  # only the wordings in accepted_texts (payment terms we cannot read)


class PlanTerm(BaseModel):
    """One negotiable term: where procurement opens, where it stops, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str  # a key of models.drafts.VERSION_CLAUSES
    label: str  # in the plan's language
    target: str  # display value, in the plan's language
    limit: str  # display value, in the plan's language ("at most 1,300.00 JPY")
    limit_kind: LimitKind | None  # None: no limit (the clause is the parties' to agree)
    limit_value: Decimal | None = None  # AT_MOST / AT_LEAST, in the clause's unit
    accepted_texts: tuple[str, ...] = ()  # AS_TODAY; the price adjustment wordings that need no cap
    target_reasons: tuple[Finding, ...] = ()  # why the target (draft v1's reasons)
    limit_reasons: tuple[Finding, ...] = ()  # why the limit


class NegotiationPlan(BaseModel):
    """交渉準備: the targets and limits of one renewal, made at the gather-facts milestone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    language: str
    recommendation: Recommendation
    currency: str
    targets: ProposedTerms  # the opening position: draft v1's terms, with the cap as a number
    terms: tuple[PlanTerm, ...]

    def term_for(self, clause: str) -> PlanTerm | None:
        for t in self.terms:
            if t.clause == clause:
                return t
        return None


class LimitBreach(BaseModel):
    """A term of a version outside the plan's limit: legal's review shows it as a flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str
    label: str  # in the plan's language
    value: str  # the version's value, displayed
    limit: str  # the plan's limit, displayed
    reason: Finding  # "<clause>: <value> is outside the limit (<limit>)", both languages
    because: tuple[Finding, ...] = ()  # the limit's reasons


# ---------------------------------------------------------------------------- version events


class SupplierAnswerKind(StrEnum):
    ACCEPTED = "accepted"  # 合意: the renewal is agreed on the version's content hash
    COUNTERED = "countered"  # 対案: the counter-offer's terms become the next version
    DECLINED = "declined"  # 辞退: back to the recommendation (re-tender, interim, non-renewal)


class VersionApproved(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["approved"] = "approved"
    version: Annotated[int, Field(ge=1)]
    content_hash: str
    on: date
    by: PersonRef


class OfferPresented(BaseModel):
    """Procurement presented the approved version to the supplier (条件提示済み)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["presented"] = "presented"
    version: Annotated[int, Field(ge=1)]
    on: date
    by: PersonRef
    content_hash: str | None = None  # when given, the text presented must be the one approved


class SupplierAnswer(BaseModel):
    """What the supplier said to the presented version, as procurement recorded it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["answered"] = "answered"
    version: Annotated[int, Field(ge=1)]
    answer: SupplierAnswerKind
    on: date
    recorded_by: PersonRef
    content_hash: str | None = None  # required to accept: the hash the supplier agreed to
    confirmed_by: LongText = ""  # accepted: who signed or confirmed for the supplier
    reference: LongText = ""  # accepted: the evidence (signed copy, mail, order number)
    note: LongText = ""  # the supplier's needs and requests, a counter-offer, why it declined


class VersionSuperseded(BaseModel):
    """A later version replaced this one (legal's changes, a counter-offer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["superseded"] = "superseded"
    version: Annotated[int, Field(ge=1)]
    by_version: Annotated[int, Field(ge=2)]


class ApprovalWithdrawn(BaseModel):
    """An amendment contradicted the approved terms: the version goes back to review, and an
    offer made with it is withdrawn too (it must be presented again once re-approved)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["approval_withdrawn"] = "approval_withdrawn"
    version: Annotated[int, Field(ge=1)]
    content_hash: str
    on: date
    reason: LongText


VersionEvent = Annotated[
    VersionApproved | OfferPresented | SupplierAnswer | VersionSuperseded | ApprovalWithdrawn,
    Field(discriminator="kind"),
]


class VersionStatus(BaseModel):
    """Where one version stands, folded from its events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    approved_hash: str | None = None  # the standing approval; None: never approved, or withdrawn
    approved_on: date | None = None
    withdrawn: bool = False  # an approval was withdrawn and not given again
    presented_on: date | None = None  # the standing offer (cleared by a withdrawal)
    presented_by: str | None = None
    answer: SupplierAnswerKind | None = None
    answered_on: date | None = None
    accepted_hash: str | None = None
    superseded_by: int | None = None


class AgreedVersion(BaseModel):
    """Renewed on new terms: the version legal approved and the supplier accepted, bound by one
    content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    content_hash: str
    approved_on: date
    accepted_on: date


class FinalTermsGap(StrEnum):
    """Why the final-terms milestone escalates (none: agreed)."""

    NOTHING_PRESENTED = "nothing_presented"  # no version both approved and presented
    NO_ANSWER = "no_answer"  # presented, the supplier has not answered
    DECLINED = "declined"  # the supplier declined the version presented


class NegotiationState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: tuple[VersionStatus, ...] = ()  # by version number
    agreed: AgreedVersion | None = None

    def status(self, version: int) -> VersionStatus | None:
        for v in self.versions:
            if v.version == version:
                return v
        return None


class VersionTerms(BaseModel):
    """A version's kind and stored terms, for the amendment rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    kind: DraftKind = DraftKind.RENEGOTIATION
    terms: ProposedTerms


class Contradiction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str  # new_end_date, notice_period_days or term_months
    version_value: str  # machine form (ISO date, number)
    amended_value: str
    reason: str


class ContradictedApproval(BaseModel):
    """An approved version whose terms an amendment contradicts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    content_hash: str
    agreed: bool  # the supplier accepted it: the amendment must be refused, not the approval
    contradictions: tuple[Contradiction, ...]


# ---------------------------------------------------------------------------- people's updates


class VersionEdit(BaseModel):
    """Argument of the ``edit_version`` update: procurement makes the next version by editing
    the terms of ``based_on_version`` (after legal's comments or a rejection). ``based_on_version``
    must be the renewal's current version: a form made on an older one is refused, not applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edited_by: PersonRef
    based_on_version: Annotated[int, Field(ge=1)]
    edit: TermsEdit
    note: LongText = ""  # what it answers, in the editor's words (default: legal's comment)
    # Who sent it, signed by the API, web app or CLI (models/identity.py); checked before it counts.
    assertion: IdentityAssertion | None = None


class OfferRecord(BaseModel):
    """Argument of the ``record_offer`` update: the approved version was presented."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    draft_version: Annotated[int, Field(ge=1)]
    presented_on: date
    presented_by: PersonRef
    content_hash: str | None = None  # when given, must be the approved text's
    note: LongText = ""
    assertion: IdentityAssertion | None = None


class AnswerRecord(BaseModel):
    """Argument of the ``record_answer`` update: what the supplier said to the presented version.
    A counter-offer carries its terms as an edit of that version: they become the next version,
    made by the person who records them, and go to legal review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    draft_version: Annotated[int, Field(ge=1)]
    answer: SupplierAnswerKind
    answered_on: date
    recorded_by: PersonRef
    content_hash: str | None = None  # required to accept
    confirmed_by: LongText = ""  # accepted: who signed or confirmed for the supplier
    reference: LongText = ""  # accepted: the evidence
    note: LongText = ""  # a counter-offer's or a decline's reasons, the supplier's words
    counter_terms: TermsEdit | None = None  # countered: required
    assertion: IdentityAssertion | None = None


class HearingRecord(BaseModel):
    """Argument of the ``record_hearing`` update (ヒアリング): the supplier's stated needs and
    requests at the first discussion, recorded with the renewal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    held_on: date
    recorded_by: PersonRef
    needs: Annotated[LongText, Field(min_length=1)]
    wants_to_continue: bool | None = None  # the supplier's own view, when it said
    assertion: IdentityAssertion | None = None


class Hearing(BaseModel):
    """A recorded hearing, as the workflow keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    held_on: date
    recorded_by: str
    needs: str
    wants_to_continue: bool | None = None


class NegotiationView(BaseModel):
    """What the ``negotiation`` query answers: the plan, every version event in order, where
    each version stands, the version legal asked to change (awaiting procurement's revision)
    and the hearings. Internal: never printed in a supplier's letter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    active: bool  # False: a renewal started before versions made by people existed
    plan: NegotiationPlan | None = None
    events: tuple[VersionEvent, ...] = ()
    state: NegotiationState = NegotiationState()
    awaiting_revision: int | None = None  # legal requested changes to this version
    breaches: tuple[LimitBreach, ...] = ()  # the current version's terms outside the plan
    hearings: tuple[Hearing, ...] = ()


class NegotiationPlanRequest(BaseModel):
    """The ``plan_negotiation`` activity's request, at the gather-facts milestone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    scorecard: Scorecard | None = None


class VersionToMake(BaseModel):
    """The ``make_version`` activity's request: render and store a version made by a person
    from terms the workflow already checked (domain.versions.next_terms)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    kind: DraftKind
    version: Annotated[int, Field(ge=2)]
    made_by: str  # the version's maker: it may not approve it
    terms: ProposedTerms
    answers_comment: str | None = None  # quoted in the version
    answers_by: str | None = None  # who wrote what it answers
    answers_counter_offer: bool = False  # what it answers is the supplier's counter-offer
    scorecard: Scorecard | None = None
    notice_deadline: date | None = None
    send_by: date | None = None


__all__ = [
    "AgreedVersion",
    "AnswerRecord",
    "ApprovalWithdrawn",
    "ContradictedApproval",
    "Contradiction",
    "FinalTermsGap",
    "Hearing",
    "HearingRecord",
    "LimitBreach",
    "LimitKind",
    "NegotiationPlan",
    "NegotiationPlanRequest",
    "NegotiationPolicy",
    "NegotiationState",
    "NegotiationView",
    "OfferPresented",
    "OfferRecord",
    "PlanTerm",
    "SupplierAnswer",
    "SupplierAnswerKind",
    "VersionApproved",
    "VersionEdit",
    "VersionEvent",
    "VersionStatus",
    "VersionSuperseded",
    "VersionTerms",
    "VersionToMake",
]
