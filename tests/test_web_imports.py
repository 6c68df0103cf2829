"""The imports page (issue 16), on SQLite and PostgreSQL: a dry run shows every contract's
preview calendar (the dates services.plans.plan_contracts gives) and stores nothing; confirm
stores all rows; a bad row is shown as row, field and reason and cannot be confirmed; a
tampered confirm is refused; bad files are refused next to the file field; both languages."""

import base64
import hashlib
import json
import re
import uuid
from html import unescape

import httpx
import pytest
from sqlalchemy import func, select

from models.contract import ContractCreate
from models.errors import DuplicateContract
from models.tables import AuditLogRow, ContractRow, SupplierRow
from portal.deps import SESSION_COOKIE
from services import imports as file_import
from services.imports import CONTRACT_LAYOUT, LAYOUTS, parse_model, read_csv, validate_records
from services.plans import as_read, plan_contracts
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal
from tests.web_i18n_helpers import english_left
from web import imports as web_imports

HEADER = (
    "id,title,supplier_id,owner,start_date,end_date,notice_period_days,currency,"
    "annual_value,unit_price\n"
)


# The columns a file's header names: the file's own vocabulary, listed on the page as typed.
COLUMNS = sorted({c for layout in LAYOUTS.values() for c in layout.columns}, key=len)


def _browser(p: Portal, who: str = "procurement", lang: str = "en") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
        headers={"Accept-Language": lang},
    )


def _supplier(p: Portal) -> str:
    sid = f"S-{uuid.uuid4().hex[:8]}"
    with transaction(p.sessions) as s:
        register(s, id=f"C-{uuid.uuid4().hex[:8]}", supplier_id=sid)
    return sid


def _contracts(p: Portal, sid: str, n: int = 2) -> tuple[list[str], str]:
    ids = [f"C-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    owner = p.username("procurement")
    rows = "".join(
        f"{cid},Paper {i},{sid},{owner},2026-01-01,2027-0{i + 3}-28,30,JPY,1000,10.5\n"
        for i, cid in enumerate(ids)
    )
    return ids, HEADER + rows


def _stored(p: Portal, ids: list[str]) -> int:
    with transaction(p.sessions) as s:
        return (
            s.scalar(select(func.count()).select_from(ContractRow).where(ContractRow.id.in_(ids)))
            or 0
        )


async def _dry_run(
    http: httpx.AsyncClient,
    p: Portal,
    body: bytes,
    *,
    name: str = "contracts.csv",
    kind: str = "contracts",
    media: str = "text/csv",
    who: str = "procurement",
) -> httpx.Response:
    return await http.post(
        "/imports",
        data={"csrf_token": p.cookies[who][1], "kind": kind, "time_zone": ""},
        files={"file": (name, body, media)},
    )


def _hidden(html: str) -> dict[str, str]:
    form = html[html.index('action="/imports/confirm"') :]
    return {
        m[1]: unescape(m[2])
        for m in re.finditer(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', form)
    }


async def test_dry_run_shows_the_plans_and_stores_nothing_then_confirm_stores_all(
    db_portal: Portal,
) -> None:
    p = db_portal
    sid = _supplier(p)
    ids, body = _contracts(p, sid)
    async with _browser(p) as http:
        form = await http.get("/imports")
        assert form.status_code == 200
        assert 'enctype="multipart/form-data"' in form.text and '<label for="file">' in form.text
        page = await _dry_run(http, p, body.encode())
        assert page.status_code == 200, page.text
        assert _stored(p, ids) == 0  # a dry run stores nothing

        # Every row's plan: the dates the workflow's plan function gives, as the API previews.
        state = p.app.state.portal
        today = state.today()
        # The file read as `renewals plan --file` reads it, then planned as the API previews.
        records, _ = read_csv(body, CONTRACT_LAYOUT)
        valid, problems = validate_records(records, parse_model(ContractCreate), file_format="csv")
        assert not problems and len(valid) == 2
        parsed = [as_read(v.value, today=today) for v in valid]
        expected = plan_contracts(
            parsed,
            today=today,
            cfg=state.settings.calendar_settings,
            policy=state.settings.renewal_policy,
        )
        for planned in expected:
            row = page.text[page.text.index(f'data-contract="{planned.contract.id}"') :]
            row = row[: row.index("</tr>")]
            shown = dict(re.findall(r'data-milestone="(\w+)"><time datetime="([0-9-]+)"', row))
            plan = planned.shown
            want = {m.kind.value: m.due.isoformat() for m in plan.milestones}
            want.pop("send_by", None)
            want.pop("expiry", None)
            want["notice_deadline"] = plan.notice_deadline.isoformat()
            want["expiry"] = plan.end_date.isoformat()
            if plan.send_by:
                want["send_by"] = plan.send_by.isoformat()
            assert shown == want
        assert "Confirm and store all rows" in page.text

        fields = _hidden(page.text)
        assert fields["sha256"] in page.text  # the hash is shown, not only carried
        done = await http.post("/imports/confirm", data=fields)
        assert done.status_code == 200, done.text
        assert 'class="inserted">2<' in done.text
        assert _stored(p, ids) == 2
    with transaction(p.sessions) as s:
        entry = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.action == "import")
            .order_by(AuditLogRow.id.desc())
        ).first()
        assert entry is not None and entry.detail["via"] == "web"
        assert entry.detail["inserted"] == 2


