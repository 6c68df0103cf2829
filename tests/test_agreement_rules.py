"""Offer, answer and agreement (renewal-semantics.md §3) as pure rules over version events:
only an approved version is presented, an answer only for a presented version and never for a
superseded one, renewed ⇔ approved and accepted on the same content hash, and an amendment
withdraws the approvals it contradicts. Unit cases, random sequences and a state machine."""

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.agreement import (
    contradicted_approvals,
    event_refusal,
    final_terms_gap,
    negotiation_state,
    record,
    withdrawals_for_amendment,
)
from domain.milestones import next_term_end
from models.drafts import ProposedTerms
from models.errors import InvalidInput
from models.negotiation import (
    ApprovalWithdrawn,
    FinalTermsGap,
    OfferPresented,
    SupplierAnswer,
    SupplierAnswerKind,
    VersionApproved,
    VersionEvent,
    VersionSuperseded,
    VersionTerms,
)
from models.renewal import DraftKind

DAY = date(2027, 9, 1)
END = date(2027, 12, 31)
ACCEPTED, COUNTERED, DECLINED = (
    SupplierAnswerKind.ACCEPTED,
    SupplierAnswerKind.COUNTERED,
    SupplierAnswerKind.DECLINED,
)


def h(version: int, edit: int = 0) -> str:
    return f"hash-v{version}-{edit}"


def approved(v: int, *, on: date = DAY, content_hash: str | None = None) -> VersionApproved:
    return VersionApproved(
        version=v, content_hash=content_hash or h(v), on=on, by="legal-a@example.com"
    )


def presented(v: int, *, on: date = DAY, **kw: Any) -> OfferPresented:
    return OfferPresented(version=v, on=on, by="buyer@example.com", **kw)


def answered(v: int, answer: SupplierAnswerKind = ACCEPTED, **kw: Any) -> SupplierAnswer:
    data: dict[str, Any] = {
        "version": v,
        "answer": answer,
        "on": DAY,
        "recorded_by": "buyer@example.com",
    }
    if answer is ACCEPTED:
        data |= {"content_hash": h(v), "confirmed_by": "Sato (supplier)", "reference": "PO-77"}
    data.update(kw)
    return SupplierAnswer(**data)


def superseded(v: int, by: int | None = None) -> VersionSuperseded:
    return VersionSuperseded(version=v, by_version=by or v + 1)


def withdrawn(v: int, **kw: Any) -> ApprovalWithdrawn:
    return ApprovalWithdrawn(
        **({"version": v, "content_hash": h(v), "on": DAY, "reason": "amended"} | kw)
    )


def history(*events: VersionEvent) -> tuple[VersionEvent, ...]:
    done: tuple[VersionEvent, ...] = ()
    for e in events:
        done = record(done, e)
    return done


def refused(events: tuple[VersionEvent, ...], event: VersionEvent) -> tuple[str, str]:
    err = event_refusal(events, event)
    assert err is not None, event
    with pytest.raises(InvalidInput) as caught:
        record(events, event)
    assert caught.value.errors == (err,)
    return err.field, err.reason


# ---------------------------------------------------------------------------- the loop


def test_the_whole_loop_ends_agreed_on_the_accepted_hash() -> None:
    events = history(
        approved(1),
        presented(1),
        answered(1, COUNTERED, note="wants Net 30"),
        superseded(1, 2),
        approved(2),
        presented(2, content_hash=h(2)),
        answered(2),
    )
    state = negotiation_state(events)
    assert state.agreed is not None
    assert (state.agreed.version, state.agreed.content_hash) == (2, h(2))
    v1 = state.status(1)
    assert v1 is not None and v1.superseded_by == 2 and v1.answer is COUNTERED
    assert final_terms_gap(state) is None


def test_approved_alone_is_not_agreed() -> None:
    state = negotiation_state(history(approved(1), presented(1)))
    assert state.agreed is None
    assert final_terms_gap(state) is FinalTermsGap.NO_ANSWER
    assert final_terms_gap(negotiation_state(history(approved(1)))) is (
        FinalTermsGap.NOTHING_PRESENTED
    )
    assert final_terms_gap(negotiation_state(())) is FinalTermsGap.NOTHING_PRESENTED
    declined = negotiation_state(history(approved(1), presented(1), answered(1, DECLINED)))
    assert final_terms_gap(declined) is FinalTermsGap.DECLINED


