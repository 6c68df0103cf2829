"""Offer, answer and agreement (renewal-semantics.md §3): the rules over the events of a
renewal's versions, as pure functions over the sequence recorded so far.

* Only a version legal approved (an approval standing: not withdrawn) may be presented to the
  supplier, on or after the day it was approved, as the text approved, and once per approval.
* An answer is recorded only for a version presented and not superseded, on or after the day it
  was presented, once. Accepting needs the content hash the supplier agreed to (equal to the
  approved one), who signed or confirmed, and the evidence.
* Renewed on new terms ⇔ some version approved and accepted on the same content hash
  (:attr:`~models.negotiation.NegotiationState.agreed`). Approved alone is not agreed. Once
  agreed, nothing else is presented or answered, and the agreed version is neither superseded
  nor withdrawn.
* An amendment of the contract (end date, notice period, term length) withdraws the approval of
  every version whose terms it contradicts (:func:`contradicted_approvals`,
  :func:`withdrawals_for_amendment`); the version goes back to review and its offer is void. An
  amendment that contradicts the agreed version is refused.

Every refusal is a :class:`~models.errors.FieldError` naming the field and the reason.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from domain.reasons import Reason
from domain.versions import term_end
from models.errors import FieldError, InvalidInput
from models.negotiation import (
    AgreedVersion,
    ApprovalWithdrawn,
    ContradictedApproval,
    Contradiction,
    FinalTermsGap,
    NegotiationState,
    OfferPresented,
    SupplierAnswer,
    SupplierAnswerKind,
    VersionApproved,
    VersionEvent,
    VersionStatus,
    VersionSuperseded,
    VersionTerms,
)

__all__ = [
    "amendment_withdrawals",
    "contradicted_approvals",
    "contradiction_reason",
    "event_refusal",
    "final_terms_gap",
    "negotiation_state",
    "record",
    "withdrawals_for_amendment",
]


@dataclass(frozen=True, slots=True)
class _Fold:
    versions: dict[int, VersionStatus]
    agreed: AgreedVersion | None = None


def _status(fold: _Fold, version: int) -> VersionStatus:
    return fold.versions.get(version) or VersionStatus(version=version)


def _superseded(v: VersionStatus) -> FieldError | None:
    if v.superseded_by is not None:
        return FieldError(
            "version",
            f"version {v.version} was superseded by version {v.superseded_by}; "
            "only the current version can be approved, presented or answered",
        )
    return None


def _refuse_approved(fold: _Fold, e: VersionApproved) -> FieldError | None:
    v = _status(fold, e.version)
    if err := _superseded(v):
        return err
    if not e.content_hash.strip():
        return FieldError("content_hash", "an approval is bound to the version's content hash")
    if v.approved_hash is not None:
        return FieldError("version", f"version {e.version} is already approved")
    return None


def _refuse_presented(fold: _Fold, e: OfferPresented) -> FieldError | None:
    v = _status(fold, e.version)
    if err := _superseded(v):
        return err
    if fold.agreed is not None:
        return FieldError(
            "version", f"the renewal is agreed on version {fold.agreed.version}; nothing to present"
        )
    if v.approved_hash is None or v.approved_on is None:
        why = "its approval was withdrawn" if v.withdrawn else "legal has not approved it"
        return FieldError(
            "version", f"version {e.version} cannot be presented to the supplier: {why}"
        )
    if v.answer is not None:
        return FieldError(
            "version", f"the supplier already answered version {e.version} ({v.answer.value})"
        )
    if v.presented_on is not None:
        # One offer per approval: presenting it again would rewrite when and by whom it was made.
        return FieldError(
            "version",
            f"version {e.version} was presented on {v.presented_on.isoformat()}"
            f"{f' by {v.presented_by}' if v.presented_by else ''}; record the supplier's answer",
        )
    if e.content_hash is not None and e.content_hash != v.approved_hash:
        return FieldError(
            "content_hash",
            f"does not match the approved text of version {e.version}; reload the version",
        )
    if e.on < v.approved_on:
        return FieldError(
            "on",
            f"{e.on.isoformat()} is before version {e.version} was approved "
            f"({v.approved_on.isoformat()})",
        )
    return None


def _refuse_answer(fold: _Fold, e: SupplierAnswer) -> FieldError | None:
    v = _status(fold, e.version)
    if err := _superseded(v):
        return err
    if fold.agreed is not None:
        return FieldError(
            "version", f"the renewal is already agreed on version {fold.agreed.version}"
        )
    if v.presented_on is None:
        why = (
            "its offer was withdrawn with its approval"
            if v.withdrawn
            else "it was never presented to the supplier"
        )
        return FieldError("version", f"no answer can be recorded for version {e.version}: {why}")
    if v.answer is not None:
        return FieldError(
            "version", f"the supplier already answered version {e.version} ({v.answer.value})"
        )
    if e.on < v.presented_on:
        return FieldError(
            "on",
            f"{e.on.isoformat()} is before version {e.version} was presented "
            f"({v.presented_on.isoformat()})",
        )
    if e.content_hash is not None and e.content_hash != v.approved_hash:
        return FieldError(
            "content_hash",
            f"is not the approved text of version {e.version}: the supplier must answer the "
            "version presented",
        )
    if e.answer is SupplierAnswerKind.ACCEPTED:
        if e.content_hash is None:
            return FieldError(
                "content_hash", "accepting binds the agreement to the version's content hash"
            )
        if not e.confirmed_by.strip():
            return FieldError("confirmed_by", "say who signed or confirmed for the supplier")
        if not e.reference.strip():
            return FieldError("reference", "give the evidence (signed copy, mail, order number)")
    return None


def _refuse_superseded(fold: _Fold, e: VersionSuperseded) -> FieldError | None:
    v = _status(fold, e.version)
    if err := _superseded(v):
        return err
    if e.by_version <= e.version:
        return FieldError(
            "by_version", f"must be later than version {e.version} (got {e.by_version})"
        )
    if fold.agreed is not None and fold.agreed.version == e.version:
        return FieldError(
            "version", f"version {e.version} is agreed with the supplier and cannot be superseded"
        )
    return None


def _refuse_withdrawn(fold: _Fold, e: ApprovalWithdrawn) -> FieldError | None:
    v = _status(fold, e.version)
    if err := _superseded(v):
        return err
    if v.approved_hash is None or v.approved_on is None:
        return FieldError("version", f"version {e.version} has no approval to withdraw")
    if e.content_hash != v.approved_hash:
        return FieldError("content_hash", f"is not the approved text of version {e.version}")
    if fold.agreed is not None and fold.agreed.version == e.version:
        return FieldError(
            "version",
            f"version {e.version} is agreed with the supplier: its approval cannot be withdrawn",
        )
    if e.on < v.approved_on:
        return FieldError(
            "on", f"{e.on.isoformat()} is before the approval ({v.approved_on.isoformat()})"
        )
    return None


def _refusal(fold: _Fold, event: VersionEvent) -> FieldError | None:
    if isinstance(event, VersionApproved):
        return _refuse_approved(fold, event)
    if isinstance(event, OfferPresented):
        return _refuse_presented(fold, event)
    if isinstance(event, SupplierAnswer):
        return _refuse_answer(fold, event)
    if isinstance(event, VersionSuperseded):
        return _refuse_superseded(fold, event)
    return _refuse_withdrawn(fold, event)


def _apply(fold: _Fold, event: VersionEvent) -> _Fold:
    """The fold after an event that passed :func:`_refusal`."""
    v = _status(fold, event.version)
    agreed = fold.agreed
    if isinstance(event, VersionApproved):
        v = _with(v, approved_hash=event.content_hash, approved_on=event.on, withdrawn=False)
    elif isinstance(event, OfferPresented):
        v = _with(v, presented_on=event.on, presented_by=event.by)
    elif isinstance(event, SupplierAnswer):
        v = _with(v, answer=event.answer, answered_on=event.on)
        if event.answer is SupplierAnswerKind.ACCEPTED:
            v = _with(v, accepted_hash=event.content_hash)
            assert v.approved_hash is not None and v.approved_on is not None
            agreed = AgreedVersion(
                version=v.version,
                content_hash=v.approved_hash,
                approved_on=v.approved_on,
                accepted_on=event.on,
            )
    elif isinstance(event, VersionSuperseded):
        v = _with(v, superseded_by=event.by_version)
    else:
        v = _with(
            v,
            approved_hash=None,
            approved_on=None,
            withdrawn=True,
            presented_on=None,
            presented_by=None,
        )
    return replace(fold, versions={**fold.versions, v.version: v}, agreed=agreed)


def _with(v: VersionStatus, **changes: object) -> VersionStatus:
    return v.model_copy(update=changes)


def _fold(history: Iterable[VersionEvent]) -> _Fold:
    fold = _Fold(versions={})
    for row, event in enumerate(history, start=1):
        if (err := _refusal(fold, event)) is not None:
            raise InvalidInput([FieldError(err.field, err.reason, row=row)])
        fold = _apply(fold, event)
    return fold


def _state(fold: _Fold) -> NegotiationState:
    return NegotiationState(
        versions=tuple(fold.versions[k] for k in sorted(fold.versions)), agreed=fold.agreed
    )


def negotiation_state(history: Iterable[VersionEvent]) -> NegotiationState:
    """Where every version stands after ``history`` (events in the order they happened).
    A history that breaks a rule raises :class:`InvalidInput` naming the event (its row)."""
    return _state(_fold(history))


def event_refusal(history: Sequence[VersionEvent], event: VersionEvent) -> FieldError | None:
    """Why ``event`` may not follow ``history``, or None when it may."""
    return _refusal(_fold(history), event)


def record(history: Sequence[VersionEvent], event: VersionEvent) -> tuple[VersionEvent, ...]:
    """``history`` with ``event`` appended, or :class:`InvalidInput` naming the field refused."""
    if (err := event_refusal(history, event)) is not None:
        raise InvalidInput([err])
    return (*history, event)


def final_terms_gap(state: NegotiationState) -> FinalTermsGap | None:
    """Why the final-terms milestone escalates, or None when the renewal is agreed: the
    supplier not answering a version presented, declining, or no current version both approved
    and presented."""
    if state.agreed is not None:
        return None
    current = [v for v in state.versions if v.superseded_by is None]
    if any(v.approved_hash and v.presented_on and v.answer is None for v in current):
        return FinalTermsGap.NO_ANSWER
    if any(v.answer is SupplierAnswerKind.DECLINED for v in current):
        return FinalTermsGap.DECLINED
    return FinalTermsGap.NOTHING_PRESENTED


# ---------------------------------------------------------------------------- amendments


def contradiction_reason(c: Contradiction, end_date: date | None) -> Reason:
    """What an amendment contradicts, as a code and its values (``end_date``: the amended end
    date the version's term was counted from)."""
    if c.field == "new_end_date":
        return Reason(
            "wd.end_date",
            {
                "version_end": date.fromisoformat(c.version_value),
                "end_date": end_date if end_date is not None else "?",
                "expected": date.fromisoformat(c.amended_value),
            },
        )
    if c.field == "notice_period_days":
        return Reason(
            "wd.notice_period", {"version_days": c.version_value, "amended_days": c.amended_value}
        )
    return Reason("wd.term", {"version_months": c.version_value, "amended_months": c.amended_value})


def _contradiction(
    field: str, version_value: str, amended_value: str, end_date: date | None
) -> Contradiction:
    c = Contradiction(
        field=field, version_value=version_value, amended_value=amended_value, reason=""
    )
    return c.model_copy(update={"reason": contradiction_reason(c, end_date).text("en")})


def _contradictions(
    terms: VersionTerms,
    *,
    end_date: date | None,
    notice_period_days: int | None,
    term_months: int | None,
) -> tuple[Contradiction, ...]:
    found: list[Contradiction] = []
    t = terms.terms
    if end_date is not None:
        expected = term_end(end_date, t.term_months, terms.kind)
        if expected != t.new_end_date:
            found.append(
                _contradiction(
                    "new_end_date", t.new_end_date.isoformat(), expected.isoformat(), end_date
                )
            )
    if notice_period_days is not None and notice_period_days != t.notice_period_days:
        found.append(
            _contradiction(
                "notice_period_days", str(t.notice_period_days), str(notice_period_days), end_date
            )
        )
    if term_months is not None and term_months != t.term_months:
        found.append(_contradiction("term_months", str(t.term_months), str(term_months), end_date))
    return tuple(found)


def contradicted_approvals(
    state: NegotiationState,
    versions: Iterable[VersionTerms],
    *,
    end_date: date | None = None,
    notice_period_days: int | None = None,
    term_months: int | None = None,
) -> tuple[ContradictedApproval, ...]:
    """Every standing approval (not superseded) whose version's terms the amendment
    contradicts: an end date from which the version's term no longer ends on its end date, a
    notice period or term length other than the version's. ``versions`` are the stored terms;
    a version without a standing approval is not looked at."""
    found: list[ContradictedApproval] = []
    for vt in sorted(versions, key=lambda v: v.version):
        status = state.status(vt.version)
        if status is None or status.approved_hash is None or status.superseded_by is not None:
            continue
        why = _contradictions(
            vt, end_date=end_date, notice_period_days=notice_period_days, term_months=term_months
        )
        if why:
            agreed = state.agreed is not None and state.agreed.version == vt.version
            found.append(
                ContradictedApproval(
                    version=vt.version,
                    content_hash=status.approved_hash,
                    agreed=agreed,
                    contradictions=why,
                )
            )
    return tuple(found)


def withdrawals_for_amendment(
    history: Sequence[VersionEvent],
    versions: Iterable[VersionTerms],
    *,
    on: date,
    reason: str,
    end_date: date | None = None,
    notice_period_days: int | None = None,
    term_months: int | None = None,
) -> tuple[ApprovalWithdrawn, ...]:
    """The withdrawals an amendment makes, to be recorded after it; an amendment that
    contradicts the version agreed with the supplier is refused (:class:`InvalidInput`, the
    field it would change named) and nothing is withdrawn."""
    return tuple(
        w
        for w, _ in _withdrawals(
            history,
            versions,
            on=on,
            reason=Reason("out.termination", {"reason": reason.strip()}),
            end_date=end_date,
            notice_period_days=notice_period_days,
            term_months=term_months,
        )
    )


def amendment_withdrawals(
    history: Sequence[VersionEvent],
    versions: Iterable[VersionTerms],
    *,
    on: date,
    amended_by: str,
    note: str | None,
    end_date: date | None = None,
    notice_period_days: int | None = None,
    term_months: int | None = None,
) -> tuple[tuple[ApprovalWithdrawn, Reason], ...]:
    """:func:`withdrawals_for_amendment` for an amendment by ``amended_by`` (``note``: what
    they wrote, as typed), each withdrawal with its reason as a code and values for the mail
    (``wd.withdrawn``: the English and Japanese parts; the English is the withdrawal's
    ``reason``)."""
    by: Reason = (
        Reason("wd.amended.note", {"by": amended_by, "note": note})
        if note
        else Reason("wd.amended", {"by": amended_by})
    )
    return _withdrawals(
        history,
        versions,
        on=on,
        reason=by,
        end_date=end_date,
        notice_period_days=notice_period_days,
        term_months=term_months,
    )


def _withdrawals(
    history: Sequence[VersionEvent],
    versions: Iterable[VersionTerms],
    *,
    on: date,
    reason: Reason,
    end_date: date | None,
    notice_period_days: int | None,
    term_months: int | None,
) -> tuple[tuple[ApprovalWithdrawn, Reason], ...]:
    state = negotiation_state(history)
    contradicted = contradicted_approvals(
        state,
        versions,
        end_date=end_date,
        notice_period_days=notice_period_days,
        term_months=term_months,
    )
    agreed = [c for c in contradicted if c.agreed]
    if agreed:
        raise InvalidInput(
            FieldError(
                c.field if c.field != "new_end_date" else "end_date",
                f"contradicts version {a.version}, which the supplier accepted: {c.reason}",
            )
            for a in agreed
            for c in a.contradictions
        )
    out: list[tuple[ApprovalWithdrawn, Reason]] = []
    for c in contradicted:
        parts = [reason, *(contradiction_reason(x, end_date) for x in c.contradictions)]
        en = "; ".join(t for t in (p.text("en").strip() for p in parts) if t)
        ja = "。".join(t for t in (p.text("ja").strip() for p in parts) if t)
        withdrawn = ApprovalWithdrawn(
            version=c.version, content_hash=c.content_hash, on=on, reason=en
        )
        out.append((withdrawn, Reason("wd.withdrawn", {"parts": (en, ja)})))
    return tuple(out)
