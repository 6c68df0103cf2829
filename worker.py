"""The Temporal worker: runs ContractRenewalWorkflow and the renewal activities.

    python worker.py            # or: renewals worker

Reads TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and TLS or API key settings for a remote cluster)
and DATABASE_URL. Start as many as you like against the same task queue to scale out. SIGTERM
or SIGINT stops polling, lets running activities finish, and exits.
"""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.db import make_engine, make_session_factory
from activities.drafting import make_environment
from activities.notifications import MailSettings, NotificationActivities
from activities.planning_activities import CalendarSettings, PlanningActivities
from activities.renewal_activities import RenewalActivities
from activities.sweep_activities import SweepActivities
from config.settings import Settings, get_settings
from config.temporal import connect
from models.scorecard import ScoringConfig
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.sandbox import workflow_runner
from workflows.sweep import RenewalSweepWorkflow

log = logging.getLogger("renewals.worker")

WORKFLOWS: Sequence[type] = (ContractRenewalWorkflow, RenewalSweepWorkflow)


def build_worker(
    client: Client,
    *,
    task_queue: str,
    database_url: str,
    executor: ThreadPoolExecutor,
    template_dir: Path | None = None,
    max_concurrent_activities: int = 50,
    search_attributes: bool = False,
    mail: MailSettings | None = None,
    scoring: ScoringConfig | None = None,
    interim_extension_months: int = 3,
    calendars: CalendarSettings | None = None,
) -> Worker:
    sessions = make_session_factory(make_engine(database_url))
    activities = RenewalActivities(
        sessions,
        template_dir=template_dir,
        scoring=scoring,
        interim_extension_months=interim_extension_months,
    )
    notifications = NotificationActivities(
        sessions, make_environment(template_dir), mail or MailSettings.outbox_only()
    )
    planning = PlanningActivities(sessions, calendars or CalendarSettings())
    sweep = SweepActivities(
        sessions, client, task_queue=task_queue, search_attributes=search_attributes
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            *activities.all(),
            sweep.start_due_renewals,
            notifications.send_notification,
            planning.plan_term,
            planning.review_deadlines,
        ],
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as executor:
        worker = build_worker(
            client,
            task_queue=settings.temporal_task_queue,
            database_url=settings.resolved_database_url,
            executor=executor,
            template_dir=settings.template_dir,
            max_concurrent_activities=settings.worker_max_concurrent_activities,
            search_attributes=settings.temporal_search_attributes,
            mail=MailSettings.from_settings(settings),
            calendars=CalendarSettings.from_settings(settings),
            scoring=settings.scoring,
            interim_extension_months=settings.interim_extension_months,
        )
        async with worker:
            log.info(
                "worker polling %s on %s/%s",
                settings.temporal_task_queue,
                settings.temporal_address,
                settings.temporal_namespace,
            )
            await stop.wait()
            log.info("stopping: finishing running activities")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker(get_settings()))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's native runtime can abort in its own teardown at interpreter exit (temporalio
    # sdk-python#300, "PyGILState_Release"); everything is shut down and flushed by now.
    os._exit(0)


if __name__ == "__main__":
    main()
