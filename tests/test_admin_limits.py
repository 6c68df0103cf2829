"""No acting as another person (issue 14; renewal-semantics.md §6): people issue their own API
tokens, an administrator only a service account's; an administrator never holds a procurement
or legal role, a service account never a role that approves; every account and role change
writes one audit entry and one mail to the legal lead(s), in both languages, once however often
the request is repeated. Through the API and the CLI, on SQLite and PostgreSQL."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from auth.roles import AccountKind, Role
from cli import user_commands
from config.settings import get_settings
from domain.account_changes import (
    MAIL_KIND,
    ROLE_WORDS,
    AccountChange,
    ChangeKind,
    mail_text,
)
from models.account_tables import ApiTokenRow, UserRow
from models.errors import NotAllowed
from models.tables import AuditLogRow, OutboxRow
from services import users as user_service
from services.account_announcements import NOBODY_TOLD
from store import users as user_store
from store.db import SessionFactory, transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import PASSWORD, Portal

# Words that would be English enum values if they showed in the Japanese half of a mail.
ENUM_WORDS = re.compile(
    r"\b(procurement|procurement_lead|legal|legal_lead|admin|reader|person|service|"
    r"created|roles_changed|deactivated|token_issued|tokens_revoked|never|none)\b"
)


def _unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}@example.com"


def _lead(sessions: SessionFactory) -> str:
    """A legal lead to be told (the shared PostgreSQL schema may hold others)."""
    name = _unique("lead")
    with transaction(sessions) as s:
        user_store.create_user(s, username=name, display_name="Lead", roles="legal,legal_lead")
    return name


def _entries(sessions: SessionFactory, username: str) -> list[AuditLogRow]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.subject_type == "user", AuditLogRow.subject_id == username)
            .order_by(AuditLogRow.id)
        ).all()
        s.expunge_all()
        return list(rows)


def _mails(sessions: SessionFactory, username: str) -> list[OutboxRow]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(OutboxRow)
            .where(OutboxRow.key.like(f"account:{username}:%"))
            .order_by(OutboxRow.id)
        ).all()
        s.expunge_all()
        return list(rows)


def _tokens(sessions: SessionFactory, username: str) -> int:
    with transaction(sessions) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(ApiTokenRow)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(UserRow.username == username)
            )
            or 0
        )


def _roles(sessions: SessionFactory, username: str) -> str | None:
    with transaction(sessions) as s:
        return s.scalar(select(UserRow.roles).where(UserRow.username == username))


def _halves(body: str) -> tuple[str, str]:
    japanese, _, english = body.partition("\n----\n")
    return japanese, english


def assert_told(mail: OutboxRow, lead: str, *, ja: str, en: str, about: str) -> None:
    """One mail of the account-change kind to the lead, Japanese first, then English, with no
    English enum values in the Japanese half."""
    assert mail.kind == MAIL_KIND and mail.contract_id == "" and mail.term == 0
    assert lead in mail.recipients.split(", ")
    assert about in mail.subject and "アカウントの変更" in mail.subject
    assert "Account change" in mail.subject
    japanese, english = _halves(mail.body)
    assert ja in japanese, japanese
    assert en in english, english
    assert "法務リーダー" in japanese and "legal lead" in english
    shown = japanese
    for name in re.findall(r"[\w.+-]+@[\w.-]+", japanese):  # user names are shown as stored
        shown = shown.replace(name, "")
    assert not ENUM_WORDS.search(shown), shown
    assert mail.sent_at is None  # staged in the outbox, in the change's transaction


# ---------------------------------------------------------------------------- API


async def test_admin_cannot_issue_a_token_for_a_person_but_can_for_a_service_account(
    db_portal: Portal,
) -> None:
    p = db_portal
    lead = _lead(p.sessions)
    lawyer = p.username("legal")
    before = (_tokens(p.sessions, lawyer), len(_entries(p.sessions, lawyer)))

    refused = await p.http.post(
        f"/api/v1/users/{lawyer}/tokens",
        json={"name": "10 years", "valid_days": 3650},
        headers=p.auth("admin"),
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    (error,) = refused.json()["errors"]
    assert error["field"] == "username"
    assert "nobody issues an API token for another person" in error["reason"]
    assert (_tokens(p.sessions, lawyer), len(_entries(p.sessions, lawyer))) == before
    assert _mails(p.sessions, lawyer) == []

    service = _unique("erp-sync")
    created = await p.http.post(
        "/api/v1/users",
        json={"username": service, "roles": ["procurement"], "kind": "service"},
        headers=p.auth("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "service"
    issued = await p.http.post(
        f"/api/v1/users/{service}/tokens", json={"name": "erp"}, headers=p.auth("admin")
    )
    assert issued.status_code == 201, issued.text
    me = await p.http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {issued.json()['token']}"}
    )
    assert me.json()["username"] == service and me.json()["roles"] == ["procurement"]

    created_entry, token_entry = _entries(p.sessions, service)
    assert (created_entry.action, token_entry.action) == ("user_created", "token_issued")
    assert token_entry.actor == p.username("admin")
    assert lead in token_entry.detail["announced_to"]
    created_mail, token_mail = _mails(p.sessions, service)
    assert_told(
        created_mail,
        lead,
        ja="アカウントの作成（役割: 調達）",
        en="account created (roles: procurement)",
        about=service,
    )
    assert "サービスアカウント（システム連携用）" in created_mail.body
    assert_told(
        token_mail,
        lead,
        ja="APIトークンの発行（管理者による発行",
        en="API token issued by an administrator",
        about=service,
    )
    assert issued.json()["prefix"] in token_mail.body


@pytest.mark.parametrize(
    "roles", [["legal"], ["legal_lead"], ["admin"], ["procurement", "legal"], ["reader", "admin"]]
)
async def test_a_service_account_with_a_role_that_approves_or_manages_is_refused(
    db_portal: Portal, roles: list[str]
) -> None:
    p = db_portal
    name = _unique("bot")
    refused = await p.http.post(
        "/api/v1/users",
        json={"username": name, "roles": roles, "kind": "service"},
        headers=p.auth("admin"),
    )
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["field"] == "roles"
    assert "a service account is for an integration and never approves" in error["reason"]
    assert _roles(p.sessions, name) is None
    assert _entries(p.sessions, name) == [] and _mails(p.sessions, name) == []


async def test_a_service_account_has_no_password(db_portal: Portal) -> None:
    p = db_portal
    name = _unique("bot")
    refused = await p.http.post(
        "/api/v1/users",
        json={"username": name, "roles": ["reader"], "kind": "service", "password": PASSWORD},
        headers=p.auth("admin"),
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["password"]
    assert _roles(p.sessions, name) is None


@pytest.mark.parametrize(
    "roles",
    [
        ["admin", "legal"],
        ["admin", "legal_lead"],
        ["admin", "procurement"],
        ["admin", "procurement_lead"],
    ],
)
async def test_admin_with_legal_or_procurement_on_one_account_is_refused(
    db_portal: Portal, roles: list[str]
) -> None:
    p = db_portal
    name = _unique("both")
    created = await p.http.post(
        "/api/v1/users", json={"username": name, "roles": roles}, headers=p.auth("admin")
    )
    assert created.status_code == 422
    (error,) = created.json()["errors"]
    assert error["field"] == "roles"
    assert "an administrator manages accounts and neither buys nor approves" in error["reason"]
    assert roles[1] in error["reason"]
    assert _roles(p.sessions, name) is None and _entries(p.sessions, name) == []

    # Nor by changing an account's roles: neither the lawyer's nor the administrator's.
    lawyer = p.username("legal")
    for who in (lawyer, p.username("admin")):
        held = _roles(p.sessions, who)
        entries = len(_entries(p.sessions, who))
        changed = await p.http.put(
            f"/api/v1/users/{who}/roles", json={"roles": roles}, headers=p.auth("admin")
        )
        assert changed.status_code == 422
        assert [e["field"] for e in changed.json()["errors"]] == ["roles"]
        assert _roles(p.sessions, who) == held
        assert len(_entries(p.sessions, who)) == entries


async def test_admin_deactivates_a_user_and_revokes_tokens(db_portal: Portal) -> None:
    p = db_portal
    lead = _lead(p.sessions)
    buyer = _unique("buyer")
    with transaction(p.sessions) as s:
        user_store.create_user(s, username=buyer, display_name="Buyer", roles="procurement")
        first = user_store.issue_token(s, username=buyer, name="one").secret
        second = user_store.issue_token(s, username=buyer, name="two").secret
    mine = {"Authorization": f"Bearer {first}"}
    assert (await p.http.get("/api/v1/me", headers=mine)).status_code == 200

    revoked = await p.http.delete(
        f"/api/v1/users/{buyer}/tokens", params={"prefix": first[:12]}, headers=p.auth("admin")
    )
    assert revoked.status_code == 200 and revoked.json()["revoked"] == [first[:12]]
    assert (await p.http.get("/api/v1/me", headers=mine)).status_code == 401
    theirs = {"Authorization": f"Bearer {second}"}
    assert (await p.http.get("/api/v1/me", headers=theirs)).status_code == 200

    gone = await p.http.post(f"/api/v1/users/{buyer}/deactivation", headers=p.auth("admin"))
    assert gone.status_code == 200
    assert gone.json() == {"username": buyer, "changed": True, "revoked": [second[:12]]}
    refused = await p.http.get("/api/v1/me", headers=theirs)
    assert refused.status_code == 401  # a deactivated user's token stops working at once

    # Repeated: nothing more changes, is audited or announced.
    again = await p.http.post(f"/api/v1/users/{buyer}/deactivation", headers=p.auth("admin"))
    assert again.json() == {"username": buyer, "changed": False, "revoked": []}
    nothing = await p.http.delete(f"/api/v1/users/{buyer}/tokens", headers=p.auth("admin"))
    assert nothing.json() == {"revoked": []}

    assert [e.action for e in _entries(p.sessions, buyer)] == [
        "tokens_revoked",
        "user_deactivated",
    ]
    revoke_mail, deactivate_mail = _mails(p.sessions, buyer)
    assert_told(
        revoke_mail,
        lead,
        ja=f"APIトークンの失効（1 件: {first[:12]}）",
        en=f"API tokens revoked (1: {first[:12]})",
        about=buyer,
    )
    assert_told(
        deactivate_mail,
        lead,
        ja="アカウントの無効化（APIトークン 1 件を失効",
        en="account deactivated (1 API token(s) revoked",
        about=buyer,
    )


async def test_a_user_issues_lists_and_revokes_their_own_token(db_portal: Portal) -> None:
    p = db_portal
    lead = _lead(p.sessions)
    lawyer = _unique("lawyer")
    with transaction(p.sessions) as s:
        user_store.create_user(s, username=lawyer, display_name="Lawyer", roles="legal")
        secret = user_store.issue_token(s, username=lawyer, name="first").secret
    mine = {"Authorization": f"Bearer {secret}"}

    issued = await p.http.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=mine)
    assert issued.status_code == 201, issued.text
    laptop = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert (await p.http.get("/api/v1/me", headers=laptop)).json()["username"] == lawyer
    listed = await p.http.get("/api/v1/me/tokens", headers=laptop)
    assert {t["name"] for t in listed.json()} == {"first", "laptop"}
    assert all("token" not in t for t in listed.json())  # never the secret

    # Not for anyone else: the users routes need the users-manage permission.
    other = await p.http.post(
        f"/api/v1/users/{p.username('procurement')}/tokens", json={"name": "x"}, headers=mine
    )
    assert other.status_code == 403

    prefix = issued.json()["prefix"]
    revoked = await p.http.delete(f"/api/v1/me/tokens/{prefix}", headers=mine)
    assert revoked.json() == {"revoked": [prefix]}
    assert (await p.http.get("/api/v1/me", headers=laptop)).status_code == 401

    issue_entry, revoke_entry = _entries(p.sessions, lawyer)
    assert (issue_entry.action, issue_entry.actor) == ("token_issued", lawyer)
    assert (revoke_entry.action, revoke_entry.actor) == ("tokens_revoked", lawyer)
    issue_mail, _revoke_mail = _mails(p.sessions, lawyer)
    assert_told(
        issue_mail,
        lead,
        ja="APIトークンの発行（本人による発行。名前: laptop",
        en="API token issued by its owner (name: laptop",
        about=lawyer,
    )


async def test_a_role_change_is_audited_and_announced_once(db_portal: Portal) -> None:
    p = db_portal
    lead = _lead(p.sessions)
    name = _unique("clerk")
    created = await p.http.post(
        "/api/v1/users",
        json={"username": name, "roles": ["procurement"], "password": PASSWORD},
        headers=p.auth("admin"),
    )
    assert created.status_code == 201
    for _attempt in range(2):  # the second time the account holds these roles already
        changed = await p.http.put(
            f"/api/v1/users/{name}/roles",
            json={"roles": ["procurement_lead", "legal"]},
            headers=p.auth("admin"),
        )
        assert changed.status_code == 200
    assert changed.json()["changed"] is False
    assert changed.json()["roles"] == ["legal", "procurement_lead"]

    created_entry, roles_entry = _entries(p.sessions, name)
    assert roles_entry.action == "user_roles_changed"
    assert roles_entry.detail["roles_before"] == ["procurement"]
    assert roles_entry.detail["roles"] == ["legal", "procurement_lead"]
    assert (created_entry.detail["change"], roles_entry.detail["change"]) == (1, 2)
    assert [m.key for m in _mails(p.sessions, name)] == [f"account:{name}:1", f"account:{name}:2"]
    assert_told(
        _mails(p.sessions, name)[1],
        lead,
        ja="役割の変更（調達 → 調達リーダー、法務）",
        en="roles changed (procurement -> procurement lead, legal)",
        about=name,
    )


async def test_a_retried_token_request_issues_nothing_more(db_portal: Portal) -> None:
    p = db_portal
    _lead(p.sessions)
    service = _unique("bot")
    with transaction(p.sessions) as s:
        user_service.create_user(
            s,
            actor="setup",
            username=service,
            display_name="Bot",
            roles="reader",
            password=None,
            kind=AccountKind.SERVICE,
        )
    body = {"name": "nightly", "request_id": "issue-nightly-1"}
    first = await p.http.post(f"/api/v1/users/{service}/tokens", json=body, headers=p.auth("admin"))
    assert first.status_code == 201
    retried = await p.http.post(
        f"/api/v1/users/{service}/tokens", json=body, headers=p.auth("admin")
    )
    assert retried.status_code == 409
    assert "has issued a token" in retried.json()["detail"]
    assert _tokens(p.sessions, service) == 1
    assert [e.action for e in _entries(p.sessions, service)] == ["user_created", "token_issued"]
    assert len(_mails(p.sessions, service)) == 2


# ---------------------------------------------------------------------------- services


def test_with_no_legal_lead_the_change_goes_ahead_and_says_nobody_was_told(
    sessions: SessionFactory,
) -> None:
    with transaction(sessions) as s:
        # A legal lead whose user name is no e-mail address cannot be told either.
        user_store.create_user(s, username="lead", display_name="Lead", roles="legal_lead")
        user_service.create_user(
            s, actor="setup", username="a@example.com", display_name="A", roles="admin",
            password=None,
        )  # fmt: skip
    (entry,) = _entries(sessions, "a@example.com")
    assert entry.detail["announced_to"] == []
    assert entry.detail["not_announced"] == NOBODY_TOLD
    assert entry.detail["legal_leads_without_address"] == ["lead"]
    assert _mails(sessions, "a@example.com") == []
    assert _roles(sessions, "a@example.com") == "admin"


def test_a_legal_lead_is_told_when_their_own_role_or_account_goes(
    sessions: SessionFactory,
) -> None:
    with transaction(sessions) as s:
        user_store.create_user(s, username="root@example.com", display_name="R", roles="admin")
        user_store.create_user(s, username="lead@example.com", display_name="L", roles="legal_lead")
        admin = user_store.get_user(s, username="root@example.com")
        user_service.set_roles(s, actor=admin, username="lead@example.com", roles="legal")
    (mail,) = _mails(sessions, "lead@example.com")
    assert mail.recipients == "lead@example.com"  # no other lead: the one losing the role
    assert "役割の変更（法務リーダー → 法務）" in mail.body
    with transaction(sessions) as s:
        admin = user_store.get_user(s, username="root@example.com")
        user_service.set_roles(s, actor=admin, username="lead@example.com", roles="legal_lead")
        user_service.deactivate_user(s, actor=admin, username="lead@example.com")
    assert _mails(sessions, "lead@example.com")[-1].recipients == "lead@example.com"


def test_only_an_administrator_manages_accounts(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        buyer = user_store.create_user(
            s, username="b@example.com", display_name="B", roles="procurement"
        )
        user_store.create_user(s, username="c@example.com", display_name="C", roles="legal")
        with pytest.raises(NotAllowed, match="users_manage"):
            user_service.set_roles(s, actor=buyer, username="c@example.com", roles="procurement")
        with pytest.raises(NotAllowed, match="yourself only"):
            user_service.issue_token(
                s, actor=buyer, username="c@example.com", name="x", valid_days=1
            )
        with pytest.raises(NotAllowed, match="users_manage"):
            user_service.revoke_tokens(s, actor=buyer, username="c@example.com")


@pytest.mark.parametrize("kind", list(ChangeKind))
def test_every_mail_names_the_change_in_both_languages(kind: ChangeKind) -> None:
    change = AccountChange(
        kind=kind,
        username="x@example.com",
        account_kind=AccountKind.PERSON,
        actor="root@example.com",
        occurred_at=datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
        revision=7,
        roles_before=frozenset({Role.PROCUREMENT}),
        roles_after=frozenset(Role) - {Role.ADMIN},
        token_name="ci",
        token_prefixes=("rnw_abcdefgh",),
    )
    subject, body = mail_text(change)
    japanese, english = _halves(body)
    assert "x@example.com" in subject and "変更番号: 7" in japanese and "number 7" in english
    assert "2026-12-05 10:00 UTC" in japanese and "2026-12-05 10:00 UTC" in english
    assert not ENUM_WORDS.search(japanese.replace("x@example.com", "").replace("root@", ""))
    if kind in (ChangeKind.CREATED, ChangeKind.ROLES_CHANGED):
        for role in change.roles_after:
            english_word, japanese_word = ROLE_WORDS[role]
            assert japanese_word in japanese and english_word in english


# ---------------------------------------------------------------------------- CLI


def _cli(args: list[str], *, stdin: str | None = None) -> Result:
    root = typer.Typer()
    root.add_typer(user_commands.app, name="users")  # as cli/main.py mounts it
    return CliRunner().invoke(root, ["users", *args], input=stdin)


@pytest.fixture
def cli_env(
    db_portal: Portal, database: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("DATABASE_URL", database[0])
    monkeypatch.delenv("RENEWALS_API_TOKEN", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_cli_keeps_the_same_limits(db_portal: Portal, cli_env: pytest.MonkeyPatch) -> None:
    p = db_portal
    lead = _lead(p.sessions)
    cli_env.setenv("RENEWALS_API_TOKEN", p.tokens["admin"])
    person, service = _unique("person"), _unique("svc")

    both = _cli(["add", _unique("both"), "--roles", "admin,legal"])
    assert both.exit_code == 1 and "roles: an administrator manages accounts" in both.output
    bot = _cli(["add", service, "--roles", "legal", "--service"])
    assert bot.exit_code == 1 and "roles: a service account is for an integration" in bot.output
    assert _roles(p.sessions, service) is None

    added = _cli(
        ["add", person, "--roles", "procurement", "--password-stdin"], stdin=f"{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output
    for_person = _cli(["token", person, "--days", "3650"])
    assert for_person.exit_code == 1
    assert "nobody issues an API token for another person" in for_person.output
    assert _tokens(p.sessions, person) == 0

    assert _cli(["add", service, "--roles", "procurement", "--service"]).exit_code == 0
    listed = _cli(["list"])
    assert f"{service}" in listed.output and "(service account)" in listed.output
    for_service = _cli(["token", service, "--name", "erp", "--request-id", "r-1"])
    assert for_service.exit_code == 0, for_service.output
    assert for_service.stdout.strip().splitlines()[-1].startswith("rnw_")
    retried = _cli(["token", service, "--name", "erp", "--request-id", "r-1"])
    assert retried.exit_code == 1 and "has issued a token" in retried.output
    assert _tokens(p.sessions, service) == 1

    # The person signs in and issues their own token, then one more with it.
    cli_env.delenv("RENEWALS_API_TOKEN")
    wrong = _cli(["login", person, "--password-stdin"], stdin="not the password\n")
    assert wrong.exit_code == 1 and "wrong password" in wrong.output
    login = _cli(["login", person, "--password-stdin", "--name", "laptop"], stdin=f"{PASSWORD}\n")
    assert login.exit_code == 0, login.output
    own = login.stdout.strip().splitlines()[-1]
    cli_env.setenv("RENEWALS_API_TOKEN", own)
    more = _cli(["token", "--name", "ci"])
    assert more.exit_code == 0, more.output
    not_theirs = _cli(["token", service])
    assert not_theirs.exit_code == 1 and "may not do this: needs users_manage" in not_theirs.output
    tokens = _cli(["tokens"])
    assert "laptop" in tokens.output and " ci" in tokens.output

    cli_env.setenv("RENEWALS_API_TOKEN", p.tokens["admin"])
    assert _cli(["roles", person, "--roles", "procurement_lead"]).exit_code == 0
    same = _cli(["roles", person, "--roles", "procurement_lead"])
    assert "nothing changed" in same.output
    assert _cli(["revoke", person, "--prefix", own[:12]]).exit_code == 0
    gone = _cli(["deactivate", person])
    assert gone.exit_code == 0 and "(1 token(s) revoked)" in gone.output
    assert "nothing changed" in _cli(["deactivate", person]).output

    assert [e.action for e in _entries(p.sessions, person)] == [
        "user_created",
        "token_issued",  # login
        "token_issued",  # with the login's token
        "user_roles_changed",
        "tokens_revoked",
        "user_deactivated",
    ]
    mails = _mails(p.sessions, person)
    assert len(mails) == 6 and all(lead in m.recipients for m in mails)
    assert [e.action for e in _entries(p.sessions, service)] == ["user_created", "token_issued"]
