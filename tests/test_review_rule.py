"""Maker and checker (renewal-semantics.md §6): approving needs the legal role, and the approver
is never the version's maker, the renewal's requester or the contract's owner; the reviewer who
asked for changes may approve the revision. Every refusal names its rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.review import ApprovalRule, approval_refusal, may_approve, refused_rule

BUYER, LEGAL_A, LEGAL_B, OWNER = (
    "buyer@example.com",
    "legal-a@example.com",
    "legal-b@example.com",
    "owner@example.com",
)


def test_todays_call_sites_keep_their_behaviour() -> None:
    # The three keyword arguments every caller passes today, nothing else.
    assert approval_refusal(reviewer=LEGAL_A, version_maker=BUYER, renewal_requester=BUYER) is None
    refusal = approval_refusal(reviewer=BUYER, version_maker=BUYER, renewal_requester=BUYER)
    assert refusal is not None
    # The wording the CLI, API and web tests read.
    assert refusal.startswith(
        f"{BUYER} requested this renewal or draft and cannot approve it (segregation of duties)"
    )
    assert may_approve(reviewer=LEGAL_A, version_maker=BUYER, renewal_requester=None)


@pytest.mark.parametrize(
    ("kwargs", "rule", "words"),
    [
        ({"may_review": False}, ApprovalRule.LEGAL_ROLE, "does not hold the legal role"),
        ({"renewal_requester": LEGAL_A}, ApprovalRule.REQUESTER, "renewal's requester"),
        ({"version_maker": LEGAL_A}, ApprovalRule.MAKER, "version's maker"),
        ({"contract_owner": LEGAL_A}, ApprovalRule.OWNER, "contract's owner"),
    ],
)
def test_each_rule_refuses_and_says_which(
    kwargs: dict[str, object], rule: ApprovalRule, words: str
) -> None:
    base: dict[str, object] = {
        "reviewer": LEGAL_A,
        "version_maker": BUYER,
        "renewal_requester": BUYER,
        "contract_owner": OWNER,
        "may_review": True,
    }
    base.update(kwargs)
    assert refused_rule(**base) is rule  # type: ignore[arg-type]
    message = approval_refusal(**base)  # type: ignore[arg-type]
    assert message is not None and words in message and LEGAL_A in message
    assert not may_approve(**base)  # type: ignore[arg-type]


def test_the_owner_may_not_approve_a_renewal_the_schedule_started() -> None:
    # Started by the schedule: v1's maker is the owner, who may also hold the legal role.
    assert (
        refused_rule(
            reviewer="Owner@Example.com",
            version_maker="scheduler",
            renewal_requester="scheduler",
            contract_owner=OWNER,
        )
        is ApprovalRule.OWNER
    )


def test_the_reviewer_who_asked_for_changes_may_approve_the_revision() -> None:
    # legal-a asked for changes on v1; the buyer made v2 by editing the terms.
    assert may_approve(
        reviewer=LEGAL_A,
        version_maker=BUYER,
        renewal_requester=BUYER,
        contract_owner=OWNER,
        may_review=True,
    )
    # ...but not a version they made themselves.
    assert (
        refused_rule(
            reviewer=LEGAL_A, version_maker=LEGAL_A, renewal_requester=BUYER, contract_owner=OWNER
        )
        is ApprovalRule.MAKER
    )


def test_names_compare_as_sign_in_compares_them() -> None:
    for spelled in ("BUYER@example.com", " buyer@example.com ", "Buyer@Example.Com"):
        assert not may_approve(reviewer=spelled, version_maker=LEGAL_B, renewal_requester=BUYER)
    # An unknown requester or owner (None or blank) is nobody, not everybody.
    assert may_approve(
        reviewer=LEGAL_A, version_maker=BUYER, renewal_requester=None, contract_owner=" "
    )


PEOPLE = st.sampled_from(
    [BUYER, LEGAL_A, LEGAL_B, OWNER, "Legal-A@Example.com", " owner@example.com", ""]
)


def _key(name: str | None) -> str | None:
    return name.strip().casefold() if name and name.strip() else None


@given(
    reviewer=PEOPLE.filter(bool),
    maker=PEOPLE,
    requester=st.none() | PEOPLE,
    owner=st.none() | PEOPLE,
    legal=st.booleans(),
)
def test_allowed_exactly_when_legal_and_not_involved(
    reviewer: str, maker: str, requester: str | None, owner: str | None, legal: bool
) -> None:
    kwargs = {
        "reviewer": reviewer,
        "version_maker": maker,
        "renewal_requester": requester,
        "contract_owner": owner,
        "may_review": legal,
    }
    allowed = may_approve(**kwargs)  # type: ignore[arg-type]
    involved = {_key(maker), _key(requester), _key(owner)} - {None}
    # approval allowed ⇒ legal ∧ approver ∉ {maker, requester, owner}, and conversely.
    assert allowed == (legal and _key(reviewer) not in involved)
    refusal = approval_refusal(**kwargs)  # type: ignore[arg-type]
    assert (refusal is None) == allowed
    rule = refused_rule(**kwargs)  # type: ignore[arg-type]
    assert (rule is None) == allowed
    if rule is ApprovalRule.LEGAL_ROLE:
        assert not legal
    elif rule is ApprovalRule.REQUESTER:
        assert _key(reviewer) == _key(requester)
    elif rule is ApprovalRule.MAKER:
        assert _key(reviewer) == _key(maker)
    elif rule is ApprovalRule.OWNER:
        assert _key(reviewer) == _key(owner)
