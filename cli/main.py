"""The ``renewals`` command: one Typer app mounting a small module per topic.

    renewals db upgrade                     cli/db_commands.py
    renewals suppliers import FILE          cli/supplier_commands.py
    renewals contracts import|list          cli/contract_commands.py
    renewals start|status|review|amend|terminate|redraft CONTRACT_ID
                                            cli/renewal_commands.py
    renewals version edit|offer|answer|hearing|negotiation CONTRACT_ID
                                            cli/negotiation_commands.py
    renewals data import-deliveries|import-tickets|import-prices|import-market|scorecard
                                            cli/data_commands.py
    renewals plan --file FILE               cli/plan_commands.py
    renewals plans backfill [--contract ID] cli/stored_plan_commands.py
    renewals pipeline|show|export           cli/pipeline_commands.py
    renewals schedule ...                   cli/schedule_commands.py
    renewals calendar export                cli/calendar_commands.py
    renewals users add|list|token|revoke|deactivate   cli/user_commands.py
    renewals teams create|list|add-member|remove-member|assign   cli/team_commands.py
    renewals audit export                   cli/audit_commands.py
    renewals followups list|record|close-action|interval   cli/followup_commands.py
    renewals worker                         cli/worker_command.py
    renewals dev                            cli/devstack.py

Configuration comes from the environment (see config/settings.py and the README).
"""

import contextlib
import logging
import os
import sys
from typing import Any, NoReturn

import typer

from cli import (
    audit_commands,
    calendar_commands,
    contract_commands,
    data_commands,
    db_commands,
    devstack,
    followup_commands,
    negotiation_commands,
    pipeline_commands,
    plan_commands,
    renewal_commands,
    schedule_commands,
    stored_plan_commands,
    supplier_commands,
    team_commands,
    user_commands,
    worker_command,
)


class RenewalsApp(typer.Typer):
    """The Typer app, ending the process with ``os._exit`` once the command is done.

    The Temporal client's Rust threads can outlive ``asyncio.run`` and abort the interpreter's
    shutdown ("Fatal Python error: PyGILState_Release", exit code 134; temporalio/sdk-python#300)
    after the command itself succeeded. So, once the command has finished and its output is
    flushed, the process exits with the command's code without that teardown. Only the real
    entry point goes through here: typer.testing.CliRunner invokes the command directly."""

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            super().__call__(*args, **kwargs)
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:
            sys.excepthook(*sys.exc_info())  # Typer's pretty traceback
            code = 1
        _hard_exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _hard_exit(code: int) -> NoReturn:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


app = RenewalsApp(
    name="renewals",
    help="Contract renewals on Temporal: import contracts, run and steer their renewals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

app.add_typer(db_commands.app, name="db")
app.add_typer(supplier_commands.app, name="suppliers")
app.add_typer(contract_commands.app, name="contracts")
app.add_typer(data_commands.app, name="data")
app.add_typer(plan_commands.app, name="plan")
app.add_typer(stored_plan_commands.app, name="plans")
app.add_typer(renewal_commands.app)
app.add_typer(negotiation_commands.app)
app.add_typer(pipeline_commands.app)
app.add_typer(schedule_commands.app, name="schedule")
app.add_typer(calendar_commands.app, name="calendar")
app.add_typer(user_commands.app, name="users")
app.add_typer(team_commands.app, name="teams")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(followup_commands.app, name="followups")
app.add_typer(worker_command.app)
app.add_typer(devstack.app)


if __name__ == "__main__":
    app()