# ---------------------------------------------------------------------------- refusals


def test_only_an_approved_version_is_presented() -> None:
    assert refused((), presented(1)) == (
        "version",
        "version 1 cannot be presented to the supplier: legal has not approved it",
    )
    base = history(approved(1, on=DAY))
    field, reason = refused(base, presented(1, on=DAY - timedelta(days=1)))
    assert field == "on" and "before version 1 was approved" in reason
    field, reason = refused(base, presented(1, content_hash="other"))
    assert field == "content_hash"


def test_an_answer_only_for_a_presented_version() -> None:
    field, reason = refused(history(approved(1)), answered(1))
    assert field == "version" and "never presented" in reason
    base = history(approved(1), presented(1, on=DAY))
    assert refused(base, answered(1, on=DAY - timedelta(days=1)))[0] == "on"
    assert refused(base, answered(1, content_hash=h(9)))[0] == "content_hash"
    assert refused(base, answered(1, content_hash=None))[0] == "content_hash"
    assert refused(base, answered(1, confirmed_by=" "))[0] == "confirmed_by"
    assert refused(base, answered(1, reference=""))[0] == "reference"
    once = record(base, answered(1, DECLINED))
    field, reason = refused(once, answered(1))
    assert field == "version" and "already answered" in reason


def test_a_superseded_version_is_neither_approved_presented_nor_answered() -> None:
    base = history(approved(1), presented(1), superseded(1, 2))
    for event in (answered(1), presented(1), approved(1), withdrawn(1), superseded(1, 3)):
        field, reason = refused(base, event)
        assert field == "version" and "superseded by version 2" in reason
    assert refused((), superseded(2, 2))[0] == "by_version"


def test_nothing_moves_an_agreement() -> None:
    base = history(approved(1), presented(1), answered(1))
    assert "agreed" in refused(base, superseded(1))[1]
    assert "agreed" in refused(base, withdrawn(1))[1]
    base2 = record(base, approved(2))
    assert "agreed" in refused(base2, presented(2))[1]
    assert refused(history(approved(1)), approved(1))[1] == "version 1 is already approved"
    assert refused((), approved(1, content_hash=" "))[0] == "content_hash"


def test_a_broken_history_names_the_event() -> None:
    with pytest.raises(InvalidInput) as caught:
        negotiation_state((approved(1), answered(1)))
    (err,) = caught.value.errors
    assert err.row == 2 and err.field == "version"


# ---------------------------------------------------------------------------- amendments


def terms(*, term_months: int = 12, notice: int = 30, end: date = END) -> ProposedTerms:
    return ProposedTerms(
        unit_price=1,
        currency="JPY",
        annual_volume=1,
        exclusivity=False,
        payment_terms="Net 60",
        term_months=term_months,
        new_end_date=next_term_end(end, term_months),
        notice_period_days=notice,
        price_adjustment="",
        service_levels="",
    )


def test_an_amendment_withdraws_the_approvals_it_contradicts() -> None:
    events = history(approved(1), presented(1), superseded(1, 2), approved(2), presented(2))
    versions = [VersionTerms(version=1, terms=terms()), VersionTerms(version=2, terms=terms())]
    # End date +5 months and 90 days' notice (the issue's case): v2 stands and is contradicted;
    # v1 is superseded and left alone.
    found = contradicted_approvals(
        negotiation_state(events), versions, end_date=date(2028, 5, 31), notice_period_days=90
    )
    assert [(c.version, c.agreed) for c in found] == [(2, False)]
    assert [x.field for x in found[0].contradictions] == ["new_end_date", "notice_period_days"]
    out = withdrawals_for_amendment(
        events,
        versions,
        on=DAY,
        reason="end date moved",
        end_date=date(2028, 5, 31),
        notice_period_days=90,
    )
    assert [(w.version, w.content_hash) for w in out] == [(2, h(2))]
    assert out[0].reason.startswith("end date moved; the version ends on 2028-12-31")
    after = history(*events, *out)
    v2 = negotiation_state(after).status(2)
    assert v2 is not None and v2.withdrawn and v2.approved_hash is None and v2.presented_on is None
    # Back in review: no answer until approved and presented again.
    assert refused(after, answered(2))[0] == "version"
    assert refused(after, presented(2))[1].endswith("its approval was withdrawn")
    again = history(*after, approved(2), presented(2), answered(2))
    assert negotiation_state(again).agreed is not None