async def test_a_bad_row_is_shown_and_cannot_be_confirmed(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p)
    ids, body = _contracts(p, sid)
    bad = body.replace(",JPY,1000,", ",JPY,lots,", 1)  # row 2: the first data row
    async with _browser(p) as http:
        page = await _dry_run(http, p, bad.encode())
        assert page.status_code == 422
        table = page.text[page.text.index('class="grid errors"') :]
        table = table[: table.index("</table>")]
        cells = re.findall(
            r"<tr>\s*<th scope=\"row\" class=\"num\">(\d+)</th>\s*<td><code>(\w+)", table
        )
        assert ("2", "annual_value") in cells
        assert "/imports/confirm" not in page.text  # no confirm form
        assert _stored(p, ids) == 0


async def test_a_tampered_confirm_is_refused(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p)
    ids, body = _contracts(p, sid)
    async with _browser(p) as http:
        page = await _dry_run(http, p, body.encode())
        fields = _hidden(page.text)
        # Another file in the same field, its hash recomputed: the seal no longer matches.
        other = body.replace("Paper 0", "Paper X").encode()
        forged = {
            **fields,
            "content": base64.b64encode(other).decode(),
            "sha256": hashlib.sha256(other).hexdigest(),
        }
        refused = await http.post("/imports/confirm", data=forged)
        assert refused.status_code == 422
        assert "nothing was stored" in refused.text
        changed = {**fields, "content": base64.b64encode(other).decode()}
        assert (await http.post("/imports/confirm", data=changed)).status_code == 422
        no_token = {**fields, "csrf_token": "x"}
        assert (await http.post("/imports/confirm", data=no_token)).status_code == 403
        assert _stored(p, ids) == 0


async def test_bad_files_are_refused_next_to_the_file_field(db_portal: Portal) -> None:
    p = db_portal
    async with _browser(p) as http:
        for name, content, media in (
            ("contracts.txt", b"id\n", "application/octet-stream"),  # wrong format
            ("contracts.csv", "id,title\n契約,x\n".encode("cp932"), "text/csv"),  # encoding
            ("contracts.csv", b"id,title\nC-1,x\n", "text/csv"),  # missing columns
        ):
            page = await _dry_run(http, p, content, name=name, media=media)
            assert page.status_code == 422, name
            assert 'id="file-error"' in page.text
            assert 'aria-describedby="file-hint file-error" aria-invalid="true"' in page.text
        big = b"x" * (p.app.state.portal.web.max_upload_bytes + 1)
        page = await _dry_run(http, p, big)
        assert page.status_code == 422 and 'id="file-error"' in page.text
        forbidden = await http.post(
            "/imports",
            data={"csrf_token": "wrong", "kind": "contracts"},
            files={"file": ("c.csv", b"id\n", "text/csv")},
        )
        assert forbidden.status_code == 403


async def test_json_import_and_japanese_pages(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p)
    cid = f"C-{uuid.uuid4().hex[:8]}"
    rows = [
        {
            "id": cid,
            "title": "印刷用紙",
            "supplier_id": sid,
            "owner": p.username("procurement"),
            "start_date": "2026-01-01",
            "end_date": "2027-06-30",
            "notice_period_days": 60,
            "currency": "JPY",
            "annual_value": 5000,
            "unit_price": 12,
        }
    ]
    async with _browser(p, lang="ja") as http:
        form = await http.get("/imports")
        assert form.headers["content-language"] == "ja"
        assert english_left(form.text, allowed=COLUMNS) == []
        page = await _dry_run(
            http,
            p,
            json.dumps(rows, ensure_ascii=False).encode(),
            name="contracts.json",
            media="application/json",
        )
        assert page.status_code == 200, page.text
        digest = _hidden(page.text)["sha256"]
        assert (
            english_left(page.text, allowed=[*COLUMNS, cid, "印刷用紙", "contracts.json", digest])
            == []
        )
        done = await http.post("/imports/confirm", data=_hidden(page.text))
        assert done.status_code == 200
        assert english_left(done.text, allowed=["contracts.json", digest]) == []
        assert _stored(p, [cid]) == 1
        # Suppliers, another kind, through the same page.
        new = f"S-{uuid.uuid4().hex[:8]}"
        page = await _dry_run(
            http, p, f"id,name\n{new},Kobe Paper\n".encode(), name="s.csv", kind="suppliers"
        )
        assert page.status_code == 200
        assert (await http.post("/imports/confirm", data=_hidden(page.text))).status_code == 200
    with transaction(p.sessions) as s:
        assert s.get(SupplierRow, new) is not None


