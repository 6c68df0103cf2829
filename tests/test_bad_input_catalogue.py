"""A catalogue of bad (and awkward but good) contract files, through both import entry points:
the API (``POST /api/v1/imports/contracts``, :mod:`api.routers.imports`) and the CLI
(``renewals contracts import FILE``, :mod:`cli.contract_commands`). Both read, check and store
through :mod:`services.imports`, but each wraps it differently (HTTP problem details and an
upload limit; a path, a file name in every message and an exit code), so every case runs
through both.

Every bad case must be refused with a clear error naming its row and field, and leave the
database exactly as it was (row count and a checksum of the whole ``contracts`` table). Every
good case must be stored with exactly the values in the file. Each case is its own test id:
``<case>[api]`` and ``<case>[cli]``.
"""

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli_app
from config.settings import Settings, get_settings
from migrations.runner import upgrade
from models.tables import ContractRow
from portal.config import WebSettings
from services.imports import MAX_BYTES
from store import users
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.factories import register

SUPPLIER = "S-CAT"
STORED_ID = "CAT-STORED-1"  # registered before any case runs

# ---------------------------------------------------------------------------- file builders


def good_row(cid: str, **overrides: str) -> dict[str, str]:
    values = {
        "id": cid,
        "title": "Packaging materials",
        "supplier_id": SUPPLIER,
        "owner": "buyer@example.com",
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "auto_renewal": "false",
        "notice_period_days": "30",
        "renewal_term_months": "12",
        "currency": "JPY",
        "annual_value": "12000000",
        "unit_price": "1250.50",
        "annual_volume": "9600",
        "exclusivity": "true",
        "payment_terms": "Net 60",
        "price_adjustment": "",
        "service_levels": "",
        "language": "en",
    }
    values.update(overrides)
    return values


# The columns of the example contract files, in their order.
COLUMNS = tuple(good_row("C-1"))


