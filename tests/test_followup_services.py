"""Recording a follow-up review through services.followups over a migrated database: a good one
is stored with its actions, an audit entry and the relationship facts the scorecard reads; bad
input is refused with the field and the reason, and nothing is stored."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from auth.roles import Role
from config.settings import Settings
from models.errors import InvalidInput
from models.users import CurrentUser
from services import followups
from store import followups as followup_store
from store.db import SessionFactory, transaction
from tests.factories import register

OWNER = CurrentUser(
    id=0,
    username="procurement@example.com",
    display_name="Buyer",
    roles=frozenset({Role.PROCUREMENT}),
)
TODAY = date(2026, 4, 15)  # the term runs 2026-01-01 .. 2027-12-31; the first review is due


def _review(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "feedback": "Deliveries were late twice in March; the supplier explained and fixed it.",
        "csat": 4,
        "nps": 8,
        "supplier_continue": "yes",
        "supplier_continue_on": "Volumes as in the current term",
        "actions": [
            {
                "description": "Agree a delivery window for the spring peak",
                "owner": "procurement@example.com",
                "due": date(2026, 5, 31),
            }
        ],
    }
    data.update(changes)
    return data


@pytest.fixture
def contract_id(sessions: SessionFactory) -> str:
    with transaction(sessions) as s:
        register(s)
    return "C-1001"


def _record(sessions: SessionFactory, cid: str, **changes: Any) -> Any:
    return followups.record(
        sessions=sessions,
        settings=Settings(),
        user=OWNER,
        contract_id=cid,
        data=_review(**changes),
        today=TODAY,
        now=datetime(2026, 4, 15, 9, tzinfo=UTC),
    )


def test_a_recorded_review_is_stored_with_its_actions_and_read_as_relationship_facts(
    sessions: SessionFactory, contract_id: str
) -> None:
    stored = _record(sessions, contract_id)
    assert (stored.term, stored.csat, stored.nps) == (1, 4, 8)
    assert len(stored.actions) == 1
    with transaction(sessions) as s:
        listed = followup_store.list_followups(s, contract_id=contract_id, term=1)
        facts = followup_store.relationship_facts(
            s, contract_id=contract_id, since=date(2026, 1, 1), until=date(2026, 12, 31)
        )
    assert [f.state for f in listed if f.state == "recorded"] == ["recorded"]
    assert [(o.csat, o.nps) for o in facts.follow_ups] == [(4, 8)]
    assert facts.supplier_wants_to_continue is True
    assert [i.closed_on for i in facts.issues] == [None]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"csat": 6}, "csat"),
        ({"csat": 0}, "csat"),
        ({"nps": 11}, "nps"),
        ({"nps": -1}, "nps"),
        ({"actions": [{"description": "Call them", "due": date(2026, 5, 1)}]}, "owner"),
        ({"actions": [{"description": "Call them", "owner": "a@example.com"}]}, "due"),
        ({"term": 0}, "term"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_stored(
    sessions: SessionFactory, contract_id: str, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _record(sessions, contract_id, **changes)
    fields = [e.field for e in refused.value.errors]
    assert any(field in f for f in fields), fields
    assert all(e.reason for e in refused.value.errors)
    with transaction(sessions) as s:
        stored = followup_store.list_followups(s, contract_id=contract_id)
    assert [f for f in stored if f.state == "recorded"] == []


def test_the_same_review_cannot_be_recorded_twice(
    sessions: SessionFactory, contract_id: str
) -> None:
    first = _record(sessions, contract_id)
    with pytest.raises(InvalidInput):
        _record(sessions, contract_id, sequence=first.sequence)
