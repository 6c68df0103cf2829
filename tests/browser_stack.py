"""What the browser tests share (tests/test_browser_workspace.py, tests/test_browser_actions.py):
one server, one worker on the time-skipping Temporal server, one headless Chromium (Debian's
``chromium`` package, driven by Playwright) and two renewals drafted for legal, per test module
(SQLite only); a browser context per language, the sign-in, axe run clean and screenshots.

A test module uses it with ``from tests.browser_stack import *  # noqa: F403`` (the fixtures
``stack`` and ``_served_db``) and imports the helpers it calls by name.
"""

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.binaries import temporal_test_server
from migrations.runner import upgrade
from store.db import make_engine, make_session_factory
from tests.browser_helpers import (
    AXE_SOURCE,
    BLOCKING_IMPACTS,
    axe_findings,
    record_findings,
    screenshot_dir,
    shot_name,
)
from tests.identity_helpers import TEST_IDENTITY_KEYS
from tests.portal_fixtures import (
    PASSWORD,
    PEOPLE,
    Portal,
    build_portal,
    contract_in_review_window,
    settings_for,
    wait_for_draft,
)
from worker import build_worker

__all__ = [
    "CHROMIUM",
    "IN_CI",
    "KNOWN_FINDINGS",
    "SKIP_REASON",
    "SUPPLIER",
    "Stack",
    "_served_db",
    "axe_clean",
    "new_context",
    "playwright_api",
    "shoot",
    "sign_in",
    "stack",
]

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium) to run the browser tests"
        )
    if not AXE_SOURCE.exists():
        return f"{AXE_SOURCE} is missing: install axe-core with `npm ci --prefix tests/browser`"
    return None


SKIP_REASON = _missing()
# CI installs both (.ci/run): a skip there would hide it.
if SKIP_REASON and IN_CI:  # pragma: no cover
    raise RuntimeError(SKIP_REASON)

playwright_api = pytest.importorskip("playwright.async_api")

SUPPLIER = "S-WEB-1"

# Blocking axe findings already reported to the page's owner (/tmp/axe_findings.md and the
# report of this work): (page label, rule). They are printed, and any other finding fails.
KNOWN_FINDINGS: frozenset[tuple[str, str]] = frozenset()


@dataclass
class Stack:
    portal: Portal
    base: str
    browser: Any
    review_cid: str  # a draft v1 waiting for legal
    buyer_cid: str  # a draft v1 the buyer makes v2 of
    env: WorkflowEnvironment
    visited: dict[str, list[str]] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def _served_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('workspace') / 'renewals.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(_served_db: str) -> AsyncIterator[Stack]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_test_server(),
    )
    engine = make_engine(_served_db)
    sessions = make_session_factory(engine)
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    executor = ThreadPoolExecutor(max_workers=8)
    worker = build_worker(
        env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=_served_db,
        executor=executor,
        max_concurrent_activities=8,
    )
    served_engine = make_engine(_served_db)
    async with worker:
        portal = await build_portal(
            database_url=_served_db, sessions=sessions, client=env.client, task_queue=task_queue
        )
        portal.extra["env"] = env
        settings = settings_for(
            _served_db, task_queue, address=env.client.service_client.config.target_host
        )
        app = create_app(
            settings, sessions=make_session_factory(served_engine), identity=TEST_IDENTITY_KEYS
        )
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
            await asyncio.sleep(0.05)

        review_cid = await contract_in_review_window(
            env, sessions, supplier_id=SUPPLIER, title="Packaging film"
        )
        buyer_cid = await contract_in_review_window(
            env, sessions, supplier_id=SUPPLIER, title="Pallet wrap"
        )
        for cid in (review_cid, buyer_cid):
            started = await portal.http.post(
                "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
            )
            assert started.status_code == 201, started.text
        for cid in (review_cid, buyer_cid):
            await wait_for_draft(env.client, cid)

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
                yield Stack(
                    portal=portal,
                    base=f"http://127.0.0.1:{port}",
                    browser=chromium,
                    review_cid=review_cid,
                    buyer_cid=buyer_cid,
                    env=env,
                )
            finally:
                await chromium.close()
                for cid in (review_cid, buyer_cid):
                    # It may have ended already.
                    with contextlib.suppress(Exception):
                        handle = env.client.get_workflow_handle(f"renewal/{cid}/term-1")
                        await handle.terminate("test over")
                server.should_exit = True
                await asyncio.to_thread(thread.join, 20)
                await portal.http.aclose()
    executor.shutdown(wait=True)
    served_engine.dispose()
    engine.dispose()
    await env.shutdown()


async def new_context(stack: Stack, lang: str) -> Any:
    locale = "ja-JP" if lang == "ja" else "en-GB"
    return await stack.browser.new_context(
        viewport={"width": 1366, "height": 900},
        locale=locale,
        extra_http_headers={"Accept-Language": "ja,en;q=0.5" if lang == "ja" else "en"},
    )


async def sign_in(page: Any, base: str, who: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", PEOPLE[who][0])
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("load")
    assert "/login" not in page.url, f"{who} was not signed in"


async def axe_clean(page: Any, label: str) -> None:
    findings = await axe_findings(page, label)
    record_findings(findings)
    blocking = [
        f
        for f in findings
        if f.impact in BLOCKING_IMPACTS and (f.page.split(" (")[0], f.rule) not in KNOWN_FINDINGS
    ]
    assert not blocking, "\n".join(f.line() for f in blocking)


async def shoot(page: Any, who: str, lang: str, what: str) -> None:
    await page.screenshot(path=str(screenshot_dir() / shot_name(who, lang, what)), full_page=True)
