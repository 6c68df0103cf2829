"""The supplier pages (issue 16), on SQLite and PostgreSQL: the list with contracts count and
latest score; a supplier with scorecards stored for two terms shows both in the SVG chart and in
the table, each KPI with its score and evidence; its contracts; no follow-up actions yet; 404
for an unknown supplier; both languages."""

import re
import uuid
from datetime import date
from decimal import Decimal

import httpx

from models.scorecard import KpiScore, Recommendation, Scorecard, Trend
from models.tables import ContractRow, RenewalRow, ScorecardRow
from portal.deps import SESSION_COOKIE
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal
from tests.web_i18n_helpers import english_left

NAME = "Tokyo Packaging K.K."  # what tests.factories.register names a new supplier


def _browser(p: Portal, who: str = "procurement", lang: str = "en") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
        headers={"Accept-Language": lang},
    )


def _card(cid: str, term: int, end: date, total: str, on_time: str | None) -> Scorecard:
    kpis = (
        KpiScore(
            name="on_time_delivery",
            score=Decimal(on_time) if on_time else None,
            weight=Decimal("0.35"),
            evidence=f"term {term}: deliveries on time",
            evidence_ja=f"第{term}期: 納期どおりの納品",
            records=12,
        ),
        KpiScore(
            name="quality",
            score=Decimal("80"),
            weight=Decimal("0.30"),
            evidence=f"term {term}: accepted lots",
            evidence_ja=f"第{term}期: 合格ロット",
            records=12,
        ),
        KpiScore(name="responsiveness", score=None, weight=Decimal("0.20"), evidence="none"),
        KpiScore(
            name="cost_performance",
            score=Decimal("70"),
            weight=Decimal("0.15"),
            evidence="price",
            evidence_ja="価格",
            records=2,
        ),
    )
    return Scorecard(
        contract_id=cid,
        term=term,
        period_start=date(end.year - 1, end.month, end.day),
        period_end=end,
        kpis=kpis,
        total=Decimal(total),
        grade="B",
        recommendation=Recommendation.RENEGOTIATE,
        reasons=(),
        trend=Trend.STABLE if term > 1 else None,
    )


def _supplier_with_two_terms(p: Portal) -> tuple[str, str]:
    sid = f"S-{uuid.uuid4().hex[:8]}"
    cid = f"C-{uuid.uuid4().hex[:8]}"
    with transaction(p.sessions) as s:
        register(s, id=cid, supplier_id=sid)
        for term, end, total, on_time in (
            (1, date(2025, 3, 31), "72.5", "91.0"),
            (2, date(2026, 3, 31), "64.4", None),
        ):
            renewal = RenewalRow(
                contract_id=cid,
                term=term,
                workflow_id=f"renewal-{cid}-{term}",
                requested_by="buyer@example.com",
                term_end_date=end,
                stage="facts_gathered",
            )
            s.add(renewal)
            s.flush()
            card = _card(cid, term, end, total, on_time)
            s.add(
                ScorecardRow(
                    renewal_id=renewal.id,
                    total=card.total,
                    grade=card.grade,
                    recommendation=card.recommendation.value,
                    body=card.model_dump(mode="json"),
                )
            )
    return sid, cid