def test_an_amendment_that_agrees_with_the_version_withdraws_nothing() -> None:
    events = history(approved(1))
    versions = [VersionTerms(version=1, terms=terms(term_months=24, notice=60))]
    state = negotiation_state(events)
    assert not contradicted_approvals(state, versions, end_date=END, notice_period_days=60)
    assert not contradicted_approvals(state, versions, term_months=24)
    assert contradicted_approvals(state, versions, term_months=12)[0].contradictions[0].field == (
        "term_months"
    )
    interim = VersionTerms(version=1, kind=DraftKind.INTERIM_EXTENSION, terms=terms(term_months=3))
    # An interim extension counts plain months from the end date: 2027-12-31 + 3 = 2028-03-31.
    assert not contradicted_approvals(state, [interim], end_date=END)


def test_an_amendment_contradicting_the_agreement_is_refused() -> None:
    events = history(approved(1), presented(1), answered(1))
    versions = [VersionTerms(version=1, terms=terms())]
    with pytest.raises(InvalidInput) as caught:
        withdrawals_for_amendment(
            events, versions, on=DAY, reason="", end_date=date(2028, 3, 31), notice_period_days=90
        )
    assert [e.field for e in caught.value.errors] == ["end_date", "notice_period_days"]
    assert "which the supplier accepted" in caught.value.errors[0].reason


# ---------------------------------------------------------------------------- properties


VERSIONS = st.integers(1, 3)
DATES = st.integers(0, 3).map(lambda d: DAY + timedelta(days=d))
HASHES = st.sampled_from(["a", "b"])


def _events() -> st.SearchStrategy[VersionEvent]:
    return st.one_of(
        st.builds(
            VersionApproved, version=VERSIONS, content_hash=HASHES, on=DATES, by=st.just("l")
        ),
        st.builds(
            OfferPresented,
            version=VERSIONS,
            on=DATES,
            by=st.just("p"),
            content_hash=st.none() | HASHES,
        ),
        st.builds(
            SupplierAnswer,
            version=VERSIONS,
            answer=st.sampled_from(list(SupplierAnswerKind)),
            on=DATES,
            recorded_by=st.just("p"),
            content_hash=st.none() | HASHES,
            confirmed_by=st.sampled_from(["", "Sato"]),
            reference=st.sampled_from(["", "PO-1"]),
        ),
        st.builds(VersionSuperseded, version=VERSIONS, by_version=st.integers(2, 4)),
        st.builds(
            ApprovalWithdrawn, version=VERSIONS, content_hash=HASHES, on=DATES, reason=st.just("")
        ),
    )


def check_invariants(events: tuple[VersionEvent, ...]) -> None:
    """Replayed event by event: presented ⇒ approved (standing), answer ⇒ presented and not
    superseded, renewed ⇒ the same hash approved and accepted."""
    standing: dict[int, str] = {}
    offered: set[int] = set()
    gone: set[int] = set()
    accepted: dict[int, str] = {}
    for e in events:
        if isinstance(e, VersionApproved):
            standing[e.version] = e.content_hash
        elif isinstance(e, OfferPresented):
            assert e.version in standing and e.version not in gone
            offered.add(e.version)
        elif isinstance(e, SupplierAnswer):
            assert e.version in offered and e.version in standing and e.version not in gone
            if e.answer is ACCEPTED:
                assert e.content_hash == standing[e.version]
                accepted[e.version] = e.content_hash
        elif isinstance(e, VersionSuperseded):
            gone.add(e.version)
        else:
            standing.pop(e.version)
            offered.discard(e.version)
    state = negotiation_state(events)
    assert len(accepted) <= 1
    if state.agreed is not None:
        assert accepted == {state.agreed.version: state.agreed.content_hash}
        assert standing[state.agreed.version] == state.agreed.content_hash
    else:
        assert not accepted


