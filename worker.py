"""The Temporal worker: runs ContractRenewalWorkflow and the renewal activities, and the
scheduled sweep on its own task queue.

    python worker.py            # or: renewals worker

Reads TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and TLS or API key settings for a remote cluster)
and DATABASE_URL. Start as many as you like against the same task queues to scale out. SIGTERM
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
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.digest_activities import DigestActivities
from activities.drafting import make_environment
from activities.followup_activities import FollowUpActivities
from activities.identity_activities import IdentityActivities
from activities.notifications import NotificationActivities
from activities.planning_activities import PlanningActivities
from activities.renewal_activities import RenewalActivities
from activities.sweep_activities import OPEN_RATE, SweepActivities
from config.identity import IdentityKeys, identity_keys
from config.mail import MailSettings
from config.settings import Settings, get_settings
from config.temporal import connect
from domain.account_changes import MAIL_KIND as ACCOUNT_CHANGE_MAIL
from domain.term_plan import CalendarSettings
from models.scorecard import ScoringConfig
from store.db import SessionFactory, make_engine, make_session_factory
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.digest import DigestWorkflow
from workflows.followup import FollowUpWorkflow
from workflows.sandbox import workflow_runner
from workflows.sweep import RenewalSweepWorkflow

log = logging.getLogger("renewals.worker")

WORKFLOWS: Sequence[type] = (
    ContractRenewalWorkflow,
    FollowUpWorkflow,
    RenewalSweepWorkflow,
    DigestWorkflow,
)
# The sweep's activity only reads a page and starts workflows (async, no thread): a few slots
# are plenty, and its database reads need a few connections beside the renewals' ones.
SWEEP_MAX_CONCURRENT_ACTIVITIES = 4
DEFAULT_MAX_CACHED_WORKFLOWS = 1000


def pool_size_for(max_concurrent_activities: int) -> int:
    """One connection per activity thread, so no activity waits for one, plus the sweep's."""
    return max_concurrent_activities + SWEEP_MAX_CONCURRENT_ACTIVITIES


