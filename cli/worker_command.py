"""`renewals worker`: the Temporal worker in the foreground (same as ``python worker.py``)."""

import asyncio
import logging

import typer

from cli.common import fail, load_settings
from config.codec import PayloadKeyFileError
from worker import run_worker

app = typer.Typer()


@app.command()
def worker() -> None:
    """Run a worker: renewal workflows and their activities.

    It polls TEMPORAL_TASK_QUEUE. Start as many as you like against the same Temporal
    namespace and database to scale out. SIGTERM or Ctrl-C stops polling, lets running
    activities finish, then exits."""
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(run_worker(settings))
    except PayloadKeyFileError as exc:
        fail(str(exc), code=2)