async def test_problems_read_in_japanese(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p)
    ids, body = _contracts(p, sid)
    bad = body.replace(",JPY,1000,", ",JPY,lots,", 1).replace(sid, "S-nobody", 2)
    async with _browser(p, lang="ja") as http:
        page = await _dry_run(http, p, bad.encode())
        assert page.status_code == 422
        assert "数値で入力してください" in page.text
        assert "取引先 S-nobody は登録されていません" in page.text
        digest = hashlib.sha256(bad.encode()).hexdigest()
        allowed = [*ids, "S-nobody", "Paper 0", "Paper 1", "contracts.csv", digest]
        assert english_left(page.text, allowed=[*allowed, *COLUMNS]) == []
        sjis = await _dry_run(http, p, "id,title\n契約,x\n".encode("cp932"))
        assert sjis.status_code == 422 and "Shift_JIS" in sjis.text
        assert english_left(sjis.text, allowed=["Shift_JIS", "UTF-8", *COLUMNS]) == []
        missing = await _dry_run(http, p, b"id,title\nC-1,x\n")
        assert missing.status_code == 422 and "必須の列がありません" in missing.text
    assert _stored(p, ids) == 0


async def test_a_confirm_the_database_overtook_is_refused_and_stores_nothing(
    db_portal: Portal,
) -> None:
    p = db_portal
    sid = _supplier(p)
    ids, body = _contracts(p, sid)
    async with _browser(p) as http:
        page = await _dry_run(http, p, body.encode())
        fields = _hidden(page.text)
        # Someone registers the second contract between the dry run and the confirm.
        with transaction(p.sessions) as s:
            register(s, id=ids[1], supplier_id=sid)
        refused = await http.post("/imports/confirm", data=fields)
        assert refused.status_code == 422
        assert "the stored data changed since its dry run" in refused.text
        assert f"contract {ids[1]!r} already exists" in unescape(refused.text)
        assert "/imports/confirm" not in refused.text
    assert _stored(p, ids[:1]) == 0  # all or nothing: the first row is not stored either


async def test_who_may_import(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p)
    async with _browser(p, who="legal") as http:
        assert (await http.get("/imports")).status_code == 403
        assert (await _dry_run(http, p, b"id\n", who="legal")).status_code == 403
    # A buyer may not register a contract for someone else: the rows are refused, by row.
    cid = f"C-{uuid.uuid4().hex[:8]}"
    other = (
        HEADER + f"{cid},Ink,{sid},{p.username('legal')},2026-01-01,2027-03-28,30,JPY,1000,10.5\n"
    )
    async with _browser(p) as http:
        page = await _dry_run(http, p, other.encode())
        assert page.status_code == 422
        assert "Some rows are about contracts you may not change." in page.text
        assert "/imports/confirm" not in page.text
    assert _stored(p, [cid]) == 0


async def test_a_row_stored_meanwhile_by_someone_else_is_a_refusal_not_an_error_page(
    db_portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = db_portal
    sid = _supplier(p)
    ids, body = _contracts(p, sid)
    async with _browser(p) as http:
        fields = _hidden((await _dry_run(http, p, body.encode())).text)

        def overtaken(*_args: object, **_kwargs: object) -> None:
            # What the database says when another import registered the id between the
            # service's checks and its insert.
            raise DuplicateContract(ids[0], row=2)

        monkeypatch.setattr(file_import, "import_records", overtaken)
        refused = await http.post("/imports/confirm", data=fields)
        assert refused.status_code == 422
        assert "nothing was stored" in refused.text
        assert f"contract {ids[0]!r} already exists" in unescape(refused.text)
    assert _stored(p, ids) == 0


async def test_a_long_file_previews_its_first_rows_and_checks_them_all(
    db_portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = db_portal
    monkeypatch.setattr(web_imports, "PREVIEW_ROWS", 2)
    sid = _supplier(p)
    ids, body = _contracts(p, sid, n=3)
    async with _browser(p) as http:
        page = await _dry_run(http, p, body.encode())
        assert page.status_code == 200
        assert page.text.count("<tr data-contract=") == 2
        assert "The preview shows the first 2 of the 3 contracts" in page.text
        assert "All 3 row(s) pass every check." in page.text
        done = await http.post("/imports/confirm", data=_hidden(page.text))
        assert 'class="inserted">3<' in done.text
    assert _stored(p, ids) == 3
