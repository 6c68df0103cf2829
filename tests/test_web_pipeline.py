"""The pipeline and exposure pages (issue 16), on SQLite and PostgreSQL, without Temporal:
contracts, renewals, scorecards and stored plans are written straight into the database.

The PostgreSQL schema is shared by the module's tests, so each test works on contracts of its
own supplier and reads the pipeline filtered to it."""

import csv
import html
import io
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from models.plans import StoredPlan
from models.tables import ContractRow, RenewalRow, ScorecardRow
from models.team_tables import TeamRow
from portal.deps import SESSION_COOKIE
from store import plans as plan_store
from store.contracts import to_read
from store.db import transaction
from store.reads._stages import current_term_plan
from tests.factories import make_contract, register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import PEOPLE, Portal
from tests.web_i18n_helpers import english_left
from web.i18n import translator

TODAY = date(2026, 3, 2)
BUYER = PEOPLE["procurement"][0]
OTHER = "someone-else@example.com"


def _browser(p: Portal, who: str, language: str = "en") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
        headers={"Accept-Language": language},
    )


@pytest.fixture
def app_today(db_portal: Portal) -> Iterator[Portal]:
    db_portal.app.state.portal.today = lambda: TODAY
    yield db_portal


def _main(page: str) -> str:
    """The page's own content: the header around it is every page's (web/templates/common)."""
    return page.split('<main id="main">', 1)[1]


