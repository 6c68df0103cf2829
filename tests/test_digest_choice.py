"""The per-user mail choice (issue 17) through the API and the CLI: each person shows and
chooses their own; a bad value is refused naming the field; each change is audited once."""

import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cli import user_commands
from config.settings import get_settings
from models.tables import AuditLogRow
from services.account_mail import MAIL_DELIVERY_CHANGED
from store import users as user_store
from store.db import transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal


async def test_the_api_shows_and_sets_ones_own_mail_delivery(db_portal: Portal) -> None:
    me = db_portal.auth("procurement")
    shown = await db_portal.http.get("/api/v1/me/mail-delivery", headers=me)
    assert shown.status_code == 200 and shown.json() == {"mail_delivery": "immediate"}
    put = await db_portal.http.put(
        "/api/v1/me/mail-delivery", headers=me, json={"mail_delivery": "digest"}
    )
    assert put.status_code == 200 and put.json() == {"mail_delivery": "digest"}
    again = await db_portal.http.put(
        "/api/v1/me/mail-delivery", headers=me, json={"mail_delivery": "digest"}
    )
    assert again.status_code == 200
    bad = await db_portal.http.put(
        "/api/v1/me/mail-delivery", headers=me, json={"mail_delivery": "hourly"}
    )
    assert bad.status_code == 422 and "mail_delivery" in bad.text
    name = db_portal.username("procurement")
    with transaction(db_portal.sessions) as s:
        assert user_store.mail_delivery(s, username=name) == "digest"
        audited = list(
            s.scalars(select(AuditLogRow).where(AuditLogRow.action == MAIL_DELIVERY_CHANGED))
        )
    assert [a.subject_id for a in audited] == [name]  # the unchanged choice is not audited


def _cli(args: list[str]):
    root = typer.Typer()
    root.add_typer(user_commands.app, name="users")
    return CliRunner().invoke(root, ["users", *args])


async def test_the_cli_shows_and_sets_ones_own_mail_delivery(
    db_portal: Portal, database: tuple[str, Engine], monkeypatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database[0])
    monkeypatch.setenv("RENEWALS_API_TOKEN", db_portal.tokens["legal"])
    get_settings.cache_clear()
    try:
        assert _cli(["mail-delivery"]).stdout.strip() == "immediate"
        chosen = _cli(["mail-delivery", "digest"])
        assert chosen.exit_code == 0 and chosen.stdout.strip().endswith(": digest")
        assert _cli(["mail-delivery"]).stdout.strip() == "digest"
        bad = _cli(["mail-delivery", "hourly"])
        assert bad.exit_code == 1 and "mail_delivery" in bad.output
    finally:
        get_settings.cache_clear()