async def test_supplier_page_shows_two_terms_in_the_chart_and_the_table(
    db_portal: Portal,
) -> None:
    p = db_portal
    sid, cid = _supplier_with_two_terms(p)
    async with _browser(p) as http:
        listed = await http.get("/suppliers", params={"offset": 0})
        assert listed.status_code == 200
        # Suppliers are listed by id: find this one's page of the list.
        page = await http.get(f"/suppliers/{sid}")
        assert page.status_code == 200, page.text
        html = page.text
        svg = html[html.index('<svg class="chart scores"') : html.index("</svg>")]
        assert 'role="img"' in svg and 'aria-labelledby="chart-title"' in svg
        # Two groups, each labelled by its term, with bars for the scores that exist.
        assert ">Term 1</text>" in svg and ">Term 2</text>" in svg
        bars = re.findall(r'<rect class="bar s-(\w+)"[^>]*height="(\d+)"><title>([^<]*)', svg)
        titles = [t for _, _, t in bars]
        assert any("Term 1" in t and "Weighted total 72.5" in t for t in titles)
        assert any("Term 2" in t and "Weighted total 64.4" in t for t in titles)
        assert any("Term 1" in t and "On-time delivery 91.0" in t for t in titles)
        # Term 2's on-time delivery had too little data: no bar, never a bar of 0.
        assert not any("Term 2" in t and "On-time delivery" in t for t in titles)
        assert ("total", "145") in [(s, h) for s, h, _ in bars]  # 72.5 of 200 px
        table = html[html.index('<table class="grid scores">') :]
        table = table[: table.index("</table>")]
        assert '<th scope="row">Term 1</th>' in table and '<th scope="row">Term 2</th>' in table
        assert "72.5" in table and "64.4" in table and "insufficient data" in table
        assert "term 1: deliveries on time" in html and "term 2: accepted lots" in html
        assert f'href="/contracts/{cid}"' in html
        assert "No follow-up actions recorded." in html
        missing = await http.get("/suppliers/S-nobody")
        assert missing.status_code == 404
        assert "<dt>Contracts</dt><dd>1</dd>" in html

        everyone = await http.get("/suppliers", params={"offset": 0})
        offset = 0
        while f'href="/suppliers/{sid}"' not in everyone.text:
            offset += 50
            everyone = await http.get("/suppliers", params={"offset": offset})
            assert everyone.status_code == 200 and offset < 5000
        row = everyone.text[everyone.text.index(f'href="/suppliers/{sid}"') :]
        row = row[: row.index("</tr>")]
        assert "64.4 (B)" in row  # the newest scorecard's total


async def test_supplier_pages_in_japanese(db_portal: Portal) -> None:
    p = db_portal
    sid, cid = _supplier_with_two_terms(p)
    async with _browser(p, lang="ja") as http:
        page = await http.get(f"/suppliers/{sid}")
        assert page.status_code == 200
        assert page.headers["content-language"] == "ja"
        assert ">第1期</text>" in page.text and ">第2期</text>" in page.text
        assert "第1期: 納期どおりの納品" in page.text
        assert "記録されたフォローアップはありません。" in page.text
        with transaction(p.sessions) as s:
            contract = s.get(ContractRow, cid)
            assert contract is not None
            typed = [contract.title, contract.owner]
        allowed = [sid, cid, NAME, *typed, "general", "JP"]
        assert english_left(page.text, allowed=allowed) == []
        listed = await http.get("/suppliers")
        assert listed.status_code == 200
        names = re.findall(r'<a href="/suppliers/[^"]+">([^<]*)</a>', listed.text)
        ids = re.findall(r'<span class="muted small">([^<]*)</span>', listed.text)
        categories = re.findall(r"</th>\s*<td>([^<]*)</td>", listed.text)
        assert english_left(listed.text, allowed=[*names, *ids, *categories]) == []


async def test_a_scorecard_without_any_score_says_so_in_the_chart(db_portal: Portal) -> None:
    p = db_portal
    sid = f"S-{uuid.uuid4().hex[:8]}"
    cid = f"C-{uuid.uuid4().hex[:8]}"
    with transaction(p.sessions) as s:
        register(s, id=cid, supplier_id=sid)
        renewal = RenewalRow(
            contract_id=cid,
            term=1,
            workflow_id=f"renewal-{cid}-1",
            requested_by="buyer@example.com",
            term_end_date=date(2026, 3, 31),
            stage="facts_gathered",
        )
        s.add(renewal)
        s.flush()
        card = _card(cid, 1, date(2026, 3, 31), "0", None).model_copy(
            update={"total": None, "grade": None, "kpis": ()}
        )
        s.add(
            ScorecardRow(
                renewal_id=renewal.id,
                total=None,
                grade=None,
                recommendation=card.recommendation.value,
                body=card.model_dump(mode="json"),
            )
        )
    async with _browser(p) as http:
        page = await http.get(f"/suppliers/{sid}")
        svg = page.text[page.text.index('<svg class="chart scores"') : page.text.index("</svg>")]
        assert '<rect class="bar' not in svg
        assert 'class="none"' in svg and ">insufficient data</text>" in svg


async def test_who_may_read_the_supplier_pages(db_portal: Portal) -> None:
    p = db_portal
    sid, _ = _supplier_with_two_terms(p)
    async with _browser(p, who="legal") as http:  # legal reads contracts and suppliers
        assert (await http.get(f"/suppliers/{sid}")).status_code == 200
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=p.app), base_url="http://t")
    async with anonymous as http:
        signed_out = await http.get(f"/suppliers/{sid}")
        assert signed_out.status_code == 303 and "/login" in signed_out.headers["location"]
