"""Imports and exports through the API, on SQLite and PostgreSQL: all or nothing, every
problem with row, field and reason, and deliberate handling of malformed files."""

import csv
import io
import json
import uuid

import pytest
from sqlalchemy import func, select

from models.tables import ContractRow, DeliveryRow, MarketIndicatorRow, SupplierRow
from store import users
from store.db import transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal

CSV = {"content-type": "text/csv"}

CONTRACT_HEADER = (
    "id,title,supplier_id,owner,start_date,end_date,notice_period_days,currency,"
    "annual_value,unit_price\n"
)


def _sid() -> str:
    return f"S-{uuid.uuid4().hex[:8]}"


async def _import(p: Portal, kind: str, body: bytes | str, who: str = "procurement", **params):
    content = body.encode("utf-8") if isinstance(body, str) else body
    headers = {**p.auth(who), **CSV}
    if isinstance(body, str) and body.lstrip().startswith("["):
        headers["content-type"] = "application/json"
    return await p.http.post(
        f"/api/v1/imports/{kind}", content=content, headers=headers, params=params
    )


def _lead(p: Portal) -> str:
    """A procurement lead with an API token (ownership: a lead changes any supplier)."""
    name = "lead@example.com"
    with transaction(p.sessions) as s:
        if not users.account_exists(s, username=name):
            users.create_user(s, username=name, display_name="Lead", roles="procurement_lead")
        p.tokens["lead"] = users.issue_token(s, username=name, name="tests").secret
    return "lead"


def _count(p: Portal, table, *where) -> int:
    with transaction(p.sessions) as s:
        return s.scalar(select(func.count()).select_from(table).where(*where)) or 0


async def test_suppliers_and_contracts_round_trip(db_portal: Portal) -> None:
    p = db_portal
    sid = _sid()
    ok = await _import(p, "suppliers", f'\ufeffid,name,category\n{sid},=HYPERLINK("x"),office\n')
    assert ok.status_code == 200, ok.text
    assert ok.json()["inserted"] == 1
    cid = f"C-{uuid.uuid4().hex[:8]}"
    contracts = (
        CONTRACT_HEADER
        + f"{cid},+Paper @ 10%,{sid},{p.username('procurement')},"
        + "2026-01-01,2027-01-01,30,JPY,1000,10.5\n"
    )
    created = await _import(p, "contracts", contracts)
    assert created.status_code == 200, created.text

    exported = await p.http.get("/api/v1/exports/suppliers", headers=p.auth("procurement"))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    mine = next(r for r in rows if r[0] == sid)
    assert mine[1] == '\'=HYPERLINK("x")'  # a spreadsheet shows text, runs nothing

    contract_csv = (await p.http.get("/api/v1/exports/contracts", headers=p.auth("admin"))).text
    line = next(r for r in csv.reader(io.StringIO(contract_csv)) if r[0] == cid)
    assert "'+Paper @ 10%" in line  # a title a spreadsheet would evaluate

    # The exported supplier file imports back unchanged (the apostrophe is undone). It holds
    # every stored supplier, most of them on others' contracts: a procurement lead's file.
    again = await _import(p, "suppliers", exported.text, who=_lead(p))
    assert again.status_code == 200, again.text
    with transaction(p.sessions) as s:
        assert s.get(SupplierRow, sid).name == '=HYPERLINK("x")'  # type: ignore[union-attr]

    as_json = await p.http.get(
        "/api/v1/exports/contracts", params={"format": "json"}, headers=p.auth("procurement")
    )
    assert any(c["id"] == cid and c["unit_price"] in ("10.5", "10.5000") for c in as_json.json())


async def test_bad_rows_are_all_reported_and_nothing_is_written(db_portal: Portal) -> None:
    p = db_portal
    sid = _sid()
    me = p.username("procurement")  # an account: only the faults below are refused
    await _import(p, "suppliers", f"id,name\n{sid},Tokyo Paper\n")
    good = f"C-{uuid.uuid4().hex[:8]}"
    body = (
        CONTRACT_HEADER
        + f"{good},Fine,{sid},{me},2026-01-01,2027-01-01,30,JPY,1000,10\n"
        + f"C-bad1,Title,{sid},{me},2026-01-01,2025-01-01,30,JPY,1000,10\n"  # ends before start
        + f"C-bad2,Ti\u202etle,{sid},{me},2026-01-01,2027-01-01,30,XXX,1000,10\n"  # bidi; XXX
        + f"C-bad3,Title,NOPE,{me},2026-01-01,2027-01-01,30,JPY,1000,10\n"  # unknown supplier
        + f"C-bad4,Title,{sid},{me},2026-01-01,2027-01-01,30\n"  # ragged
        + f"{good},Twice,{sid},{me},2026-01-01,2027-01-01,30,JPY,1000,10\n"  # repeated id
    )
    r = await _import(p, "contracts", body)
    assert r.status_code == 422
    problems = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert (3, "end_date") in problems
    assert (4, "title") in problems and (4, "currency") in problems
    assert (5, "supplier_id") in problems
    assert (6, "(row)") in problems
    assert (7, "id") in problems
    assert _count(p, ContractRow, ContractRow.id == good) == 0  # nothing partial


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ("id,name\r\nS-x,caf\xe9\r\n".encode("latin-1"), "(file)", "not UTF-8"),
        ("id,name\nS-x,a\n".encode("utf-16"), "(file)", "UTF-16"),
        (b"id,name\nS-x,a\x00b\n", "(file)", "NUL"),
        (b"id,name,colour\nS-x,a,red\n", "colour", "unknown column"),
        (b"id,id,name\nS-x,S-x,a\n", "id", "twice"),
        (b"name\nfoo\n", "id", "required column is missing"),
        (b'id,name\nS-x,"unterminated\n', "(file)", "malformed CSV"),
        (b"", "(header)", "empty"),
        (b"id,name\nS-x," + b"a" * 10_001 + b"\n", "name", "at most 10000"),
        (b"id,name\nS-x," + b"a" * 201 + b"\n", "name", "at most 200"),
    ],
)
async def test_malformed_files_are_refused_deliberately(
    db_portal: Portal, raw: bytes, field: str, reason: str
) -> None:
    before = _count(db_portal, SupplierRow)
    r = await _import(db_portal, "suppliers", raw)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["field"] == field and reason in e["reason"] for e in errors), errors
    assert _count(db_portal, SupplierRow) == before


