"""The plan preview and the calendar feed through the API."""

from icalendar import Calendar

from tests.factories import contract_data
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal


def _json(**overrides: object) -> dict[str, object]:
    data = contract_data(**overrides)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()} | {
        "annual_value": "1000",
        "terms": {"unit_price": "12.5"},
    }


async def test_preview_plans_and_report_bad_rows(portal: Portal) -> None:
    ok = await portal.http.post(
        "/api/v1/plans/preview",
        json=[_json(id="P-1", term_model="auto_renewing", notice_period_days=90)],
        headers=portal.auth("legal"),
    )
    assert ok.status_code == 200, ok.text
    [plan] = ok.json()
    assert plan["id"] == "P-1" and plan["send_by"] is not None
    assert plan["notice_provenance"][0].startswith("end date")
    assert [m["kind"] for m in plan["milestones"]][-2:] == ["send_by", "expiry"]

    bad = await portal.http.post(
        "/api/v1/plans/preview",
        json=[_json(id="P-1"), _json(id="P-2", jurisdiction="XX", time_zone="Nowhere/Land")],
        headers=portal.auth("procurement"),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    problems = {(e["row"], e["field"]) for e in bad.json()["errors"]}
    assert problems == {(2, "jurisdiction"), (2, "time_zone")}


async def test_calendar_feed(portal: Portal) -> None:
    feed = await portal.http.get("/api/v1/calendar.ics", headers=portal.auth("procurement"))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert Calendar.from_ical(feed.content)["VERSION"] == "2.0"
    anonymous = await portal.http.get("/api/v1/calendar.ics")
    assert anonymous.status_code == 401
