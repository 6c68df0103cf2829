"""The negotiation's people-facing checks (services.negotiation_checks), the refusals the
workflow sends back as the interfaces' errors (services.negotiation, portal.problems), and the
draft comparisons and limit flags of services.drafts, over a migrated database without a
workflow: every bad input is refused with its field and reason before Temporal is asked."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from auth.roles import Role
from domain.content_hash import content_hash
from domain.milestones import next_term_end
from domain.negotiation import plan_negotiation
from domain.terms import current_terms
from models.contract import ContractRead
from models.drafts import VERSION_CLAUSES, TermsEdit
from models.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models.negotiation import SupplierAnswerKind
from models.renewal import (
    DraftKind,
    OpenRenewal,
    RenewalEvent,
    ReviewDecisionKind,
    ReviewRecord,
)
from models.scorecard import ScoringConfig
from models.tables import RenewalRow
from models.users import CurrentUser
from portal.problems import workflow_problem
from services import drafts as draft_service
from services import negotiation
from services.negotiation_checks import (
    check_answer,
    check_hearing,
    check_offer,
    check_version_edit,
)
from store import renewals as renewal_store
from store import users as user_store
from store.contracts import get_contract
from store.db import SessionFactory, transaction
from tests.factories import register

END = date(2027, 12, 31)
TODAY = date(2027, 10, 1)
BUYER = CurrentUser(
    id=0, username="buyer@example.com", display_name="Buyer", roles=frozenset({Role.PROCUREMENT})
)
LAWYER = "legal@example.com"


def _v1_terms(contract: ContractRead, **changes: Any) -> dict[str, Any]:
    terms = current_terms(contract).model_copy(
        update={"new_end_date": next_term_end(END, 12), "term_months": 12, **changes}
    )
    return terms.as_json()


def _save(
    sessions: SessionFactory,
    cid: str,
    version: int,
    terms: dict[str, Any],
    *,
    kind: DraftKind = DraftKind.RENEGOTIATION,
    approve: bool = False,
) -> str:
    body = f"Version {version} of the renewal."
    digest = content_hash(body, terms)
    with transaction(sessions) as s:
        renewal = renewal_store.get_renewal(s, contract_id=cid, term=1)
        renewal_store.save_draft(
            s,
            renewal=renewal,
            kind=kind,
            version=version,
            language="en",
            body=body,
            proposed_terms=terms,
            content_hash=digest,
            requested_by=BUYER.username,
            answers_comment=None,
            created_at=datetime(2027, 9, version, tzinfo=UTC),
        )
        if approve:
            renewal_store.save_review(
                s,
                renewal=renewal,
                record=ReviewRecord(
                    decision=ReviewDecisionKind.APPROVE,
                    reviewer=LAWYER,
                    draft_version=version,
                    content_hash=digest,
                    comment="",
                    decided_at=datetime(2027, 9, 20, tzinfo=UTC),
                    update_id=f"review-{version}",
                ),
            )
    return digest


@pytest.fixture
def renewal(sessions: SessionFactory) -> tuple[str, ContractRead]:
    """A contract owned by the buyer whose term-1 renewal has v1 (complete terms) stored."""
    cid = f"C-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as s:
        register(s, id=cid, owner=BUYER.username, end_date=END)
        renewal_store.open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                requested_by=BUYER.username,
                term_end_date=END,
            ),
        )
        contract = get_contract(s, contract_id=cid)
    _save(sessions, cid, 1, _v1_terms(contract))
    return cid, contract


def _refused(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.reason for e in exc.value.errors}


def _edit(sessions: SessionFactory, cid: str, based_on: int = 1, **edit: Any) -> Any:
    return check_version_edit(
        sessions=sessions,
        user=BUYER,
        contract_id=cid,
        term=1,
        based_on_version=based_on,
        edit=edit,
    )


# ---------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        ({"unit_price": "-5"}, "unit_price", "must be greater than 0"),
        ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ'"),
        (
            {"term_months": 1, "notice_period_days": 90},
            "notice_period_days",
            "longer than the term",
        ),
        ({}, "terms", "changes nothing"),
        ({"unit_price": "1250.50"}, "terms", "changes nothing"),  # v1's price, as it was
        ({"unit_price": "abc"}, "edit.unit_price", "decimal"),
    ],
    ids=["negative price", "unknown currency", "notice over the term", "no change", "same", "nan"],
)
def test_a_bad_edit_is_refused_naming_the_field(
    sessions: SessionFactory,
    renewal: tuple[str, ContractRead],
    edit: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    cid, _ = renewal
    with pytest.raises(InvalidInput) as caught:
        _edit(sessions, cid, **edit)
    refused = _refused(caught)
    assert field in refused and reason in refused[field], refused


def test_every_bad_clause_of_an_edit_is_named_at_once(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal
    with pytest.raises(InvalidInput) as caught:
        _edit(sessions, cid, unit_price="0", currency="ZZZ", annual_volume="-1")
    assert set(_refused(caught)) == {"unit_price", "currency", "annual_volume"}


def test_a_good_edit_is_the_request_the_workflow_gets(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal
    request = check_version_edit(
        sessions=sessions,
        user=BUYER,
        contract_id=cid,
        term=1,
        based_on_version=1,
        edit=TermsEdit(unit_price=Decimal("1200"), additional_clauses=()),
        note="Legal asked for a cap",
    )
    assert request.edited_by == BUYER.username  # the signed-in person, never a form's value
    assert request.edit.changed_fields() == ("unit_price", "additional_clauses")
    assert request.note == "Legal asked for a cap"


def test_an_edit_of_an_older_version_or_of_none_is_refused(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, contract = renewal
    _save(sessions, cid, 2, _v1_terms(contract, unit_price=Decimal("1200")))
    with pytest.raises(Conflict, match="based_on_version: version 1 is not the current version"):
        _edit(sessions, cid, based_on=1, unit_price="1100")
    with pytest.raises(InvalidInput) as caught:
        _edit(sessions, cid, based_on=7, unit_price="1100")
    assert _refused(caught) == {"based_on_version": "version 7 does not exist"}
    _save(sessions, cid, 3, {}, kind=DraftKind.NON_RENEWAL_NOTICE)
    with pytest.raises(InvalidInput) as notice:
        _edit(sessions, cid, based_on=3, unit_price="1100")
    assert "carries no terms" in _refused(notice)["based_on_version"]


def test_an_edit_needs_a_renewal_still_open_and_the_contracts_owner(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal
    with pytest.raises(NotFound, match="no renewal for term 2"):
        check_version_edit(
            sessions=sessions,
            user=BUYER,
            contract_id=cid,
            term=2,
            based_on_version=1,
            edit={"unit_price": "1"},
        )
    with transaction(sessions) as s:
        user_store.create_user(s, username=BUYER.username, display_name="B", roles="procurement")
        other = user_store.create_user(
            s, username="other@example.com", display_name="O", roles="procurement"
        )
    with pytest.raises(NotAllowed) as caught:
        check_version_edit(
            sessions=sessions,
            user=other,
            contract_id=cid,
            term=1,
            based_on_version=1,
            edit={"unit_price": "1100"},
        )
    assert [e.field for e in caught.value.errors] == ["owner"]
    with transaction(sessions) as s:
        s.query(RenewalRow).filter(RenewalRow.contract_id == cid).update({"outcome": "renewed"})
    with pytest.raises(Conflict, match="has ended"):
        _edit(sessions, cid, unit_price="1100")


# ---------------------------------------------------------------------------- offers


def _offer(sessions: SessionFactory, cid: str, **kw: Any) -> Any:
    values: dict[str, Any] = {"draft_version": 1, "presented_on": TODAY, "today": TODAY}
    return check_offer(sessions=sessions, user=BUYER, contract_id=cid, term=1, **(values | kw))


def test_only_the_current_approved_version_may_be_presented(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, contract = renewal
    with pytest.raises(InvalidInput) as unapproved:
        _offer(sessions, cid)
    assert "not approved by legal" in _refused(unapproved)["draft_version"]
    digest = _save(sessions, cid, 2, _v1_terms(contract, unit_price=Decimal("1200")), approve=True)
    with pytest.raises(InvalidInput) as older:
        _offer(sessions, cid, draft_version=1)
    assert "not the current version" in _refused(older)["draft_version"]
    with pytest.raises(InvalidInput) as bad:
        _offer(
            sessions, cid, draft_version=2, presented_on=date(2027, 10, 2), content_hash="0" * 64
        )
    refused = _refused(bad)
    assert "is in the future" in refused["presented_on"]
    assert "is not the hash of version 2" in refused["content_hash"]
    offer = _offer(sessions, cid, draft_version=2, content_hash=digest)
    assert offer.presented_by == BUYER.username and offer.content_hash == digest


# ---------------------------------------------------------------------------- answers


def _answer(sessions: SessionFactory, cid: str, answer: SupplierAnswerKind, **kw: Any) -> Any:
    values: dict[str, Any] = {"draft_version": 1, "answered_on": TODAY, "today": TODAY}
    return check_answer(
        sessions=sessions, user=BUYER, contract_id=cid, term=1, answer=answer, **(values | kw)
    )


def test_an_acceptance_needs_its_hash_who_confirmed_and_the_evidence(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal
    with pytest.raises(InvalidInput) as caught:
        _answer(sessions, cid, SupplierAnswerKind.ACCEPTED, answered_on=date(2028, 1, 1))
    assert set(_refused(caught)) == {"answered_on", "content_hash", "confirmed_by", "reference"}
    with pytest.raises(InvalidInput) as wrong:
        _answer(
            sessions,
            cid,
            SupplierAnswerKind.ACCEPTED,
            content_hash="f" * 64,
            confirmed_by="Sales director",
            reference="signed PDF",
        )
    assert "is not the hash of version 1" in _refused(wrong)["content_hash"]


def test_only_a_counter_offer_carries_terms_and_they_must_be_good(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal
    with pytest.raises(InvalidInput) as none:
        _answer(sessions, cid, SupplierAnswerKind.COUNTERED)
    assert "required for a counter-offer" in _refused(none)["counter_terms"]
    with pytest.raises(InvalidInput) as declined:
        _answer(sessions, cid, SupplierAnswerKind.DECLINED, counter_terms={"unit_price": "1"})
    assert "only a counter-offer carries terms" in _refused(declined)["counter_terms"]
    with pytest.raises(InvalidInput) as bad:
        _answer(
            sessions,
            cid,
            SupplierAnswerKind.COUNTERED,
            counter_terms={"unit_price": "-1", "currency": "ABC"},
        )
    assert set(_refused(bad)) == {"unit_price", "currency"}  # as the workflow names them
    good = _answer(
        sessions, cid, SupplierAnswerKind.COUNTERED, counter_terms={"unit_price": "1290"}
    )
    assert good.counter_terms is not None and good.counter_terms.unit_price == Decimal("1290")
    assert good.recorded_by == BUYER.username


# ---------------------------------------------------------------------------- hearings


def test_a_hearing_states_the_needs_once_it_was_held(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal

    def hearing(**kw: Any) -> Any:
        values: dict[str, Any] = {"held_on": TODAY, "needs": "A longer term", "today": TODAY}
        return check_hearing(
            sessions=sessions, user=BUYER, contract_id=cid, term=1, **(values | kw)
        )

    with pytest.raises(InvalidInput) as caught:
        hearing(needs="  ", held_on=date(2027, 12, 1))
    assert set(_refused(caught)) == {"needs"}  # the input first, then the date
    with pytest.raises(InvalidInput) as future:
        hearing(held_on=date(2027, 12, 1))
    assert "is in the future" in _refused(future)["held_on"]
    assert hearing(wants_to_continue=True).wants_to_continue is True
    with pytest.raises(NotFound):
        check_hearing(
            sessions=sessions,
            user=BUYER,
            contract_id="C-NOPE",
            term=1,
            held_on=TODAY,
            needs="x",
            today=TODAY,
        )


# ---------------------------------------------------------------------------- refusals


def _failed(message: str, *details: Any, kind: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError(message, *details, type=kind))


def test_the_workflows_refusals_become_the_interfaces_errors() -> None:
    listed = [
        {"field": "draft_version", "reason": "no answer can be recorded for version 2"},
        {"field": "answered_on", "reason": "2027-12-01 is in the future"},
    ]
    invalid = negotiation.refusal(
        _failed(
            "; ".join(f"{e['field']}: {e['reason']}" for e in listed), listed, kind="InvalidAnswer"
        )
    )
    assert isinstance(invalid, InvalidInput)
    assert [(e.field, e.reason) for e in invalid.errors] == [
        (e["field"], e["reason"]) for e in listed
    ]
    parsed = negotiation.refusal(
        _failed("unit_price: must be greater than 0", kind="InvalidVersion")
    )
    assert isinstance(parsed, InvalidInput) and parsed.errors[0].field == "unit_price"
    for kind in ("VersionConflict", "NotSupported"):
        assert isinstance(negotiation.refusal(_failed("stale", kind=kind)), Conflict)
    refused = negotiation.refusal(_failed("assertion: expired", kind="IdentityRefused"))
    assert isinstance(refused, NotAllowed)
    assert [e.field for e in refused.errors] == ["assertion"]
    not_ready = _failed("opening", kind="NotReady")
    assert negotiation.refusal(not_ready) is not_ready


def test_problem_details_list_every_field_the_workflow_refused() -> None:
    listed = [
        {"field": "unit_price", "reason": "must be greater than 0 (got -1)"},
        {"field": "currency", "reason": "unknown currency 'XYZ'"},
    ]
    problem = workflow_problem(
        _failed("unit_price: ...; currency: ...", listed, kind="InvalidVersion")
    )
    assert problem.status == 422
    assert [(e.field, e.reason) for e in problem.errors] == [
        (e["field"], e["reason"]) for e in listed
    ]
    for kind in ("VersionConflict", "NotSupported"):
        conflict = workflow_problem(_failed("based_on_version: stale", kind=kind))
        assert conflict.status == 409 and conflict.detail == "based_on_version: stale"


# ---------------------------------------------------------------------------- drafts


def test_the_comparison_covers_every_clause_a_version_may_change(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, contract = renewal
    v2 = _v1_terms(
        contract,
        unit_price=Decimal("1200"),
        price_adjustment="Indexed yearly",
        price_adjustment_cap_pct=Decimal("2"),
        additional_clauses=("Quarterly business reviews",),
    )
    _save(sessions, cid, 2, v2)
    with transaction(sessions) as s:
        found = draft_service.review(s, contract_id=cid, term=1, version=2)
        v1, v2_view = draft_service.versions(s, contract_id=cid, term=1)
    assert [c.clause for c in found.clauses] == list(VERSION_CLAUSES)
    assert found.comparison is not None and found.comparison.previous_version == 1
    assert found.comparison.against_previous is not None
    changed = {c.clause for c in found.comparison.against_previous}
    assert changed == {
        "unit_price",
        "price_adjustment",
        "price_adjustment_cap_pct",
        "additional_clauses",
    }
    diff = draft_service.diff(v1, v2_view)
    assert {c["clause"] for c in diff.clauses} == changed
    assert found.plan is None and found.breaches == ()  # a renewal started before plans


def test_old_drafts_with_partial_terms_still_render(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, _ = renewal
    _save(sessions, cid, 2, {"unit_price": "1300"})
    with transaction(sessions) as s:
        found = draft_service.review(s, contract_id=cid, term=1, version=2)
        v1, v2 = draft_service.versions(s, contract_id=cid, term=1)
    assert [c.clause for c in found.clauses] == ["unit_price"]
    assert found.comparison is None
    assert draft_service.diff(v1, v2).clauses[0]["clause"] == "unit_price"


async def test_breaches_of_the_plan_are_shown_with_the_draft_and_without_the_workflow(
    sessions: SessionFactory, renewal: tuple[str, ContractRead]
) -> None:
    cid, contract = renewal
    plan = plan_negotiation(contract, None, ScoringConfig())
    with transaction(sessions) as s:
        renewal_store.save_event(
            s,
            renewal=renewal_store.get_renewal(s, contract_id=cid, term=1),
            event=RenewalEvent(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                kind="negotiation_plan",
                key=f"renewal/{cid}/term-1:negotiation-plan",
                detail=plan.model_dump(mode="json"),
            ),
        )
    _save(sessions, cid, 2, _v1_terms(contract, unit_price=Decimal("9999")))
    with transaction(sessions) as s:
        found = draft_service.review(s, contract_id=cid, term=1, version=2)
    assert found.plan == plan
    assert [b.clause for b in found.breaches] == ["unit_price"]
    shown = await negotiation.view(sessions=sessions, client=None, contract_id=cid, term=1)
    assert shown.live is False and shown.view.plan == plan
    assert [b.clause for b in shown.view.breaches] == ["unit_price"]
    assert shown.workflow_id == f"renewal/{cid}/term-1"
