"""Segregation of duties: who may approve a version. The one rule, asked by the workflow (which
decides), by the services (which refuse early, with the field named) and by the review page
(which offers the approve choice only to those who may use it).

Names compare case-insensitively: ``Legal@Example.com`` and ``legal@example.com`` are one
person to the rule, as they are to sign-in.
"""

from collections.abc import Iterable


def approval_refusal(
    *, reviewer: str, version_maker: str, renewal_requester: str | None
) -> str | None:
    """Why ``reviewer`` may not approve this version, or None when they may: nobody approves a
    version they made or a renewal they requested."""
    if reviewer.casefold() in _involved((version_maker, renewal_requester)):
        return (
            f"{reviewer} requested this renewal or draft and cannot approve it "
            "(segregation of duties)"
        )
    return None


def may_approve(*, reviewer: str, version_maker: str, renewal_requester: str | None) -> bool:
    return (
        approval_refusal(
            reviewer=reviewer, version_maker=version_maker, renewal_requester=renewal_requester
        )
        is None
    )


def _involved(names: Iterable[str | None]) -> set[str]:
    return {name.casefold() for name in names if name}
