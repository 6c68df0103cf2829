"""The web pages through the real app: escaping, the whole letter on the draft page (escaped
text; the formatted one in a sandboxed frame), decision errors next to their fields, security
headers, the queue, the dashboard and where "/" leads, on SQLite and PostgreSQL."""

import re

import httpx

from portal.deps import SESSION_COOKIE
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, contract_in_review_window, wait_for_draft


def _browser(p: Portal, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
    )


async def test_review_pages_and_dashboard(portal: Portal) -> None:
    env = portal.extra["env"]
    evil = '<img src=x onerror="alert(1)">'
    cid = await contract_in_review_window(env, portal.sessions, title=f"Ink {evil}")
    r = await portal.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert r.status_code == 201
    await wait_for_draft(portal.client, cid)  # type: ignore[arg-type]

    async with _browser(portal, "legal") as http:
        queue = await http.get("/reviews")
        assert queue.status_code == 200 and cid in queue.text
        assert "default-src 'none'" in queue.headers["content-security-policy"]
        assert queue.headers["x-frame-options"] == "DENY"
        page = await http.get(f"/reviews/{cid}/1/1")
        assert page.status_code == 200
        assert evil not in page.text and "&lt;img src=x" in page.text
        frame = re.search(r"<iframe[^>]*>", page.text)
        assert frame is not None and " sandbox " in frame[0] and "srcdoc=" in frame[0]
        # The whole letter is on the page, as escaped text: the hostile title is shown, not run.
        letter = re.search(
            r'<pre class="body letter" id="letter"[^>]*>(.*?)</pre>', page.text, re.S
        )
        assert letter is not None and "&lt;img src=x onerror=" in letter[1]
        assert "<img" not in letter[1] and len(letter[1]) > 500
        # The decision radios sit in their labels, on one line with their words.
        assert re.search(r'<label class="choice"><input type="radio" name="decision"', page.text)
        assert "Clause by clause" in page.text and 'name="content_hash"' in page.text
        missing = await http.get(f"/reviews/{cid}/1/9")
        assert missing.status_code == 404

        # A comment is required to request changes: shown on the page, nothing recorded.
        csrf = portal.cookies["legal"][1]
        refused = await http.post(
            f"/reviews/{cid}/1/1/decision",
            data={"csrf_token": csrf, "decision": "request_changes", "comment": "  "},
        )
        assert refused.status_code == 422 and 'id="comment-error"' in refused.text
        assert "A comment is required to request changes." in refused.text
        undecided = await http.post(
            f"/reviews/{cid}/1/1/decision", data={"csrf_token": csrf, "comment": "typed"}
        )
        assert undecided.status_code == 422 and 'id="decision-error"' in undecided.text
        assert ">typed</textarea>" in undecided.text  # what was typed is kept
        again = await http.get(f"/reviews/{cid}/1/1")
        assert 'id="decision-form"' in again.text

    async with _browser(portal, "admin") as http:
        board = await http.get("/dashboard")
        assert board.status_code == 200
        assert "expiring in 30 days" in board.text and "legal review" in board.text
        denied = await http.get("/reviews")
        assert denied.status_code == 403
        home = await http.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/dashboard"

    # Where "/" takes each role: legal to the queue, a buyer to the pipeline.
    for who, target in (("legal", "/reviews"), ("procurement", "/pipeline")):
        async with _browser(portal, who) as http:
            home = await http.get("/")
            assert home.status_code == 303 and home.headers["location"] == target

    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")  # type: ignore[union-attr]
