"""Who may change a contract, its renewals and its supplier (renewal-semantics.md §6): the one
ownership rule, asked by :mod:`services.ownership` for every interface.

A contract has an owner, a user: the owner is an e-mail address and the user is the account
whose name is that address, trimmed and casefolded (:func:`owner_username`). It may also have a
team. A procurement user changes their own contracts and their teams' contracts (and their
renewals); acting on anyone else's needs :data:`~auth.roles.Permission.ANY_OWNER` (the
procurement lead). Every role may read every contract. A supplier is shared by its contracts:
registering a new one changes nobody's contract, but changing a stored one (its name, category
or country) needs the lead, or that the supplier is a supplier of one of the user's own or
team's contracts. Teams themselves are managed by a procurement lead or an administrator.

The rule only says *whose*: whether the person may write contracts at all is their permission,
checked by the interfaces (``require``) before any of this is asked. Pure: the facts (the
user's teams, the contract's owner and team, the supplier's contracts) are loaded by the
caller.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from auth.roles import Permission

__all__ = [
    "Actor",
    "Ownership",
    "change_refusal",
    "may_change",
    "may_read",
    "owner_username",
    "owns",
    "supplier_refusal",
    "team_assignment_refusal",
    "team_management_refusal",
]


@dataclass(frozen=True, slots=True)
class Actor:
    """The person asking: their user name, what their roles permit, and their teams."""

    username: str
    permissions: frozenset[Permission]
    teams: frozenset[str] = frozenset()

    @property
    def any_owner(self) -> bool:
        return Permission.ANY_OWNER in self.permissions


@dataclass(frozen=True, slots=True)
class Ownership:
    """Whose a contract is: its owner's address and its team, if it has one."""

    owner: str
    team: str | None = None

    def describe(self) -> str:
        return f"{self.owner} (team {self.team})" if self.team else self.owner


def owner_username(owner: str) -> str:
    """The account a contract's owner is: the user whose name is the address, trimmed and
    casefolded (user names are stored casefolded, so ``Buyer@Example.com`` is
    ``buyer@example.com``)."""
    return owner.strip().casefold()


def owns(actor: Actor, ownership: Ownership) -> bool:
    """The actor is the contract's owner, or a member of its team."""
    if owner_username(ownership.owner) == owner_username(actor.username):
        return True
    return ownership.team is not None and ownership.team in actor.teams


def may_change(actor: Actor, ownership: Ownership) -> bool:
    return actor.any_owner or owns(actor, ownership)


def may_read(actor: Actor) -> bool:
    """Every role reads every contract, whoever owns it."""
    return Permission.CONTRACTS_READ in actor.permissions


_LEAD = "a procurement lead may act on anyone's"


def change_refusal(
    actor: Actor, ownership: Ownership, *, contract_id: str, new: bool = False
) -> str | None:
    """Why ``actor`` may not change the contract (or, ``new``, register it with this owner and
    team); None when they may."""
    if may_change(actor, ownership):
        return None
    if new:
        return (
            f"contract {contract_id!r} would belong to {ownership.describe()}: "
            f"{actor.username} may register only contracts they own or their team's ({_LEAD})"
        )
    return (
        f"contract {contract_id!r} belongs to {ownership.describe()}: {actor.username} may "
        f"change only their own and their team's contracts and renewals ({_LEAD})"
    )


def supplier_refusal(
    actor: Actor, *, supplier_id: str, exists: bool, contracts: Iterable[Ownership]
) -> str | None:
    """Why ``actor`` may not register or change the supplier; None when they may. ``contracts``
    are the stored contracts with that supplier."""
    if not exists or actor.any_owner:
        return None
    if any(owns(actor, c) for c in contracts):
        return None
    return (
        f"supplier {supplier_id!r} is not a supplier of a contract of {actor.username}'s or "
        f"their team's: only a procurement lead may change it"
    )


def team_assignment_refusal(actor: Actor, *, contract_id: str, team: str | None) -> str | None:
    """Why ``actor`` (who may change the contract) may not give it this team; None when they
    may. Taking a team away, or giving one's own team, is theirs to do; a procurement lead may
    give any team."""
    if team is None or actor.any_owner or team in actor.teams:
        return None
    return (
        f"{actor.username} is not in team {team!r}: only a procurement lead may give contract "
        f"{contract_id!r} a team they are not in"
    )


def team_management_refusal(actor: Actor) -> str | None:
    """Why ``actor`` may not create teams or change their members; None when they may (a
    procurement lead, or an administrator, who manages accounts)."""
    if actor.any_owner or Permission.USERS_MANAGE in actor.permissions:
        return None
    return f"{actor.username} may not manage teams: that needs a procurement lead or an admin"