class _Worker(Worker):
    """A worker that closes the database engine it made for itself when it stops, so a process
    that runs workers one after another (the dev stack, tests) leaves no connection open."""

    def __init__(self, *args: Any, engine: Engine | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owned_engine = engine

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._owned_engine is not None:
                self._owned_engine.dispose()


def build_worker(
    client: Client,
    *,
    task_queue: str,
    database_url: str | None = None,
    executor: ThreadPoolExecutor,
    template_dir: Path | None = None,
    max_concurrent_activities: int = 50,
    search_attributes: bool = False,
    mail: MailSettings | None = None,
    scoring: ScoringConfig | None = None,
    interim_extension_months: int = 3,
    calendars: CalendarSettings | None = None,
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
    sessions: SessionFactory | None = None,
    identity_keys: IdentityKeys,
    followup_interval_months: int = 3,
    followup_quiet_months: int = 6,
    web_base_url: str = "",
    sweep_open_rate: float = OPEN_RATE,
) -> Worker:
    """The renewals' worker. It also runs the sweep on ``task_queue`` (one queue for everything
    suits tests and small setups); ``run_worker`` adds :func:`build_sweep_worker` on its own.
    The database is ``sessions`` when given (an engine shared with other workers), else an
    engine of its own on ``database_url``."""
    owned: Engine | None = None
    if sessions is None:
        if database_url is None:
            raise ValueError("build_worker needs database_url or sessions")
        owned = make_engine(database_url, pool_size=pool_size_for(max_concurrent_activities))
        sessions = make_session_factory(owned)
    activities = RenewalActivities(
        sessions,
        template_dir=template_dir,
        scoring=scoring,
        interim_extension_months=interim_extension_months,
    )
    calendars = calendars or CalendarSettings()
    notifications = NotificationActivities(
        sessions,
        make_environment(template_dir),
        mail or MailSettings.outbox_only(),
        calendars=calendars,
        web_base_url=web_base_url,
    )
    planning = PlanningActivities(sessions, calendars)
    identity = IdentityActivities(sessions, identity_keys)
    followups = FollowUpActivities(
        sessions, interval_months=followup_interval_months, quiet_months=followup_quiet_months
    )
    digests = DigestActivities(
        sessions, notifications, calendars=calendars, web_base_url=web_base_url
    )
    sweep = SweepActivities(
        sessions,
        client,
        task_queue=task_queue,
        search_attributes=search_attributes,
        calendars=calendars,
        open_rate=sweep_open_rate,
    )
    return _Worker(
        client,
        engine=owned,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            *activities.all(),
            sweep.start_due_renewals,
            notifications.send_notification,
            planning.plan_term,
            planning.review_deadlines,
            planning.record_milestone,
            identity.verify_identity,
            *followups.all(),
            *digests.all(),
        ],
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        max_concurrent_activities=max_concurrent_activities,
        max_cached_workflows=max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


def build_sweep_worker(
    client: Client,
    *,
    task_queue: str,
    renewal_task_queue: str,
    sessions: SessionFactory,
    search_attributes: bool = False,
    calendars: CalendarSettings | None = None,
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
    open_rate: float = OPEN_RATE,
) -> Worker:
    """The sweep on a task queue of its own: its workflow tasks do not queue behind those of the
    renewals it starts (on ``renewal_task_queue``), however many it has just started. It tests
    whether a contract is due on the plan the workflow makes, so it needs the same
    ``calendars`` as :func:`build_worker`."""
    sweep = SweepActivities(
        sessions,
        client,
        task_queue=renewal_task_queue,
        search_attributes=search_attributes,
        calendars=calendars,
        open_rate=open_rate,
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[RenewalSweepWorkflow],
        activities=[sweep.start_due_renewals],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=SWEEP_MAX_CONCURRENT_ACTIVITIES,
        max_cached_workflows=max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    client = await connect(settings)
    slots = settings.worker_max_concurrent_activities
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size or pool_size_for(slots),
    )
    sessions = make_session_factory(engine)
    with ThreadPoolExecutor(max_workers=slots) as executor:
        worker = build_worker(
            client,
            task_queue=settings.temporal_task_queue,
            sessions=sessions,
            executor=executor,
            template_dir=settings.template_dir,
            max_concurrent_activities=settings.worker_max_concurrent_activities,
            search_attributes=settings.temporal_search_attributes,
            mail=MailSettings.from_settings(settings),
            calendars=settings.calendar_settings,
            scoring=settings.scoring,
            interim_extension_months=settings.interim_extension_months,
            max_cached_workflows=settings.worker_max_cached_workflows,
            identity_keys=identity_keys(settings),
            followup_interval_months=settings.followup_interval_months,
            followup_quiet_months=settings.followup_quiet_months,
            web_base_url=settings.web_base_url,
            sweep_open_rate=settings.sweep_open_rate,
        )
        sweep_worker = build_sweep_worker(
            client,
            task_queue=settings.resolved_sweep_task_queue,
            renewal_task_queue=settings.temporal_task_queue,
            sessions=sessions,
            search_attributes=settings.temporal_search_attributes,
            calendars=settings.calendar_settings,
            max_cached_workflows=settings.worker_max_cached_workflows,
            open_rate=settings.sweep_open_rate,
        )
        async with worker, sweep_worker:
            log.info(
                "worker polling %s and %s on %s/%s",
                settings.temporal_task_queue,
                settings.resolved_sweep_task_queue,
                settings.temporal_address,
                settings.temporal_namespace,
            )
            relay = asyncio.create_task(
                relay_outbox(
                    NotificationActivities(
                        sessions,
                        make_environment(settings.template_dir),
                        MailSettings.from_settings(settings),
                        web_base_url=settings.web_base_url,
                    ),
                    stop,
                )
            )
            await stop.wait()
            await relay
            log.info("stopping: finishing running activities")
    engine.dispose()


# Mail written by the services (account changes, announced to the legal lead) rather than by a
# renewal's activity: the worker sends it within about this many seconds.
RELAY_INTERVAL_SECONDS = 30.0
RELAYED_KINDS = (ACCOUNT_CHANGE_MAIL,)


async def relay_outbox(
    notifications: NotificationActivities,
    stop: asyncio.Event,
    *,
    interval: float = RELAY_INTERVAL_SECONDS,
) -> None:
    """Until ``stop``: send what the services left in the outbox, every ``interval`` seconds.
    A failing round (database or mail server down) is logged and tried again."""
    while not stop.is_set():
        try:
            sent = await asyncio.to_thread(notifications.relay, kinds=RELAYED_KINDS)
            if sent:
                log.info("outbox relay: %d message(s) sent", sent)
        except Exception:  # the next round tries again; the rows keep their state
            log.exception("outbox relay round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


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
