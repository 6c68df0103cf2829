"""Every CLI command that changes or exports data acts for the owner of RENEWALS_API_TOKEN with a
permission, and writes one audit entry naming that owner (issue 14, "CLI").

With users in the database: no token, an unknown token, or a token whose owner lacks the
permission is refused (exit 1, the reason printed) and nothing is stored, not even an audit
entry; the right token works and leaves exactly one entry naming its owner. Without users the
operator mode (``--by``) still works. Schedule commands talk to Temporal through fakes here: what
is tested is who may ask and what is audited, not the schedule itself
(tests/test_schedule_and_search.py covers that on a dev server).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from cli.identity import TOKEN_ENV
from cli.main import app
from clients import schedules
from config.settings import get_settings
from models.account_tables import ApiTokenRow, UserRow
from models.tables import (
    AuditLogRow,
    ContractRow,
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
    ServiceTicketRow,
    SupplierRow,
)
from services import users
from store.db import SessionFactory, transaction
from tests.factories import register

BUYER, LAWYER, ADMIN = "buyer@example.com", "lawyer@example.com", "admin@example.com"
ROLES = {BUYER: "procurement", LAWYER: "legal", ADMIN: "admin"}

CONTRACT_HEADER = (
    "id,title,supplier_id,owner,start_date,end_date,auto_renewal,notice_period_days,"
    "renewal_term_months,currency,annual_value,unit_price,annual_volume,exclusivity,"
    "payment_terms,price_adjustment,service_levels,language"
)
FILES = {
    "suppliers.csv": "id,name,category,country\nS-9,Osaka Resin K.K.,packaging,JP\n",
    "contracts.csv": CONTRACT_HEADER
    + "\nC-2002,Resin,S-1,buyer@example.com,2026-01-01,2027-12-31,false,30,12,JPY,"
    "1000000,10,100,false,Net 60,,,en\n",
    "deliveries.csv": "supplier_id,contract_id,reference,order_date,promised_date,"
    "delivered_date,quantity_ordered,quantity_accepted\n"
    "S-1,C-1001,DN-1,2026-03-01,2026-03-10,2026-03-09,100,98\n",
    "tickets.csv": "supplier_id,contract_id,reference,opened_at,response_sla_minutes,"
    "resolution_sla_minutes\nS-1,C-1001,T-1,2026-03-01T09:00:00+09:00,240,2880\n",
    "prices.csv": "supplier_id,contract_id,effective_date,unit_price,currency\n"
    "S-1,C-1001,2026-01-01,1040,JPY\n",
    "market.csv": "category,period,price_index\nresin,2026-01,101.5\n",
}


@dataclass
class Env:
    sessions: SessionFactory
    tmp: Path
    tokens: dict[str, str]
    temporal_calls: list[str]
    monkeypatch: pytest.MonkeyPatch

    def invoke(self, *args: str, token: str | None = None) -> Result:
        if token is None:
            self.monkeypatch.delenv(TOKEN_ENV, raising=False)
        else:
            self.monkeypatch.setenv(TOKEN_ENV, token)
        return CliRunner().invoke(app, [a.replace("{tmp}", str(self.tmp)) for a in args])

    def count(self, table: type) -> int:
        with transaction(self.sessions) as s:
            return s.scalar(select(func.count()).select_from(table)) or 0

    def entries(self, **where: str) -> list[AuditLogRow]:
        with transaction(self.sessions) as s:
            query = select(AuditLogRow)
            for column, value in where.items():
                query = query.where(getattr(AuditLogRow, column) == value)
            return list(s.scalars(query.order_by(AuditLogRow.id)))


def _fake_temporal(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    """Temporal replaced by fakes that note each call: an unexpected call is visible."""

    async def connect(_settings: object) -> object:
        calls.append("connect")
        return object()

    def fake(name: str, result: Any = None) -> Callable[..., Any]:
        async def call(*_args: object, **_kwargs: object) -> Any:
            calls.append(name)
            return result

        return call

    monkeypatch.setattr("cli.schedule_commands.connect", connect)
    monkeypatch.setattr(schedules, "create_schedule", fake("create", (None, True)))
    monkeypatch.setattr(schedules, "pause_schedule", fake("pause"))
    monkeypatch.setattr(schedules, "unpause_schedule", fake("unpause"))
    monkeypatch.setattr(schedules, "trigger_schedule", fake("trigger"))
    monkeypatch.setattr(schedules, "backfill_schedule", fake("backfill"))


def _env(
    sqlite_url: str,
    sessions: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    with_users: bool,
) -> Iterator[Env]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing listens: fakes only
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    get_settings.cache_clear()
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    tokens: dict[str, str] = {}
    with transaction(sessions) as s:
        register(s, id="C-1001", owner=BUYER)  # and supplier S-1; the buyer owns it
        if with_users:
            for name, roles in ROLES.items():
                users.create_user(
                    s, actor="setup", username=name, display_name=name, roles=roles, password=None
                )
                tokens[name] = users.issue_token(
                    s, actor="setup", username=name, name="test", valid_days=1
                ).secret
            users.create_user(
                s,
                actor="setup",
                username="clerk@example.com",
                display_name="Clerk",
                roles="procurement",
                password=None,
                kind="service",  # an administrator issues tokens only for service accounts
            )
            users.issue_token(
                s, actor="setup", username="clerk@example.com", name="x", valid_days=1
            )
    calls: list[str] = []
    _fake_temporal(monkeypatch, calls)
    yield Env(sessions, tmp_path, tokens, calls, monkeypatch)
    get_settings.cache_clear()


@pytest.fixture
def env(
    sqlite_url: str,
    sqlite_engine: Engine,
    sessions: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    yield from _env(sqlite_url, sessions, tmp_path, monkeypatch, with_users=True)


@pytest.fixture
def no_users(
    sqlite_url: str,
    sqlite_engine: Engine,
    sessions: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    yield from _env(sqlite_url, sessions, tmp_path, monkeypatch, with_users=False)


def _active_tokens(env: Env) -> int:
    with transaction(env.sessions) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(ApiTokenRow)
                .where(ApiTokenRow.revoked_at.is_(None))
            )
            or 0
        )


def _active_users(env: Env) -> int:
    with transaction(env.sessions) as s:
        return s.scalar(select(func.count()).select_from(UserRow).where(UserRow.active)) or 0


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    allowed: str  # whose token may run it
    refused: str | None  # whose token lacks the permission (None: every role holds it)
    permission: str
    state: Callable[[Env], object]  # what the command changes, to compare before and after
    action: str  # the audit entry it writes


CASES = {
    "suppliers import": Case(
        ("suppliers", "import", "{tmp}/suppliers.csv"),
        BUYER,
        LAWYER,
        "contracts_write",
        lambda e: e.count(SupplierRow),
        "import",
    ),
    "contracts import": Case(
        ("contracts", "import", "{tmp}/contracts.csv"),
        BUYER,
        ADMIN,
        "contracts_write",
        lambda e: e.count(ContractRow),
        "import",
    ),
    "data import-deliveries": Case(
        ("data", "import-deliveries", "{tmp}/deliveries.csv"),
        BUYER,
        LAWYER,
        "contracts_write",
        lambda e: e.count(DeliveryRow),
        "import",
    ),
    "data import-tickets": Case(
        ("data", "import-tickets", "{tmp}/tickets.csv"),
        BUYER,
        ADMIN,
        "contracts_write",
        lambda e: e.count(ServiceTicketRow),
        "import",
    ),
    "data import-prices": Case(
        ("data", "import-prices", "{tmp}/prices.csv"),
        BUYER,
        LAWYER,
        "contracts_write",
        lambda e: e.count(PriceHistoryRow),
        "import",
    ),
    "data import-market": Case(
        ("data", "import-market", "{tmp}/market.csv"),
        BUYER,
        LAWYER,
        "contracts_write",
        lambda e: e.count(MarketIndicatorRow),
        "import",
    ),
    "export": Case(
        ("export", "contracts", "--out", "{tmp}/out.csv"),
        ADMIN,
        LAWYER,
        "export",
        lambda e: (e.tmp / "out.csv").exists(),
        "export",
    ),
    "calendar export": Case(
        ("calendar", "export", "--out", "{tmp}/out.ics"),
        LAWYER,
        None,
        "contracts_read",
        lambda e: (e.tmp / "out.ics").exists(),
        "export",
    ),
    "schedule create": Case(
        ("schedule", "create"),
        BUYER,
        ADMIN,
        "renewals_write",
        lambda e: list(e.temporal_calls),
        "schedule_created",
    ),
    "schedule pause": Case(
        ("schedule", "pause", "--note", "quarter close"),
        BUYER,
        LAWYER,
        "renewals_write",
        lambda e: list(e.temporal_calls),
        "schedule_paused",
    ),
    "schedule unpause": Case(
        ("schedule", "unpause"),
        BUYER,
        ADMIN,
        "renewals_write",
        lambda e: list(e.temporal_calls),
        "schedule_unpaused",
    ),
    "schedule trigger": Case(
        ("schedule", "trigger"),
        BUYER,
        ADMIN,
        "renewals_write",
        lambda e: list(e.temporal_calls),
        "schedule_triggered",
    ),
    "schedule backfill": Case(
        ("schedule", "backfill", "--start", "2026-01-01", "--end", "2026-01-03"),
        BUYER,
        LAWYER,
        "renewals_write",
        lambda e: list(e.temporal_calls),
        "schedule_backfilled",
    ),
    "users add": Case(
        ("users", "add", "new@example.com", "--roles", "legal"),
        ADMIN,
        BUYER,
        "users_manage",
        lambda e: e.count(UserRow),
        "user_created",
    ),
    "users token": Case(
        ("users", "token", "clerk@example.com", "--days", "1"),
        ADMIN,
        BUYER,
        "users_manage",
        lambda e: e.count(ApiTokenRow),
        "token_issued",
    ),
    "users revoke": Case(
        ("users", "revoke", "clerk@example.com"),
        ADMIN,
        LAWYER,
        "users_manage",
        _active_tokens,
        "tokens_revoked",
    ),
    "users deactivate": Case(
        ("users", "deactivate", "clerk@example.com"),
        ADMIN,
        BUYER,
        "users_manage",
        _active_users,
        "user_deactivated",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_without_a_token_the_command_is_refused_and_nothing_is_stored(env: Env, name: str) -> None:
    case = CASES[name]
    before, entries = case.state(env), len(env.entries())
    result = env.invoke(*case.args)
    assert result.exit_code == 1, result.output
    assert f"this database has users: set {TOKEN_ENV}" in result.stderr
    assert case.state(env) == before
    assert len(env.entries()) == entries
    assert env.temporal_calls == []


@pytest.mark.parametrize("name", CASES)
def test_an_unknown_token_is_refused(env: Env, name: str) -> None:
    case = CASES[name]
    before, entries = case.state(env), len(env.entries())
    result = env.invoke(*case.args, token="rnw_not-a-token")
    assert result.exit_code == 1, result.output
    assert "not a valid, active API token" in result.stderr
    assert case.state(env) == before
    assert len(env.entries()) == entries


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.refused])
def test_a_token_without_the_permission_is_refused_and_nothing_is_stored(
    env: Env, name: str
) -> None:
    case = CASES[name]
    assert case.refused is not None
    before, entries = case.state(env), len(env.entries())
    result = env.invoke(*case.args, token=env.tokens[case.refused])
    assert result.exit_code == 1, result.output
    assert f"{case.refused} ({ROLES[case.refused]}) may not do this" in result.stderr
    assert f"needs {case.permission}" in result.stderr
    assert case.state(env) == before
    assert len(env.entries()) == entries
    assert env.temporal_calls == []


@pytest.mark.parametrize("name", CASES)
def test_the_right_token_works_and_one_entry_names_its_owner(env: Env, name: str) -> None:
    case = CASES[name]
    before, entries = case.state(env), len(env.entries())
    result = env.invoke(*case.args, token=env.tokens[case.allowed])
    assert result.exit_code == 0, result.output
    assert case.state(env) != before
    mine = env.entries(actor=case.allowed)
    assert [e.action for e in mine] == [case.action]
    assert len(env.entries()) == entries + 1  # that one entry and no other


def test_by_must_name_the_tokens_owner(env: Env) -> None:
    result = env.invoke(
        "suppliers", "import", "{tmp}/suppliers.csv", "--by", LAWYER, token=env.tokens[BUYER]
    )
    assert result.exit_code == 1
    assert "is not the owner of" in result.stderr
    assert env.count(SupplierRow) == 1
    ok = env.invoke(
        "suppliers", "import", "{tmp}/suppliers.csv", "--by", BUYER, token=env.tokens[BUYER]
    )
    assert ok.exit_code == 0, ok.output
    assert env.count(SupplierRow) == 2


def test_a_dry_run_needs_the_permission_but_writes_no_entry(env: Env) -> None:
    args = ("suppliers", "import", "{tmp}/suppliers.csv", "--dry-run")
    refused = env.invoke(*args, token=env.tokens[LAWYER])
    assert refused.exit_code == 1 and "may not do this" in refused.stderr
    entries = len(env.entries())
    ok = env.invoke(*args, token=env.tokens[BUYER])
    assert ok.exit_code == 0, ok.output
    assert "nothing stored (--dry-run)" in ok.stdout
    assert env.count(SupplierRow) == 1
    assert len(env.entries()) == entries
    contracts = env.invoke(
        "contracts", "import", "{tmp}/contracts.csv", "--dry-run", token=env.tokens[BUYER]
    )
    assert contracts.exit_code == 0, contracts.output
    assert env.count(ContractRow) == 1 and len(env.entries()) == entries


def test_a_refused_file_writes_no_entry(env: Env) -> None:
    (env.tmp / "bad.csv").write_text(
        "id,name,category,country\nS-X,,packaging,JP\n", encoding="utf-8"
    )
    result = env.invoke("suppliers", "import", "{tmp}/bad.csv", token=env.tokens[BUYER])
    assert result.exit_code == 1
    assert env.entries(actor=BUYER) == []


def test_an_import_entry_says_what_was_stored(env: Env) -> None:
    result = env.invoke(
        "data", "import-deliveries", "{tmp}/deliveries.csv", token=env.tokens[BUYER]
    )
    assert result.exit_code == 0, result.output
    (entry,) = env.entries(actor=BUYER)
    assert (entry.action, entry.subject_type) == ("import", "deliveries")
    assert entry.detail["rows"] == 1 and entry.detail["inserted"] == 1
    assert entry.detail["file"] == "deliveries.csv"


# ---------------------------------------------------------------------------- no users


OPERATOR = "operator@example.com"


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("users ")])
def test_without_users_the_operator_named_by_by_acts(no_users: Env, name: str) -> None:
    case = CASES[name]
    before = case.state(no_users)
    result = no_users.invoke(*case.args, "--by", OPERATOR)
    assert result.exit_code == 0, result.output
    assert case.state(no_users) != before
    assert [e.action for e in no_users.entries(actor=OPERATOR)] == [case.action]


def test_without_users_the_first_administrator_is_created_then_a_token_is_needed(
    no_users: Env,
) -> None:
    first = no_users.invoke("users", "add", ADMIN, "--roles", "admin", "--by", OPERATOR)
    assert first.exit_code == 0, first.output
    assert [e.action for e in no_users.entries(actor=OPERATOR)] == ["user_created"]
    # The default operator name, as before: cli:LOGIN.
    issued = no_users.invoke("users", "token", ADMIN)
    assert issued.exit_code == 1
    assert f"this database has users: set {TOKEN_ENV}" in issued.stderr
    assert no_users.count(ApiTokenRow) == 0


def test_without_users_the_operator_defaults_to_the_login_name(no_users: Env) -> None:
    result = no_users.invoke("suppliers", "import", "{tmp}/suppliers.csv")
    assert result.exit_code == 0, result.output
    (entry,) = no_users.entries(action="import")
    assert entry.actor  # the login name (or "cli" without one)


# ---------------------------------------------------------------------------- negotiation

# The negotiation's commands change a running renewal: they act for the token's owner with
# renewals-write like the API's routes. C-1001 has no renewal, so even the right token stops at
# the service's check (naming the missing renewal) and nothing is stored or audited.
NEGOTIATION = {
    "version edit": ("version", "edit", "C-1001", "--based-on", "1", "--unit-price", "1"),
    "offer": ("offer", "C-1001", "--version", "1", "--on", "2026-01-05"),
    "answer": ("answer", "C-1001", "--version", "1", "--answer", "declined", "--on", "2026-01-05"),
    "hearing": ("hearing", "C-1001", "--on", "2026-01-05", "--needs", "a longer term"),
}


@pytest.mark.parametrize("name", NEGOTIATION)
def test_the_negotiation_commands_act_only_for_a_token_with_renewals_write(
    env: Env, name: str
) -> None:
    args = NEGOTIATION[name]
    entries = len(env.entries())
    missing = env.invoke(*args)
    assert missing.exit_code == 1 and f"this database has users: set {TOKEN_ENV}" in missing.stderr
    unknown = env.invoke(*args, token="rnw_not-a-token")
    assert unknown.exit_code == 1 and "not a valid, active API token" in unknown.stderr
    lawyer = env.invoke(*args, token=env.tokens[LAWYER])
    assert lawyer.exit_code == 1, lawyer.output
    assert f"{LAWYER} (legal) may not do this" in lawyer.stderr
    assert "needs renewals_write" in lawyer.stderr
    other = env.invoke(*args, "--by", LAWYER, token=env.tokens[BUYER])
    assert other.exit_code == 1 and "is not the owner of" in other.stderr
    buyer = env.invoke(*args, token=env.tokens[BUYER])
    assert buyer.exit_code == 1, buyer.output
    assert "no renewal for term 1 of contract 'C-1001'" in buyer.stderr
    assert len(env.entries()) == entries
    assert env.temporal_calls == []