async def test_json_imports_performance_and_market(db_portal: Portal) -> None:
    p = db_portal
    sid = _sid()
    cid = f"C-{uuid.uuid4().hex[:8]}"
    await _import(p, "suppliers", f"id,name,category\n{sid},Ink Co,ink-{sid}\n")
    contract = await _import(
        p,
        "contracts",
        CONTRACT_HEADER
        + f"{cid},Ink,{sid},{p.username('procurement')},2026-01-01,2027-01-01,30,JPY,1,1\n",
    )
    assert contract.status_code == 200, contract.text  # the buyer's own contract
    deliveries = [
        {
            "supplier_id": sid,
            "contract_id": cid,
            "reference": f"DN-{i}",
            "order_date": "2026-02-01",
            "promised_date": "2026-02-10",
            "delivered_date": "2026-02-11",
            "quantity_ordered": 10,
            "quantity_accepted": 9,
        }
        for i in range(3)
    ]
    r = await _import(p, "deliveries", json.dumps(deliveries))
    assert r.status_code == 200, r.text
    assert _count(p, DeliveryRow, DeliveryRow.contract_id == cid) == 3
    # Re-importing the same delivery notes is refused row by row.
    dup = await _import(p, "deliveries", json.dumps(deliveries[:1]))
    assert dup.status_code == 422
    assert dup.json()["errors"][0] == {
        "field": "reference",
        "reason": f"'DN-0' is already stored for contract {cid!r} (imported before?)",
        "row": 1,
    }
    wrong = [{**deliveries[0], "reference": "DN-9", "delivered_date": "2026-01-01"}]
    bad = await _import(p, "deliveries", json.dumps(wrong))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "delivered_date"

    ticket = (
        "supplier_id,contract_id,reference,opened_at,first_response_at,"
        "response_sla_minutes,resolution_sla_minutes\n"
        f"{sid},{cid},T-1,2026-03-01 09:00,2026-03-01 09:30,60,480\n"
    )
    no_tz = await _import(p, "service-tickets", ticket)
    assert no_tz.status_code == 422
    assert {e["field"] for e in no_tz.json()["errors"]} == {"opened_at", "first_response_at"}
    with_tz = await _import(p, "service-tickets", ticket, timezone="Asia/Tokyo")
    assert with_tz.status_code == 200, with_tz.text

    market = f"category,period,price_index\nink-{sid},2026-03,101.5\nink-{sid},2026-13,99\n"
    m = await _import(p, "market-indicators", market)
    assert m.status_code == 422 and m.json()["errors"][0] == {
        "field": "period",
        "reason": "'2026-13' is not a valid month",
        "row": 3,
    }
    m = await _import(
        p,
        "market-indicators",
        market.splitlines(keepends=True)[0] + market.splitlines(keepends=True)[1],
    )
    assert m.status_code == 200 and m.json()["inserted"] == 1
    assert _count(p, MarketIndicatorRow, MarketIndicatorRow.category == f"ink-{sid}") == 1

    dry = await _import(p, "suppliers", f"id,name\n{_sid()},Dry\n", dry_run="true")
    assert dry.status_code == 200 and dry.json()["dry_run"] is True


async def test_wrong_media_type_and_oversize_body(db_portal: Portal) -> None:
    p = db_portal
    r = await p.http.post(
        "/api/v1/imports/suppliers",
        content=b"<xml/>",
        headers={**p.auth("procurement"), "content-type": "application/xml"},
    )
    assert r.status_code == 415 and r.json()["errors"][0]["field"] == "content-type"
    huge = b"id,name\n" + b"S-1,x\n" * (p.app.state.portal.web.max_upload_bytes // 6 + 1)
    r = await _import(p, "suppliers", huge)
    assert r.status_code == 413
