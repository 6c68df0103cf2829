"""Follow-up reviews through the API, on SQLite and PostgreSQL: the owner records one and reads
it back; bad input is refused naming the field with nothing stored; legal may read but not
record; the contract's own interval is set and bounded."""

from datetime import date

from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, new_contract_id


def _contract(p: Portal) -> str:
    cid = new_contract_id()
    with transaction(p.sessions) as s:
        register(s, id=cid, owner=p.username("procurement"))
    p.app.state.portal.today = lambda: date(2026, 4, 15)
    return cid


REVIEW = {
    "feedback": "納期遅延が2回ありましたが、原因と対策の説明がありました。",
    "csat": 4,
    "nps": 9,
    "supplier_continue": "yes",
    "supplier_continue_on": "現行の数量で",
    "actions": [{"description": "繁忙期の納品枠を合意する", "owner": "buyer", "due": "2026-05-31"}],
}


async def test_the_owner_records_a_review_and_everyone_reads_it(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p)
    url = f"/api/v1/contracts/{cid}/followups"
    made = await p.http.post(url, json=REVIEW, headers=p.auth("procurement"))
    assert made.status_code == 201, made.text
    assert (made.json()["csat"], made.json()["nps"], made.json()["sequence"]) == (4, 9, 1)
    listed = await p.http.get(url, headers=p.auth("legal"))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["interval_months"] == 3
    assert [s["due"] for s in body["scheduled"]][:2] == ["2026-04-01", "2026-07-01"]
    assert [f["state"] for f in body["followups"]] == ["recorded"]
    action = body["followups"][0]["actions"][0]
    closed = await p.http.post(
        f"{url}/actions/{action['id']}/closure", headers=p.auth("procurement")
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"


async def test_bad_input_names_the_field_and_stores_nothing(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p)
    url = f"/api/v1/contracts/{cid}/followups"
    for change, field in (
        ({"csat": 7}, "csat"),
        ({"nps": 11}, "nps"),
        ({"actions": [{"description": "x", "due": "2026-05-31"}]}, "owner"),
        ({"term": 0}, "term"),
    ):
        refused = await p.http.post(url, json=REVIEW | change, headers=p.auth("procurement"))
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        fields = [e["field"] for e in refused.json()["errors"]]
        assert any(field in f for f in fields), (change, fields)
    legal = await p.http.post(url, json=REVIEW, headers=p.auth("legal"))
    assert legal.status_code == 403
    listed = await p.http.get(url, headers=p.auth("procurement"))
    assert [f for f in listed.json()["followups"] if f["state"] == "recorded"] == []


async def test_the_contracts_own_interval(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p)
    url = f"/api/v1/contracts/{cid}/followups"
    bad = await p.http.put(f"{url}/interval", json={"months": 13}, headers=p.auth("procurement"))
    assert bad.status_code == 422
    ok = await p.http.put(f"{url}/interval", json={"months": 2}, headers=p.auth("procurement"))
    assert ok.status_code == 200, ok.text
    listed = (await p.http.get(url, headers=p.auth("procurement"))).json()
    assert listed["interval_months"] == 2 and listed["contract_interval_months"] == 2
    assert [s["due"] for s in listed["scheduled"]][:2] == ["2026-03-01", "2026-05-01"]
