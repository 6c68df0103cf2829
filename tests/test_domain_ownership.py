"""The ownership rule (domain.ownership, renewal-semantics.md §6): examples and properties."""

from hypothesis import given
from hypothesis import strategies as st

from auth.roles import Permission, Role, permissions_for
from domain.ownership import (
    Actor,
    Ownership,
    change_refusal,
    may_change,
    may_read,
    owner_username,
    owns,
    supplier_refusal,
    team_assignment_refusal,
    team_management_refusal,
)


def actor(name: str, *roles: Role, teams: frozenset[str] = frozenset()) -> Actor:
    return Actor(name, permissions_for(roles or (Role.PROCUREMENT,)), teams)


A = actor("a@example.com")
B_CONTRACT = Ownership("b@example.com")
LEAD = actor("lead@example.com", Role.PROCUREMENT_LEAD)


def test_the_owner_may_change_their_contract_and_nobody_else_but_a_lead() -> None:
    assert change_refusal(A, Ownership("a@example.com"), contract_id="C-A") is None
    refusal = change_refusal(A, B_CONTRACT, contract_id="C-B")
    assert refusal is not None
    assert "'C-B' belongs to b@example.com" in refusal
    assert "a@example.com may change only their own and their team's" in refusal
    assert change_refusal(LEAD, B_CONTRACT, contract_id="C-B") is None


def test_the_owner_is_the_user_whose_name_is_the_address_casefolded() -> None:
    assert owner_username(" Buyer@Example.COM ") == "buyer@example.com"
    assert owns(actor("buyer@example.com"), Ownership("Buyer@Example.com"))


def test_team_members_act_as_the_owner() -> None:
    in_team = actor("a@example.com", teams=frozenset({"packaging"}))
    contract = Ownership("b@example.com", "packaging")
    assert may_change(in_team, contract)
    assert not may_change(A, contract)
    refusal = change_refusal(A, contract, contract_id="C-B")
    assert refusal is not None and "b@example.com (team packaging)" in refusal


def test_a_new_contract_for_someone_else_is_refused_as_a_registration() -> None:
    refusal = change_refusal(A, B_CONTRACT, contract_id="C-N", new=True)
    assert refusal is not None and "would belong to b@example.com" in refusal
    assert "may register only contracts they own" in refusal


def test_suppliers_new_or_of_ones_own_contracts() -> None:
    assert supplier_refusal(A, supplier_id="S", exists=False, contracts=()) is None
    refusal = supplier_refusal(A, supplier_id="S", exists=True, contracts=[B_CONTRACT])
    assert refusal is not None and "only a procurement lead may change it" in refusal
    assert supplier_refusal(A, supplier_id="S", exists=True, contracts=()) is not None
    mine = [B_CONTRACT, Ownership("a@example.com")]
    assert supplier_refusal(A, supplier_id="S", exists=True, contracts=mine) is None
    assert supplier_refusal(LEAD, supplier_id="S", exists=True, contracts=()) is None


def test_teams_are_managed_by_a_lead_or_an_admin() -> None:
    assert team_management_refusal(LEAD) is None
    assert team_management_refusal(actor("root@example.com", Role.ADMIN)) is None
    for role in (Role.PROCUREMENT, Role.LEGAL, Role.LEGAL_LEAD):
        assert team_management_refusal(actor("x@example.com", role)) is not None


def test_a_team_is_given_by_its_members_or_a_lead() -> None:
    member = actor("a@example.com", teams=frozenset({"t"}))
    assert team_assignment_refusal(member, contract_id="C", team="t") is None
    assert team_assignment_refusal(member, contract_id="C", team=None) is None
    assert team_assignment_refusal(member, contract_id="C", team="u") is not None
    assert team_assignment_refusal(LEAD, contract_id="C", team="u") is None


# ---------------------------------------------------------------------------- properties

names = st.sampled_from(["a@example.com", "b@example.com", "c@example.com", "A@Example.com"])
team_names = st.sampled_from(["t1", "t2", "t3"])
roles = st.frozensets(st.sampled_from(list(Role)), min_size=1)
actors = st.builds(
    lambda name, rs, teams: Actor(name, permissions_for(rs), teams),
    names,
    roles,
    st.frozensets(team_names),
)
ownerships = st.builds(Ownership, names, st.none() | team_names)


@given(actors, ownerships)
def test_refused_exactly_when_not_allowed_and_the_refusal_names_the_owner(
    who: Actor, contract: Ownership
) -> None:
    refusal = change_refusal(who, contract, contract_id="C")
    assert (refusal is None) == may_change(who, contract)
    if refusal is not None:
        assert contract.owner in refusal and who.username in refusal


@given(actors, ownerships)
def test_allowed_is_lead_or_owner_or_team_member(who: Actor, contract: Ownership) -> None:
    expected = (
        Permission.ANY_OWNER in who.permissions
        or who.username.casefold() == contract.owner.casefold()
        or (contract.team is not None and contract.team in who.teams)
    )
    assert may_change(who, contract) is expected


@given(actors, ownerships, st.frozensets(team_names))
def test_more_teams_never_take_a_right_away(
    who: Actor, contract: Ownership, more: frozenset[str]
) -> None:
    wider = Actor(who.username, who.permissions, who.teams | more)
    assert not may_change(who, contract) or may_change(wider, contract)


@given(names, ownerships)
def test_a_procurement_lead_may_change_anything(name: str, contract: Ownership) -> None:
    assert may_change(Actor(name, permissions_for({Role.PROCUREMENT_LEAD})), contract)


@given(actors)
def test_every_role_may_read(who: Actor) -> None:
    assert may_read(who)


@given(actors, st.lists(ownerships, max_size=5), st.booleans())
def test_a_supplier_is_changed_by_a_lead_or_an_owner_of_one_of_its_contracts(
    who: Actor, contracts: list[Ownership], exists: bool
) -> None:
    refusal = supplier_refusal(who, supplier_id="S", exists=exists, contracts=contracts)
    allowed = not exists or who.any_owner or any(owns(who, c) for c in contracts)
    assert (refusal is None) is allowed