@settings(max_examples=400, deadline=None)
@given(st.lists(_events(), max_size=25))
def test_random_sequences_keep_the_invariants(candidates: list[VersionEvent]) -> None:
    events: tuple[VersionEvent, ...] = ()
    for e in candidates:
        err = event_refusal(events, e)
        if err is None:
            events = record(events, e)
        else:
            assert err.field and err.reason
    check_invariants(events)


class Negotiation(RuleBasedStateMachine):
    """Procurement and legal acting in any order: edit (a new version supersedes the current
    one), approve, present, answer, amend."""

    def __init__(self) -> None:
        super().__init__()
        self.events: tuple[VersionEvent, ...] = ()
        self.current = 1
        self.day = DAY
        self.end = END
        self.terms: dict[int, ProposedTerms] = {1: terms()}

    def _try(self, event: VersionEvent) -> bool:
        if event_refusal(self.events, event) is None:
            self.events = record(self.events, event)
            return True
        with pytest.raises(InvalidInput):
            record(self.events, event)
        return False

    @rule(days=st.integers(0, 5))
    def time_passes(self, days: int) -> None:
        self.day += timedelta(days=days)

    @rule(term_months=st.sampled_from([12, 24]))
    def edit(self, term_months: int) -> None:
        state = negotiation_state(self.events)
        if state.agreed is not None:
            return
        old = self.current
        self.current += 1
        self.terms[self.current] = terms(term_months=term_months, end=self.end)
        assert self._try(VersionSuperseded(version=old, by_version=self.current))

    @rule(version=st.integers(1, 4))
    def approve(self, version: int) -> None:
        self._try(
            VersionApproved(version=version, content_hash=h(version), on=self.day, by="legal")
        )

    @rule(version=st.integers(1, 4))
    def present(self, version: int) -> None:
        self._try(OfferPresented(version=version, on=self.day, by="buyer"))

    @rule(version=st.integers(1, 4), answer=st.sampled_from(list(SupplierAnswerKind)))
    def answer(self, version: int, answer: SupplierAnswerKind) -> None:
        self._try(answered(version, answer, on=self.day))

    @rule(months=st.integers(1, 5), notice=st.sampled_from([None, 30, 90]))
    def amend(self, months: int, notice: int | None) -> None:
        new_end = self.end + timedelta(days=31 * months)
        versions = [VersionTerms(version=v, terms=t) for v, t in self.terms.items()]
        try:
            out = withdrawals_for_amendment(
                self.events,
                versions,
                on=self.day,
                reason="amended",
                end_date=new_end,
                notice_period_days=notice,
            )
        except InvalidInput:
            agreed = negotiation_state(self.events).agreed
            assert agreed is not None  # only an agreement refuses an amendment
            return
        for w in out:
            assert self._try(w)
        self.end = new_end
        state = negotiation_state(self.events)
        # After the amendment no standing approval contradicts it.
        assert not contradicted_approvals(state, versions, end_date=new_end)

    @invariant()
    def renewed_only_on_the_same_hash(self) -> None:
        check_invariants(self.events)


Negotiation.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_negotiation_state_machine = Negotiation.TestCase


def test_an_offer_is_presented_once_per_approval() -> None:
    history = (
        VersionApproved(version=1, content_hash="h1", on=date(2027, 1, 4), by="legal@example.com"),
        OfferPresented(version=1, on=date(2027, 1, 5), by="buyer@example.com"),
    )
    again = OfferPresented(version=1, on=date(2027, 1, 6), by="other@example.com")
    refusal = event_refusal(history, again)
    assert refusal is not None and refusal.field == "version"
    assert "presented on 2027-01-05 by buyer@example.com" in refusal.reason