def csv_text(rows: Sequence[dict[str, str] | None], columns: Sequence[str] = COLUMNS) -> str:
    """A CSV as Excel writes it (CRLF, quoted where needed); None is a blank line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for r in rows:
        if r is None:
            buffer.write("\r\n")
        else:
            writer.writerow([r.get(c, "") for c in columns])
    return buffer.getvalue()


def one(**overrides: str) -> Callable[[str], bytes]:
    """A file of one otherwise good row with ``overrides``."""
    return lambda uid: csv_text([good_row(f"{uid}-1", **overrides)]).encode("utf-8")


def today() -> date:
    return date.today()


# ---------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Refused:
    row: int | None  # None: a problem with the file as a whole that has no row (its size)
    field: str
    reason: str  # a fragment of the reason
    status: int = 422  # the API's answer


@dataclass(frozen=True)
class Accepted:
    """Stored: ``expect`` maps contract id suffix -> column -> the value the row must hold."""

    expect: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    body: Callable[[str], bytes]  # unique id prefix -> the file
    outcome: Refused | Accepted
    json: bool = False  # a JSON file rather than CSV
    bug: str | None = None  # a product bug this case shows: expected to fail until fixed


JAPANESE = {
    "title": "包装資材 年間供給契約（東京・大阪）",
    "owner": "yamada.taro@example.co.jp",  # an owner is one e-mail address, in any language
    "payment_terms": "月末締め翌月末払い",
    "price_adjustment": "原材料指数に連動し、年1回・上限３％まで改定する。",
    "service_levels": "納期遵守率 98 % 以上\n不良率 0.5 % 以下",
}
MIXED = {
    "title": "Verpackung ÄÖÜß / Упаковка / Συσκευασία / 포장 / 包装 📦",
    "owner": "jose.alvarez@example.es",
    "payment_terms": "Net 30 — 30日以内",
    "service_levels": "مستوى الخدمة 98 % / שירות 98 %",  # RTL scripts, no control characters
}
# The owner stays buyer@example.com: an owner is a user's name, which starts with a letter or
# digit, so it can never begin like a formula; every other text field here does.
FORMULAS = {
    "title": '=HYPERLINK("http://evil.example/","click")',
    "payment_terms": "+81 3 1234 5678",
    "price_adjustment": "-2+3 cmd|' /C calc'!A0",
    "service_levels": "@SUM(A1:A9)",
}
# Every owner the catalogue's files name: a contract's owner must be an active account.
OWNERS = ("buyer@example.com", JAPANESE["owner"], MIXED["owner"])


def _two_with_blank_between(uid: str) -> bytes:
    rows = [good_row(f"{uid}-1"), None, good_row(f"{uid}-1")]
    return csv_text(rows).encode()


def _big_file(uid: str) -> bytes:
    head = csv_text([good_row(f"{uid}-1")]).encode()
    return head + b"#" * (MAX_BYTES + 1 - len(head))


def _json(items: list[dict[str, Any]]) -> bytes:
    return json.dumps(items, ensure_ascii=False).encode()


def _json_literal(uid: str, field_name: str, literal: str) -> bytes:
    # Python's json module writes NaN / Infinity as bare literals, which JSON parsers accept.
    item = {k: v for k, v in good_row(f"{uid}-1").items() if v != ""}
    text = _json([item]).decode().replace(f'"{field_name}": "{item[field_name]}"', "__X__")
    return text.replace("__X__", f'"{field_name}": {literal}').encode()


CASES: list[Case] = [
    # ------------------------------------------------------------------ dates
    Case(
        "end-before-start",
        one(start_date="2026-06-01", end_date="2026-01-01"),
        Refused(2, "end_date", "must be after start_date 2026-06-01"),
    ),
    Case(
        "end-equals-start",
        one(start_date="2026-06-01", end_date="2026-06-01"),
        Refused(2, "end_date", "must be after start_date"),
    ),
    Case(
        "feb-29-leap-year",
        one(start_date="2024-02-29", end_date="2028-02-29"),
        Accepted({"1": {"start_date": date(2024, 2, 29), "end_date": date(2028, 2, 29)}}),
    ),
    Case("feb-29-non-leap-year", one(end_date="2027-02-29"), Refused(2, "end_date", "date")),
    Case("feb-29-non-leap-start", one(start_date="2026-02-29"), Refused(2, "start_date", "date")),
    Case("april-31", one(end_date="2027-04-31"), Refused(2, "end_date", "date")),
    Case(
        "month-ends",
        lambda uid: csv_text(
            [
                good_row(f"{uid}-1", end_date="2027-04-30"),
                good_row(f"{uid}-2", start_date="2026-01-31", end_date="2027-12-31"),
            ]
        ).encode(),
        Accepted(
            {
                "1": {"end_date": date(2027, 4, 30)},
                "2": {"start_date": date(2026, 1, 31), "end_date": date(2027, 12, 31)},
            }
        ),
    ),
    Case(
        "already-expired",
        one(start_date="2019-04-01", end_date="2021-03-31"),
        Accepted({"1": {"end_date": date(2021, 3, 31), "current_term": 1, "status": "active"}}),
    ),
    Case(
        "inside-the-6-month-window",
        lambda uid: one(
            start_date=(today() - relativedelta(years=1)).isoformat(),
            end_date=(today() + relativedelta(months=2)).isoformat(),
        )(uid),
        Accepted({"1": {"end_date": today() + relativedelta(months=2)}}),
    ),
    Case("slashed-date", one(end_date="2027/12/31"), Refused(2, "end_date", "date")),
    Case("day-first-date", one(end_date="31.12.2027"), Refused(2, "end_date", "date")),
    Case("japanese-era-date", one(end_date="令和9年12月31日"), Refused(2, "end_date", "date")),
    Case(
        "end-date-missing",
        one(end_date=""),
        Refused(2, "end_date", "required unless term_model is evergreen"),
    ),
    Case(
        "notice-longer-than-term",
        one(start_date="2026-01-01", end_date="2026-02-01", notice_period_days="60"),
        Refused(2, "notice_period_days", "longer than the term"),
    ),
    Case(
        "unix-epoch-zero-as-date",
        one(start_date="0"),
        Refused(2, "start_date", "'0' is not a date (expected YYYY-MM-DD)"),
    ),
    Case(
        # Excel's serial number for 2026-01-01, from a date cell formatted as a number.
        "spreadsheet-serial-date",
        one(end_date="46023"),
        Refused(2, "end_date", "'46023' is not a date (expected YYYY-MM-DD)"),
    ),
    Case(
        "json-number-as-date",
        lambda uid: _json_literal(uid, "start_date", "0"),
        Refused(1, "start_date", "0 is not a date (expected YYYY-MM-DD)"),
        json=True,
    ),
    # ------------------------------------------------------------------ amounts
    Case("negative-value", one(annual_value="-1"), Refused(2, "annual_value", "greater than")),
    Case("negative-price", one(unit_price="-0.01"), Refused(2, "unit_price", "greater than")),
    Case("nan", one(annual_value="NaN"), Refused(2, "annual_value", "finite number")),
    Case("signalling-nan", one(unit_price="sNaN"), Refused(2, "unit_price", "finite number")),
    Case("infinity", one(unit_price="Infinity"), Refused(2, "unit_price", "finite number")),
    Case("minus-infinity", one(annual_value="-inf"), Refused(2, "annual_value", "finite")),
    Case("five-decimals", one(unit_price="1.23456"), Refused(2, "unit_price", "4 decimal places")),
    Case("huge-exponent", one(annual_value="1e30"), Refused(2, "annual_value", "18 digits")),
    Case(
        "nineteen-digits",
        one(annual_value="1234567890123456789"),
        Refused(2, "annual_value", "18 digits"),
    ),
    Case(
        "thousands-separator", one(annual_value="12,000,000"), Refused(2, "annual_value", "decimal")
    ),
    Case(
        "currency-sign-in-amount", one(annual_value="¥12000"), Refused(2, "annual_value", "decimal")
    ),
    Case(
        "largest-exact-amounts",
        one(annual_value="12345678901234.5678", unit_price="99999999999999.9999"),
        Accepted(
            {
                "1": {
                    "annual_value": Decimal("12345678901234.5678"),
                    "unit_price": Decimal("99999999999999.9999"),
                }
            }
        ),
    ),
    Case(
        "full-width-digits",
        one(annual_value="１２０００"),
        Accepted({"1": {"annual_value": Decimal(12000)}}),
    ),
    Case(
        "json-nan-literal",
        lambda uid: _json_literal(uid, "annual_value", "NaN"),
        Refused(1, "annual_value", "finite number"),
        json=True,
    ),
    Case(
        "json-infinity-literal",
        lambda uid: _json_literal(uid, "unit_price", "-Infinity"),
        Refused(1, "terms.unit_price", "finite number"),
        json=True,
    ),
    Case(
        "json-float-too-precise",
        lambda uid: _json_literal(uid, "annual_value", "0.1234567"),
        Refused(1, "annual_value", "4 decimal places"),
        json=True,
    ),
    # ------------------------------------------------------------------ currencies
    Case("unknown-currency", one(currency="XYZ"), Refused(2, "currency", "unknown currency")),
    Case("yen-sign", one(currency="円"), Refused(2, "currency", "unknown currency '円'")),
    Case("dollar-sign", one(currency="US$"), Refused(2, "currency", "unknown currency")),
    Case("no-currency", one(currency=""), Refused(2, "currency", "required")),
    Case("lowercase-currency", one(currency=" eur "), Accepted({"1": {"currency": "EUR"}})),
    # ------------------------------------------------------------------ duplicate ids
    Case(
        "duplicate-id-in-file",
        lambda uid: csv_text([good_row(f"{uid}-1"), good_row(f"{uid}-1")]).encode(),
        Refused(3, "id", "is also on row 2"),
    ),
    Case(
        "duplicate-id-after-trimming",
        lambda uid: csv_text([good_row(f"{uid}-1"), good_row(f"  {uid}-1 ")]).encode(),
        Refused(3, "id", "is also on row 2"),
    ),
    Case(
        "duplicate-id-after-a-blank-row",
        _two_with_blank_between,
        Refused(4, "id", "is also on row 2"),
    ),
    Case(
        "duplicate-of-a-stored-id",
        lambda uid: csv_text([good_row(f"{uid}-1"), good_row(STORED_ID)]).encode(),
        Refused(3, "id", f"contract {STORED_ID!r} already exists"),
    ),
    Case(
        "id-with-spaces-inside",
        one(id="CAT 1"),
        Refused(2, "id", "is not a valid id"),
    ),
    Case(
        "japanese-id",
        one(id="契約-1"),
        Refused(2, "id", "is not a valid id"),
    ),
    # ------------------------------------------------------------------ scripts
    Case(
        "japanese-text",
        lambda uid: csv_text([good_row(f"{uid}-1", language="ja", **JAPANESE)]).encode(),
        Accepted({"1": {**JAPANESE, "language": "ja"}}),
    ),
    Case(
        "mixed-scripts",
        lambda uid: csv_text([good_row(f"{uid}-1", **MIXED)]).encode(),
        Accepted({"1": MIXED}),
    ),
    Case(
        "decomposed-kana-normalised",
        one(title="ハ\u309aッケージ カ\u3099イド"),  # NFD: ha + handakuten, ka + dakuten
        Accepted({"1": {"title": "パッケージ ガイド"}}),
    ),
    # ------------------------------------------------------------------ control characters
    Case(
        "right-to-left-override",
        one(title="Invoice \u202egnp.exe"),
        Refused(2, "title", "bidirectional control character"),
    ),
    Case(
        "left-to-right-isolate",
        one(owner="buyer\u2066@example.com"),
        Refused(2, "owner", "bidirectional control character"),
    ),
    Case(
        "arabic-letter-mark",
        one(payment_terms="Net\u061c 30"),
        Refused(2, "payment_terms", "bidirectional control character"),
    ),
    Case("bell-character", one(title="Paper\x07"), Refused(2, "title", "control character")),
    Case(
        "carriage-return-in-cell",
        one(title="Line one\r\nLine two"),
        Refused(2, "title", "control character U+000D"),
    ),
    # ------------------------------------------------------------------ sizes
    Case("title-201-characters", one(title="x" * 201), Refused(2, "title", "at most 200")),
    Case("id-65-characters", one(id="C" * 65), Refused(2, "id", "at most 64")),
    Case(
        "clause-4001-characters",
        one(price_adjustment="x" * 4001),
        Refused(2, "price_adjustment", "at most 4000"),
    ),
    Case(
        "cell-over-10000-characters",
        one(service_levels="y" * 10_001),
        Refused(2, "service_levels", "at most 10000 are accepted"),
    ),
    Case("file-over-20-mb", _big_file, Refused(None, "(file)", "bytes", status=413)),
    # ------------------------------------------------------------------ encodings
    Case(
        "utf-8-with-bom",
        lambda uid: b"\xef\xbb\xbf" + csv_text([good_row(f"{uid}-1", **JAPANESE)]).encode(),
        Accepted({"1": {"title": JAPANESE["title"]}}),
    ),
    Case(
        "shift-jis",
        lambda uid: csv_text([good_row(f"{uid}-1", **JAPANESE)]).encode("cp932"),
        Refused(2, "(file)", "Shift_JIS"),
    ),
    Case(
        "utf-16-le-with-bom",
        lambda uid: csv_text([good_row(f"{uid}-1")]).encode("utf-16"),
        Refused(1, "(file)", "is UTF-16"),
    ),
    Case(
        "utf-16-be-with-bom",
        lambda uid: b"\xfe\xff" + csv_text([good_row(f"{uid}-1")]).encode("utf-16-be"),
        Refused(1, "(file)", "is UTF-16"),
    ),
    Case(
        "utf-16-le-without-bom",
        lambda uid: csv_text([good_row(f"{uid}-1")]).encode("utf-16-le"),
        Refused(1, "(file)", "NUL"),
    ),
    Case(
        "utf-16-le-without-bom-named",
        lambda uid: csv_text([good_row(f"{uid}-1")]).encode("utf-16-le"),
        Refused(1, "(file)", "UTF-16"),
    ),
    Case(
        "windows-1252",
        lambda uid: csv_text([good_row(f"{uid}-1", title="Café crème")]).encode("cp1252"),
        Refused(2, "(file)", "not UTF-8"),
    ),
    # ------------------------------------------------------------------ structure
    Case(
        "ragged-short-row",
        lambda uid: (csv_text([]) + f"{uid}-1,Paper,{SUPPLIER}\r\n").encode(),
        Refused(2, "(row)", "has 3 cells, the header has 18"),
    ),
    Case(
        "ragged-long-row",
        lambda uid: (csv_text([good_row(f"{uid}-1")])[:-2] + ",surplus\r\n").encode(),
        Refused(2, "(row)", "has 19 cells, the header has 18"),
    ),
    Case(
        "trailing-empty-cells",
        lambda uid: (csv_text([good_row(f"{uid}-1")])[:-2] + ",,\r\n").encode(),
        Accepted({"1": {"title": "Packaging materials"}}),
    ),
    Case(
        "unterminated-quote",
        lambda uid: (csv_text([]) + f'{uid}-1,"Paper,{SUPPLIER}\r\n').encode(),
        Refused(2, "(file)", "malformed CSV"),
    ),
    Case(
        "unknown-column",
        lambda uid: csv_text(
            [{**good_row(f"{uid}-1"), "colour": "red"}], (*COLUMNS, "colour")
        ).encode(),
        Refused(1, "colour", "unknown column"),
    ),
    Case(
        "required-column-missing",
        lambda uid: csv_text(
            [good_row(f"{uid}-1")], tuple(c for c in COLUMNS if c != "currency")
        ).encode(),
        Refused(1, "currency", "required column is missing"),
    ),
    Case(
        "column-twice",
        lambda uid: csv_text([good_row(f"{uid}-1")], (*COLUMNS, "title")).encode(),
        Refused(1, "title", "column appears twice"),
    ),
    Case("empty-file", lambda uid: b"", Refused(1, "(header)", "the file is empty")),
    # ------------------------------------------------------------------ quoted newlines
    Case(
        # Was accepted until issue 14: a title is a mail subject, which ends at the first line
        # break (the rest of the title was lost, or became a header). Titles, supplier names
        # and owners are single-line now; clauses (price_adjustment, service_levels) keep
        # their line breaks.
        "newline-in-quoted-title",
        one(title="Packaging materials\nfor the Osaka plant"),
        Refused(2, "title", "must be a single line"),
    ),
    Case(
        "line-separator-in-title",
        one(title="Packaging materials\u2028for the Osaka plant"),
        Refused(2, "title", "must be a single line"),
    ),
    Case(
        "newline-in-clause",
        one(price_adjustment="Reviewed yearly.\nCapped at 3 %."),
        Accepted({"1": {"price_adjustment": "Reviewed yearly.\nCapped at 3 %."}}),
    ),
    Case(
        # Rows are numbered as records (as a spreadsheet shows them), not as text lines: the
        # bad row after a two-line cell is row 3, not line 4.
        "row-number-after-a-multi-line-cell",
        lambda uid: csv_text(
            [
                good_row(f"{uid}-1", price_adjustment="two\nlines"),
                good_row(f"{uid}-2", currency="XYZ"),
            ]
        ).encode(),
        Refused(3, "currency", "unknown currency"),
    ),
    # ------------------------------------------------------------------ owners
    Case(
        # Mail to the owner would go to both addresses.
        "two-owners",
        one(owner="a@example.com, b@evil.example"),
        Refused(2, "owner", "exactly one e-mail address, not 2"),
    ),
    Case(
        "owner-with-display-name",
        one(owner="Buyer <buyer@example.com>"),
        Refused(2, "owner", "is not an e-mail address"),
    ),
    Case(
        "owner-is-a-name",
        one(owner="調達部 山田 太郎"),
        Refused(2, "owner", "is not an e-mail address"),
    ),
    # ------------------------------------------------------------------ formulas
    Case(
        # Imported as the text it is; exports neutralise it (test_export_neutralises_formulas).
        "formula-like-cells",
        lambda uid: csv_text([good_row(f"{uid}-1", **FORMULAS)]).encode(),
        Accepted({"1": FORMULAS}),
    ),
    Case(
        # The apostrophe an export adds is removed again: an exported file imports unchanged.
        "apostrophe-escaped-formula",
        one(title="'=1+1", payment_terms="'+81 3 1234 5678", service_levels="'@SUM(A1:A9)"),
        Accepted(
            {
                "1": {
                    "title": "=1+1",
                    "payment_terms": "+81 3 1234 5678",
                    "service_levels": "@SUM(A1:A9)",
                    "owner": "buyer@example.com",
                }
            }
        ),
    ),
]


# ---------------------------------------------------------------------------- the two doors


def _checksum(sessions: SessionFactory) -> tuple[int, str]:
    """Row count and SHA-256 of every column of every contract, in id order."""
    with transaction(sessions) as s:
        rows = s.execute(select(ContractRow.__table__).order_by(ContractRow.id)).all()
    digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return len(rows), digest


@dataclass
class Answer:
    ok: bool
    status: int
    errors: list[tuple[int | None, str, str]]  # (row, field, reason)
    text: str


@dataclass
class Doors:
    sessions: SessionFactory
    app: FastAPI
    token: str
    tmp: Path

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver", timeout=60
        )

    async def api(self, body: bytes, *, as_json: bool = False) -> Answer:
        async with self.http() as http:
            response = await http.post(
                "/api/v1/imports/contracts",
                content=body,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "content-type": "application/json" if as_json else "text/csv",
                },
            )
        errors: list[tuple[int | None, str, str]] = []
        if response.status_code != 200:
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            errors = [(e["row"], e["field"], e["reason"]) for e in problem["errors"]]
            if not errors:  # a problem with no field list (413): the detail is the reason
                errors = [(None, "(file)", problem["detail"])]
        return Answer(response.status_code == 200, response.status_code, errors, response.text)

    def cli(self, body: bytes, *, as_json: bool = False) -> Answer:
        path = self.tmp / f"contracts-{uuid.uuid4().hex[:6]}.{'json' if as_json else 'csv'}"
        path.write_bytes(body)
        result = CliRunner().invoke(cli_app, ["contracts", "import", str(path)])
        path.unlink()
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        errors: list[tuple[int | None, str, str]] = []
        for line in result.output.splitlines():
            line = line.strip()
            if not line.startswith(path.name + ", "):
                continue
            where, _, reason = line.removeprefix(path.name + ", ").partition(": ")
            row: int | None = None
            if where.startswith("row "):
                number, _, where = where.removeprefix("row ").partition(", ")
                row = int(number)
            errors.append((row, where, reason))
        return Answer(result.exit_code == 0, result.exit_code, errors, result.output)


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doors]:
    tmp = tmp_path_factory.mktemp("catalogue")
    url = f"sqlite:///{tmp / 'catalogue.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        register(s, id=STORED_ID, supplier_id=SUPPLIER, owner="buyer@example.com")
        # Owners must be accounts (ownership); the importing buyer is a procurement lead, who
        # may import contracts for any owner, so every case meets only the checks it is about.
        for owner in OWNERS:
            roles = "procurement_lead" if owner == "buyer@example.com" else "procurement"
            users.create_user(s, username=owner, display_name=owner, roles=roles)
        token = users.issue_token(s, username="buyer@example.com", name="catalogue").secret
    settings = Settings(
        database_url=url, temporal_task_queue="catalogue", temporal_search_attributes=False
    )
    app = create_app(settings, web_settings=WebSettings(), sessions=sessions)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", url)
        mp.setenv("RENEWALS_DATA_DIR", str(tmp / "data"))
        mp.setenv("RENEWALS_API_TOKEN", token)  # the CLI acts for the buyer, as the API does
        get_settings.cache_clear()
        yield Doors(sessions, app, token, tmp)
    get_settings.cache_clear()
    engine.dispose()


ENTRY_POINTS = ("api", "cli")


def _params() -> list[Any]:
    out = []
    for case in CASES:
        for door in ENTRY_POINTS:
            marks = [pytest.mark.xfail(strict=True, reason=f"product bug: {case.bug}")] * bool(
                case.bug
            )
            out.append(pytest.param(case, door, id=f"{case.id}[{door}]", marks=marks))
    return out


@pytest.mark.parametrize(("case", "door"), _params())
async def test_catalogue(doors: Doors, case: Case, door: str) -> None:
    uid = f"CAT{uuid.uuid4().hex[:8]}"
    body = case.body(uid)
    before = _checksum(doors.sessions)
    if door == "api":
        answer = await doors.api(body, as_json=case.json)
    else:
        answer = doors.cli(body, as_json=case.json)
    after = _checksum(doors.sessions)

    if isinstance(case.outcome, Refused):
        want = case.outcome
        assert not answer.ok, f"accepted: {answer.text[:500]}"
        if door == "api":
            assert answer.status == want.status, answer.text[:500]
        else:
            assert answer.status == 1, answer.text[:500]
        matching = [
            e
            for e in answer.errors
            if e[0] == want.row and e[1] == want.field and want.reason in e[2]
        ]
        assert matching, (
            f"no error naming row {want.row}, field {want.field!r} with {want.reason!r}: "
            f"{answer.errors or answer.text[:500]}"
        )
        assert after == before, "a refused file changed the contracts table"
        return

    assert answer.ok, answer.errors or answer.text[:500]
    assert after[0] > before[0]
    with transaction(doors.sessions) as s:
        for suffix, values in case.outcome.expect.items():
            row = s.get(ContractRow, f"{uid}-{suffix}")
            assert row is not None, f"{uid}-{suffix} was not stored"
            for name, value in values.items():
                assert getattr(row, name) == value, (name, getattr(row, name), value)


# ---------------------------------------------------------------------------- exports


async def _export(doors: Doors, door: str) -> str:
    if door == "api":
        async with doors.http() as http:
            response = await http.get(
                "/api/v1/exports/contracts", headers={"Authorization": f"Bearer {doors.token}"}
            )
        assert response.status_code == 200, response.text[:500]
        return response.text
    result = CliRunner().invoke(cli_app, ["export", "contracts"])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("door", ENTRY_POINTS)
async def test_export_neutralises_formulas(doors: Doors, door: str) -> None:
    """Formula-like text is stored as typed and exported with an apostrophe in front, so a
    spreadsheet shows it rather than runs it; importing the export gives back the original."""
    uid = f"CATX{uuid.uuid4().hex[:8]}"
    body = csv_text([good_row(f"{uid}-1", **FORMULAS)]).encode()
    assert (await doors.api(body)).ok
    exported = await _export(doors, door)
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(exported.lstrip("\ufeff")))}
    cells = rows[f"{uid}-1"]
    for name, value in FORMULAS.items():
        assert cells[name] == "'" + value, (name, cells[name])
    dangerous = ("=", "+", "-", "@")
    for record in rows.values():
        for name, cell in record.items():
            is_number = cell.lstrip("-").replace(".", "", 1).isdigit()
            assert not cell.startswith(dangerous) or is_number, (record["id"], name, cell)

    # The export, with new ids, imports back to exactly the stored text.
    again = {**cells, "id": f"{uid}-2"}
    columns = tuple(rows[f"{uid}-1"])
    assert (await doors.api(csv_text([again], columns).encode())).ok
    with transaction(doors.sessions) as s:
        first, second = s.get(ContractRow, f"{uid}-1"), s.get(ContractRow, f"{uid}-2")
        assert first is not None and second is not None
        for name in FORMULAS:
            assert getattr(second, name) == getattr(first, name) == FORMULAS[name]


@pytest.mark.parametrize("door", ENTRY_POINTS)
async def test_japanese_round_trips_through_export(doors: Doors, door: str) -> None:
    uid = f"CATJ{uuid.uuid4().hex[:8]}"
    body = csv_text([good_row(f"{uid}-1", language="ja", **JAPANESE)]).encode()
    assert (await doors.api(body)).ok
    exported = await _export(doors, door)
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(exported.lstrip("\ufeff")))}
    for name, value in JAPANESE.items():
        assert rows[f"{uid}-1"][name] == value


def test_no_duplicate_contracts_stored(doors: Doors) -> None:
    """After the whole catalogue, through both doors: no contract id stored twice."""
    with transaction(doors.sessions) as s:
        ids = list(s.scalars(select(ContractRow.id)))
    assert len(ids) == len(set(ids))