def _ids(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/contracts/([^"]+)">', page)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found[1]) if found else None


def _last_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)">(?:Last page|最後のページ)</a>', page)
    return html.unescape(found[1]) if found else None


async def _walk(http: httpx.AsyncClient, url: str) -> list[list[str]]:
    """Every page from ``url`` on, following the next links."""
    pages = []
    next_url: str | None = url
    while next_url is not None:
        r = await http.get(next_url)
        assert r.status_code == 200, r.text
        pages.append(_ids(r.text))
        next_url = _link(r.text, "next")
        assert len(pages) < 20
    return pages


def _stage(s: Any, contract_id: str, stage: str, *, score: str | None = None) -> None:
    row = RenewalRow(
        contract_id=contract_id,
        term=1,
        workflow_id=f"renewal/{contract_id}/term-1",
        requested_by=BUYER,
        term_end_date=s.get(ContractRow, contract_id).end_date,
        stage=stage,
    )
    s.add(row)
    s.flush()
    if score is not None:
        s.add(
            ScorecardRow(
                renewal_id=row.id,
                total=Decimal(score),
                grade="A" if Decimal(score) >= 80 else "C",
                recommendation="renew_as_is" if Decimal(score) >= 80 else "renegotiate",
                body={},
            )
        )


def _store_plan(s: Any, contract_id: str) -> StoredPlan:
    """The plan a started renewal stores, made as the workflow makes it."""
    contract = to_read(s.get(ContractRow, contract_id))
    plan = current_term_plan(
        contract, category="general", today=TODAY, policy=RenewalPolicy(), cfg=CalendarSettings()
    )
    return plan_store.save_plan(
        s,
        contract_id=contract_id,
        term=1,
        workflow_id=f"renewal/{contract_id}/term-1",
        plan=plan,
    )


def _seed(p: Portal, count: int = 75) -> dict[str, Any]:
    """``count`` contracts of one new supplier: ends spread over two years, values in two
    currencies, some with renewals (stages, scores, stored plans), a team, two owners."""
    tag = uuid.uuid4().hex[:8]
    supplier = f"S-{tag}"
    team = f"team-{tag}"
    info: dict[str, Any] = {"supplier": supplier, "team": team, "rows": {}}
    with transaction(p.sessions) as s:
        s.add(TeamRow(name=team))
        s.flush()
        for n in range(count):
            cid = f"C-{tag}-{n:03d}"
            end = TODAY + timedelta(days=5 + (n * 37) % 700)
            value = Decimal(1_000_000 + (n * 7919) % 50_000 * 100)
            owner = BUYER if n % 3 == 0 else OTHER
            register(
                s,
                id=cid,
                supplier_id=supplier,
                owner=owner,
                team=team if n % 5 == 0 else None,
                start_date=end - timedelta(days=365),
                end_date=end,
                notice_period_days=30 + (n % 4) * 30,
                currency="JPY" if n % 2 else "USD",
                annual_value=value,
                title=f"Item {n}",
            )
            info["rows"][cid] = {
                "end": end,
                "value": value,
                "owner": owner,
                "n": n,
                # What the sorts read: a preview by its nominal dates (3 days' transit buffer).
                "notice_deadline": end - timedelta(days=30 + (n % 4) * 30),
                "send_by": end - timedelta(days=33 + (n % 4) * 30),
            }
        s.flush()
        stages = {1: "lapsed", 2: "legal_review", 4: "changes_requested", 7: "waiting"}
        for n, stage in stages.items():
            cid = f"C-{tag}-{n:03d}"
            _stage(s, cid, stage, score="85.5" if n in (2, 7) else "62.0" if n == 4 else None)
            stored = _store_plan(s, cid)
            # A stored plan sorts by its own dates (business days).
            info["rows"][cid]["notice_deadline"] = stored.notice_deadline
            info["rows"][cid]["send_by"] = stored.send_by
    info["stages"] = {f"C-{tag}-{n:03d}": st for n, st in stages.items()}
    return info


async def test_pipeline_filters_sorting_pages_and_csv(app_today: Portal) -> None:
    p = app_today
    info = _seed(p)
    rows: dict[str, dict[str, Any]] = info["rows"]
    base = f"/pipeline?supplier={info['supplier']}"
    async with _browser(p, "procurement") as http:
        # Soonest end date first, 50 a page; every contract once, in order, across the pages.
        pages = await _walk(http, base)
        assert [len(x) for x in pages] == [50, 25]
        expected = sorted(rows, key=lambda c: (rows[c]["end"], c))
        assert [c for page in pages for c in page] == expected
        first = await http.get(base)
        assert "75 contracts" in first.text
        assert 'aria-sort="ascending"' in first.text

        # Each way round, by value: no repeats, no gaps, the right order.
        for direction in ("desc", "asc"):
            walked = await _walk(http, f"{base}&sort=annual_value&dir={direction}")
            flat = [c for page in walked for c in page]
            order = sorted(rows, key=lambda c: (rows[c]["value"], c), reverse=direction == "desc")
            assert flat == order
        by_id = await _walk(http, f"{base}&sort=contract_id&dir=desc")
        assert [c for page in by_id for c in page] == sorted(rows, reverse=True)
        for column in ("send_by", "notice_deadline"):
            for direction in ("asc", "desc"):
                walked = await _walk(http, f"{base}&sort={column}&dir={direction}")
                flat = [c for page in walked for c in page]
                order = sorted(
                    rows, key=lambda c: (rows[c][column], c), reverse=direction == "desc"
                )
                assert flat == order, (column, direction)
        scored = await _walk(http, f"{base}&sort=score&dir=desc")
        # Highest score first, ties by id the same way round; no score last.
        tag = info["supplier"][2:]
        assert scored[0][:3] == [f"C-{tag}-007", f"C-{tag}-002", f"C-{tag}-004"]
        unscored = sorted(set(rows) - {f"C-{tag}-{n:03d}" for n in (2, 4, 7)}, reverse=True)
        assert [c for page in scored for c in page][3:] == unscored
        scored_up = await _walk(http, f"{base}&sort=score&dir=asc")
        assert scored_up[0][:3] == [f"C-{tag}-004", f"C-{tag}-002", f"C-{tag}-007"]

        # From the last page back to the first, by the previous links: the same pages.
        for query in ("sort=score&dir=desc", "sort=score&dir=asc", "sort=send_by&dir=asc"):
            forward = await _walk(http, f"{base}&{query}")
            r = await http.get(f"{base}&{query}&page=last")
            backward = [_ids(r.text)]
            while (prev := _link(r.text, "prev")) is not None:
                r = await http.get(prev)
                backward.append(_ids(r.text))
            assert backward[::-1] == forward, query

        # Back from the second page to the first; the last page straight away.
        second = await http.get(f"{base}&sort=annual_value&dir=desc")
        r2 = await http.get(_link(second.text, "next") or "")
        back = await http.get(_link(r2.text, "prev") or "")
        assert _ids(back.text) == _ids(second.text)
        last = await http.get(_last_link(second.text) or "")
        assert _ids(last.text) == _ids(r2.text)
        assert _link(last.text, "next") is None and _link(first.text, "prev") is None

        # Filters narrow the rows.
        async def ids(query: str) -> set[str]:
            return {c for page in await _walk(http, f"{base}&{query}") for c in page}

        assert await ids("stage=lapsed") == {c for c, s in info["stages"].items() if s == "lapsed"}
        assert await ids("stage=not_started") == set(rows) - set(info["stages"])
        assert await ids(f"team={info['team']}") == {c for c in rows if rows[c]["n"] % 5 == 0}
        assert await ids(f"owner={OTHER.upper()}") == {c for c in rows if rows[c]["owner"] == OTHER}
        assert await ids("ends_within=60") == {
            c for c in rows if rows[c]["end"] <= TODAY + timedelta(days=60)
        }
        assert await ids("ends_within=0") == set()
        mine = await ids("needs=1")
        assert mine and all(rows[c]["owner"] == BUYER for c in mine)
        # Owned by the buyer: the lapsed one (n=1 is someone else's) is not; changes requested
        # (n=4, someone else's) is not either; n=0 ends in 5 days: overdue preparation.
        assert f"C-{tag}-000" in mine
        assert all(c not in mine for c in info["stages"] if rows[c]["owner"] != BUYER)
        none = await http.get(f"{base}&stage=completed")
        assert none.status_code == 200 and "No contract matches these filters." in none.text

        # The CSV is the view: same rows, same order, every page of it.
        r = await http.get(f"/pipeline.csv?supplier={info['supplier']}&sort=annual_value&dir=desc")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert table[0][0] == "Contract" and len(table) == 76
        walked = await _walk(http, f"{base}&sort=annual_value&dir=desc")
        assert [line[0] for line in table[1:]] == [c for page in walked for c in page]
        line = next(x for x in table if x[0] in info["stages"] and info["stages"][x[0]] == "lapsed")
        assert line[6] == "lapsed"
        assert Decimal(line[16]) == rows[line[0]]["value"]
        assert date.fromisoformat(line[12]) == rows[line[0]]["end"]

        # Bad values: the field and its reason, what was typed kept, no rows.
        bad = await http.get(f"{base}&stage=bogus&ends_within=-3")
        assert bad.status_code == 422
        assert 'id="stage-error"' in bad.text and 'id="ends_within-error"' in bad.text
        assert 'aria-describedby="ends_within-error"' in bad.text and 'value="-3"' in bad.text
        assert '<option value="bogus" selected>' in bad.text and _ids(bad.text) == []
        nan = await http.get(f"{base}&ends_within=soon")
        assert nan.status_code == 422 and 'value="soon"' in nan.text
        assert "whole number" in nan.text
        bad_csv = await http.get(f"/pipeline.csv?ends_within=x{info['supplier']}")
        assert bad_csv.status_code == 422 and "text/html" in bad_csv.headers["content-type"]
        odd = await http.get(f"{base}&sort=nonsense&after=garbage")
        assert odd.status_code == 200 and "not understood" in odd.text
        assert _ids(odd.text) == expected[:50]

    # Japanese: the words of the glossary, nothing left in English; the CSV's headers too.
    allowed = [*rows, *(f"Item {rows[c]['n']}" for c in rows), BUYER, OTHER, info["team"]]
    allowed += ["Tokyo Packaging K.K.", info["supplier"], "Procurement"]
    async with _browser(p, "procurement", "ja") as http:
        for query in ("", "&sort=score&dir=desc", "&stage=lapsed", "&stage=completed"):
            r = await http.get(base + query)
            assert r.status_code == 200
            assert english_left(_main(r.text), allowed=allowed) == [], query
        bad = await http.get(f"{base}&stage=bogus&ends_within=-1")
        assert bad.status_code == 422
        assert english_left(_main(bad.text), allowed=[*allowed, "bogus"]) == []
        r = await http.get(f"/pipeline.csv?supplier={info['supplier']}&stage=lapsed")
        table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert table[0][0] == "契約" and table[1][6] == "契約期限切れ"

    # Legal reads the pipeline but takes no copy of it.
    async with _browser(p, "legal") as http:
        assert (await http.get(base)).status_code == 200
        assert "Download this view as CSV" not in (await http.get(base)).text
        assert (await http.get(f"/pipeline.csv?supplier={info['supplier']}")).status_code == 403


async def test_pipeline_empty_state(app_today: Portal) -> None:
    p = app_today
    async with _browser(p, "procurement") as http:
        r = await http.get("/pipeline")
        assert r.status_code == 200
        if p.database_url.startswith("sqlite"):  # the PostgreSQL schema holds other tests' rows
            assert "There are no contracts yet." in r.text and 'href="/imports"' in r.text
        none = await http.get(f"/pipeline?supplier=S-none-{uuid.uuid4().hex[:6]}")
        assert "No contract matches these filters." in none.text


async def test_exposure(app_today: Portal) -> None:
    p = app_today
    tag = uuid.uuid4().hex[:8]
    supplier = f"S-{tag}"

    def add(s: Any, n: int, days: int, currency: str, value: str, **extra: Any) -> str:
        cid = f"X-{tag}-{n}"
        end = TODAY + timedelta(days=days)
        register(
            s,
            id=cid,
            supplier_id=supplier,
            owner=BUYER,
            start_date=end - timedelta(days=365),
            end_date=end,
            currency=currency,
            annual_value=Decimal(value),
            title=f"Exposed {n}",
            **extra,
        )
        return cid

    with transaction(p.sessions) as s:
        # Currencies no other test of the module uses: the PostgreSQL schema is shared.
        add(s, 1, 20, "CHF", "1000000")
        add(s, 2, 60, "CHF", "2500000.50")
        add(s, 3, 150, "GBP", "1200.25")
        add(s, 4, 300, "GBP", "999")  # beyond 180 days
        gone = add(s, 5, 10, "EUR", "50")
        stopped = s.get(ContractRow, gone)
        assert stopped is not None
        stopped.status = "terminated"
        # Auto-renewing, notice 30 days: the last day to send the notice is about 35 days
        # before the end date, so an end 50 days away rolls over within 30 days unless acted on.
        rolling = add(s, 6, 50, "EUR", "700", term_model="auto_renewing", notice_period_days=30)
        add(s, 7, 200, "EUR", "700", term_model="auto_renewing", notice_period_days=30)
        lapsed = add(s, 8, -10, "JPY", "300")
        s.flush()
        _stage(s, lapsed, "lapsed")

    async with _browser(p, "procurement") as http:
        r = await http.get("/exposure")
        assert r.status_code == 200
        text = r.text
        # Sums per currency, never across currencies.
        en = translator("en")
        cells = re.findall(r'<td class="num">([^<]+)<br>', text)
        chf = [en.money(Decimal(x), "CHF") for x in ("1000000", "3500000.50", "3500000.50")]
        assert [c for c in cells if "CHF" in c] == chf  # 30, 90 and 180 days
        assert [c for c in cells if "£" in c] == [en.money(Decimal("1200.25"), "GBP")]
        # The auto-renewing one 50 days away; the one 200 days away is beyond every window.
        assert [c for c in cells if "€" in c] == [en.money(Decimal("700"), "EUR")] * 2
        assert f'href="/contracts/{rolling}"' in text
        assert f'href="/contracts/X-{tag}-7"' not in text
        assert f'href="/contracts/{lapsed}"' in text
        assert "Will roll over unless you act" in text and "supply at risk" in text

    async with _browser(p, "procurement", "ja") as http:
        r = await http.get("/exposure")
        allowed = [f"X-{tag}-{n}" for n in range(1, 9)] + [f"Exposed {n}" for n in range(1, 9)]
        allowed += [BUYER, "Tokyo Packaging K.K.", "Procurement"]
        assert english_left(_main(r.text), allowed=allowed) == []


def test_exposure_reads_sum_exactly(db_portal: Portal) -> None:
    """The read model adds amounts as decimals, per currency (SQLite keeps them as text)."""
    from store.reads import exposure as exposure_reads

    tag = uuid.uuid4().hex[:8]
    today = date(2031, 1, 1)  # beyond every other test's contracts
    with transaction(db_portal.sessions) as s:
        for n, (days, currency, value) in enumerate(
            [(10, "JPY", "0.10"), (20, "JPY", "0.20"), (85, "USD", "1.005"), (170, "JPY", "5")]
        ):
            end = today + timedelta(days=days)
            register(
                s,
                id=f"E-{tag}-{n}",
                supplier_id=f"S-{tag}",
                owner=BUYER,
                start_date=end - timedelta(days=365),
                end_date=end,
                currency=currency,
                annual_value=Decimal(value),
            )
    with db_portal.sessions() as s:
        found = exposure_reads.exposure(
            s, today=today, policy=RenewalPolicy(), cfg=CalendarSettings()
        )
    by_days = {e.days: e.by_currency for e in found.expiring}
    assert by_days[30]["JPY"] == (Decimal("0.30"), 2) and "USD" not in by_days[30]
    assert by_days[90]["USD"] == (Decimal("1.005"), 1)
    assert by_days[180]["JPY"] == (Decimal("5.30"), 3)


@pytest.mark.parametrize("jurisdiction", ["JP", "US", "DE"])
def test_exposure_send_by_is_the_preview_plans(jurisdiction: str) -> None:
    """The exposure page finds roll-overs by the preview's send-by date without planning each
    contract's milestones: it must be the date the plan itself has, around the year-end
    closure, Golden Week and weekends too."""
    from models.contract import ContractRead
    from store.reads.exposure import preview_send_by
    from store.reads.pipeline_pages import SLACK_DAYS

    cfg = CalendarSettings(closure_days=frozenset({date(2026, 8, 14)}))
    for end in [date(2027, 1, 5) + timedelta(days=d) for d in range(0, 400, 3)]:
        for notice, buffer in [(0, 0), (30, 3), (60, 5), (90, 0), (14, 10), (30, 60), (0, 1)]:
            data = {
                **make_contract(
                    end_date=end,
                    start_date=end - timedelta(days=365),
                    notice_period_days=notice,
                    transit_buffer_days=buffer,
                    jurisdiction=jurisdiction,
                ).model_dump(),
                "current_term": 1,
                "status": "active",
            }
            contract = ContractRead.model_validate(data)
            plan = current_term_plan(
                contract, category=None, today=TODAY, policy=RenewalPolicy(), cfg=cfg
            )
            fast = preview_send_by(
                end_date=end,
                notice_period_days=notice,
                transit_buffer_days=buffer,
                jurisdiction=jurisdiction,
                cfg=cfg,
            )
            assert fast == plan.plan.send_by, (end, notice, buffer)
            # What the sorts' and the exposure query's windows count on: never after the
            # nominal date, and at most store.reads.pipeline.reach days before the end date.
            nominal = end - timedelta(days=notice + buffer)
            slack = SLACK_DAYS + len(cfg.closure_days)
            assert end - timedelta(days=notice + 2 * buffer + slack) <= fast <= nominal
            deadline = plan.plan.notice_deadline
            assert end - timedelta(days=notice + slack) <= deadline <= end
