"""Segregation of duties: who may approve a version. The one rule, asked by the workflow (which
decides), by the services (which refuse early, with the field named) and by the review page
(which offers the approve choice only to those who may use it). renewal-semantics.md §6:

* approving needs the legal role;
* the approver is never the version's maker (who edited its terms, or the renewal's requester
  for a version the system made), the renewal's requester or the contract's owner;
* the reviewer who asked for changes may approve the revision: they are its checker, not its
  maker.

Names compare case-insensitively and without surrounding blanks: ``Legal@Example.com`` and
``legal@example.com`` are one person to the rule, as they are to sign-in.
"""

from enum import StrEnum

__all__ = ["ApprovalRule", "approval_refusal", "may_approve", "refused_rule"]


class ApprovalRule(StrEnum):
    """The rule that refused an approval, in the order they are asked."""

    LEGAL_ROLE = "legal_role"  # the reviewer does not hold the legal role
    REQUESTER = "requester"  # the reviewer requested the renewal
    MAKER = "maker"  # the reviewer made this version
    OWNER = "owner"  # the reviewer owns the contract


def _same(a: str, b: str | None) -> bool:
    return bool(b and b.strip()) and a.strip().casefold() == (b or "").strip().casefold()


def refused_rule(
    *,
    reviewer: str,
    version_maker: str,
    renewal_requester: str | None,
    contract_owner: str | None = None,
    may_review: bool = True,
) -> ApprovalRule | None:
    """The first rule that stops ``reviewer`` approving the version, or None when none does.

    ``may_review`` says whether the reviewer holds the legal role now (the review permission);
    it defaults to True for callers that checked the role before asking. ``contract_owner`` is
    None when the caller does not know the contract (older call sites): that rule is then not
    asked."""
    if not may_review:
        return ApprovalRule.LEGAL_ROLE
    if _same(reviewer, renewal_requester):
        return ApprovalRule.REQUESTER
    if _same(reviewer, version_maker):
        return ApprovalRule.MAKER
    if _same(reviewer, contract_owner):
        return ApprovalRule.OWNER
    return None


def approval_refusal(
    *,
    reviewer: str,
    version_maker: str,
    renewal_requester: str | None,
    contract_owner: str | None = None,
    may_review: bool = True,
) -> str | None:
    """Why ``reviewer`` may not approve this version, naming the rule, or None when they may."""
    rule = refused_rule(
        reviewer=reviewer,
        version_maker=version_maker,
        renewal_requester=renewal_requester,
        contract_owner=contract_owner,
        may_review=may_review,
    )
    if rule is None:
        return None
    if rule is ApprovalRule.LEGAL_ROLE:
        return f"{reviewer} does not hold the legal role, which approving a version needs"
    if rule is ApprovalRule.REQUESTER:
        return (
            f"{reviewer} requested this renewal or draft and cannot approve it "
            "(segregation of duties): the renewal's requester is never its approver"
        )
    if rule is ApprovalRule.MAKER:
        return (
            f"{reviewer} made this version and cannot approve it (segregation of duties): "
            "the version's maker is never its approver"
        )
    return (
        f"{reviewer} owns this contract and cannot approve its versions (segregation of "
        "duties): the contract's owner is never the approver"
    )


def may_approve(
    *,
    reviewer: str,
    version_maker: str,
    renewal_requester: str | None,
    contract_owner: str | None = None,
    may_review: bool = True,
) -> bool:
    return (
        refused_rule(
            reviewer=reviewer,
            version_maker=version_maker,
            renewal_requester=renewal_requester,
            contract_owner=contract_owner,
            may_review=may_review,
        )
        is None
    )
