"""A legal review in a real browser: headless Chromium (Debian's ``chromium`` package) driven
by Playwright, against the app served by uvicorn, with a worker on the time-skipping server.

A reviewer signs in, opens the queue, reads the draft and requests changes; a second
reviewer approves the new version; the workflow's status follows each step.
"""

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn

from api.app import create_app
from clients import renewals
from models.renewal import RenewalStage
from store.db import make_engine, make_session_factory
from tests.identity_helpers import TEST_IDENTITY_KEYS
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import (
    PASSWORD,
    Portal,
    contract_in_review_window,
    settings_for,
    wait_for_draft,
)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: install Debian's chromium package "
        "(apt-get install -y chromium) to run the browser tests",
    ),
]

playwright_api = pytest.importorskip("playwright.async_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(portal: Portal) -> Iterator[str]:
    """The real app under uvicorn in a background thread, with its own engine and its own
    Temporal connection (made on first use, in the server's event loop)."""
    env = portal.extra["env"]
    settings = settings_for(
        portal.database_url,
        portal.task_queue,
        address=env.client.service_client.config.target_host,
    )
    engine = make_engine(portal.database_url)
    app = create_app(settings, sessions=make_session_factory(engine), identity=TEST_IDENTITY_KEYS)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)
    engine.dispose()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _sign_in(page, base: str, username: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/reviews")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_two_reviewers_request_changes_then_approve(
    portal: Portal, served: str, browser, tmp_path: Path
) -> None:
    env = portal.extra["env"]
    client = portal.client
    assert client is not None
    cid = await contract_in_review_window(
        env, portal.sessions, title="Packaging <script>alert(1)</script>"
    )
    started = await portal.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert started.status_code == 201
    await wait_for_draft(client, cid)

    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))

    # Reviewer A: queue, draft, request changes.
    await _sign_in(page, served, "legal-a@example.com")
    row = page.locator("tr", has_text=cid)
    await row.get_by_role("link", name="Open").click()
    await page.wait_for_url(f"{served}/reviews/{cid}/1/1")
    assert await page.locator("h2", has_text="Clause by clause").count() == 1
    assert await page.locator("iframe.rendered").count() == 1
    assert "<script>" in (await page.locator("h1").inner_text())  # shown as text, never run
    await page.check("input[name=decision][value=request_changes]")
    await page.fill("textarea[name=comment]", "Cap the price adjustment at 2 %.")
    await page.click("#decision-form button[type=submit]")
    # The comment is procurement's to answer: the page stays on version 1, which waits.
    await page.wait_for_url(f"{served}/reviews/{cid}/1/1?done=request_changes")
    assert "request changes" in await page.locator("#notice").inner_text()
    assert await page.locator("#decision-form").count() == 0

    status = await renewals.get_status(client, contract_id=cid, term=1)
    assert [d.version for d in status.drafts] == [1]
    assert [r.decision.value for r in status.decisions] == ["request_changes"]
    assert status.decisions[0].reviewer == "legal-a@example.com"
    assert status.stage is RenewalStage.CHANGES_REQUESTED

    # Procurement makes version 2 by editing the terms (the API; its page comes with the
    # workspace).
    made = await portal.http.post(
        f"/api/v1/renewals/{cid}/terms/1/versions",
        json={
            "based_on_version": 1,
            "edit": {
                "price_adjustment": "CPI, at most 2 % a year",
                "price_adjustment_cap_pct": "2",
            },
        },
        headers=portal.auth("procurement"),
    )
    assert made.status_code == 201, made.text

    await page.click("header form.signout button")
    await page.wait_for_url(f"{served}/login")

    # Reviewer B: the new version is in the queue; approve it.
    await _sign_in(page, served, "legal-b@example.com")
    row = page.locator("tr", has_text=cid)
    assert "v2" in await row.inner_text()
    await row.get_by_role("link", name="Open").click()
    await page.wait_for_url(f"{served}/reviews/{cid}/1/2")
    assert await page.locator("h2", has_text="Changes from version 1").count() == 1
    shot = Path(os.environ.get("RENEWALS_SCREENSHOTS", tmp_path)) / "review-v2.png"
    await page.screenshot(path=str(shot), full_page=True)
    await page.check("input[name=decision][value=approve]")
    await page.click("#decision-form button[type=submit]")
    await page.wait_for_url(f"{served}/reviews/{cid}/1/2?done=approve")
    assert "approve" in await page.locator("#notice").inner_text()
    assert (await page.locator("#stage").inner_text()) == "approved by legal"
    assert (await page.locator("#stage").get_attribute("data-stage")) == "approved"

    status = await renewals.get_status(client, contract_id=cid, term=1)
    assert status.stage is RenewalStage.APPROVED
    assert [(r.decision.value, r.reviewer) for r in status.decisions] == [
        ("request_changes", "legal-a@example.com"),
        ("approve", "legal-b@example.com"),
    ]
    assert status.decisions[1].content_hash == status.drafts[1].content_hash
    assert dialogs == []  # no script ran
    await context.close()
    await client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")
    await asyncio.sleep(0)
