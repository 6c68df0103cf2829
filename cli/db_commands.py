"""`renewals db upgrade`: bring the database schema to the latest migration."""

from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from cli.common import engine_for, fail, load_settings, safe_url
from migrations.runner import upgrade as run_upgrade

app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the latest) on DATABASE_URL.

    Production runs this as its own deployment step, before starting new workers."""
    settings = load_settings()
    url = settings.resolved_database_url
    engine = engine_for(settings)
    try:
        run_upgrade(engine, revision)
    except OperationalError as exc:
        fail(f"cannot migrate {safe_url(url)}: {exc.orig or exc}")
    finally:
        engine.dispose()
    typer.echo(f"{safe_url(url)} is at {revision}")
