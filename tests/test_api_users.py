"""Users, roles and tokens: the `renewals users` CLI, the admin API and token life cycle.
The limits on administrators (no tokens for people, no legal or procurement role) are
tests/test_admin_limits.py's."""

import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli import user_commands
from config.settings import get_settings
from store import users
from store.db import transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal


def _cli(args: list[str], *, stdin: str | None = None):
    root = typer.Typer()
    root.add_typer(user_commands.app, name="users")  # as cli/main.py mounts it
    return CliRunner().invoke(root, ["users", *args], input=stdin)


async def test_cli_creates_users_and_tokens_that_the_api_accepts(
    db_portal: Portal, database: tuple[str, Engine], monkeypatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database[0])
    monkeypatch.delenv("RENEWALS_API_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        name = f"new-{id(db_portal)}@example.com"
        # The database has users: the CLI acts only for an administrator's token (issue 14).
        anonymous = _cli(["add", name, "--roles", "legal"])
        assert anonymous.exit_code == 1 and "RENEWALS_API_TOKEN" in anonymous.output
        monkeypatch.setenv("RENEWALS_API_TOKEN", db_portal.tokens["admin"])
        added = _cli(
            ["add", name, "--roles", "legal,procurement", "--password-stdin"],
            stdin="a long enough passphrase\n",
        )
        assert added.exit_code == 0, added.output
        weak = _cli(
            ["add", "weak@example.com", "--roles", "legal", "--password-stdin"], stdin="x\n"
        )
        assert weak.exit_code == 1 and "password" in weak.output
        bad_role = _cli(["add", "r@example.com", "--roles", "boss"])
        assert bad_role.exit_code == 1 and "unknown role 'boss'" in bad_role.output
        dup = _cli(["add", name.upper(), "--roles", "legal"])
        assert dup.exit_code == 1 and "already exists" in dup.output
        listed = _cli(["list"])
        assert name in listed.output and "legal,procurement" in listed.output
        # Not even an administrator issues a token for a person: they sign in for their own.
        for_them = _cli(["token", name, "--name", "laptop", "--days", "1"])
        assert for_them.exit_code == 1
        assert "nobody issues an API token for another person" in for_them.output
        issued = _cli(
            ["login", name, "--name", "laptop", "--days", "1", "--password-stdin"],
            stdin="a long enough passphrase\n",
        )
        assert issued.exit_code == 0, issued.output
        token = issued.stdout.strip().splitlines()[-1]
        assert token.startswith("rnw_")
    finally:
        get_settings.cache_clear()

    me = await db_portal.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and set(me.json()["roles"]) == {"legal", "procurement"}

    with transaction(db_portal.sessions) as s:
        users.deactivate_user(s, username=name)
    gone = await db_portal.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


async def test_admin_api_manages_users(db_portal: Portal) -> None:
    p = db_portal
    created = await p.http.post(
        "/api/v1/users",
        json={"username": "Clerk@Example.com", "roles": ["procurement"]},
        headers=p.auth("admin"),
    )
    assert created.status_code == 201 and created.json()["username"] == "clerk@example.com"
    bad = await p.http.post(
        "/api/v1/users",
        json={"username": "x y", "roles": [], "display_name": "a\u202eb"},
        headers=p.auth("admin"),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"username", "roles", "display_name"}
    assert created.json()["kind"] == "person"
    for_person = await p.http.post(
        "/api/v1/users/clerk@example.com/tokens", json={"name": "ci"}, headers=p.auth("admin")
    )
    assert for_person.status_code == 403
    assert [e["field"] for e in for_person.json()["errors"]] == ["username"]
    service = await p.http.post(
        "/api/v1/users",
        json={"username": "ci-bot@example.com", "roles": ["reader"], "kind": "service"},
        headers=p.auth("admin"),
    )
    assert service.status_code == 201 and service.json()["kind"] == "service"
    token = await p.http.post(
        "/api/v1/users/ci-bot@example.com/tokens", json={"name": "ci"}, headers=p.auth("admin")
    )
    assert token.status_code == 201
    me = await p.http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token.json()['token']}"}
    )
    assert me.json()["username"] == "ci-bot@example.com" and me.json()["roles"] == ["reader"]
    listed = await p.http.get("/api/v1/users", headers=p.auth("admin"))
    kinds = {u["username"]: u["kind"] for u in listed.json()}
    assert kinds["ci-bot@example.com"] == "service" and kinds["clerk@example.com"] == "person"
    forged = await p.http.get("/api/v1/me", headers={"Authorization": "Bearer rnw_forged"})
    assert forged.status_code == 401
