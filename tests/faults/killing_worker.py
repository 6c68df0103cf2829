"""A renewals worker that SIGKILLs itself, once, around one activity.

It is ``worker.py``'s ``run_worker`` unchanged (same settings, same ``build_worker``, same
signal handling), with one activity interceptor added to its Temporal client; workers take
client interceptors that also implement ``temporalio.worker.Interceptor``. Configured by the
environment like the real worker (TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, DATABASE_URL, ...),
plus:

FAULT_ACTIVITY    activity name (``models.activity_names.ActivityName``) to crash around;
                  unset: a normal worker.
FAULT_WHEN        ``after`` (default): run the activity, so its transaction commits, then die
                  before the SDK reports the result: Temporal never hears of the completion.
                  ``before``: die when the task arrives, before the activity runs.
FAULT_MARKER_DIR  where ``<activity>-<when>.json`` is created (O_EXCL) just before the kill: the
                  fault fires at most once per directory, however many processes share it. It
                  holds what was killed (workflow id, activity id, attempt, pid).

    FAULT_ACTIVITY=record_review FAULT_MARKER_DIR=/tmp/f DATABASE_URL=sqlite:///r.db \\
        TEMPORAL_TASK_QUEUE=q python tests/faults/killing_worker.py
"""

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import temporalio.client
import temporalio.worker
from temporalio import activity
from temporalio.activity import Info as ActivityInfo
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

import worker as renewals_worker
from config.settings import Settings, get_settings
from config.temporal import connect
from models.activity_names import ActivityName

log = logging.getLogger("renewals.faults")

When = Literal["before", "after"]


@dataclass(frozen=True, slots=True)
class Fault:
    activity: str
    when: When
    marker_dir: Path

    @classmethod
    def from_env(cls) -> "Fault | None":
        name = os.environ.get("FAULT_ACTIVITY", "").strip()
        if not name:
            return None
        if name not in {a.value for a in ActivityName}:  # a typo must not disarm the fault
            raise SystemExit(f"FAULT_ACTIVITY {name!r} is not an activity name")
        when = os.environ.get("FAULT_WHEN", "after").strip() or "after"
        if when not in ("before", "after"):
            raise SystemExit(f"FAULT_WHEN must be 'before' or 'after', not {when!r}")
        marker_dir = os.environ.get("FAULT_MARKER_DIR", "").strip()
        if not marker_dir:
            raise SystemExit("FAULT_MARKER_DIR is required with FAULT_ACTIVITY")
        return cls(name, "before" if when == "before" else "after", Path(marker_dir))

    @property
    def marker(self) -> Path:
        return self.marker_dir / f"{self.activity}-{self.when}.json"

    def fire(self, info: ActivityInfo) -> None:
        """SIGKILL this process unless the marker says the fault already fired."""
        self.marker_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return
        record = {
            "activity": info.activity_type,
            "when": self.when,
            "workflow_id": info.workflow_id,
            "activity_id": info.activity_id,
            "attempt": info.attempt,
            "pid": os.getpid(),
        }
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        log.warning("fault: SIGKILL %s activity %s", self.when, info.activity_type)
        logging.shutdown()  # flush the log line; nothing else gets a chance to run
        os.kill(os.getpid(), signal.SIGKILL)


class _KillingActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, fault: Fault) -> None:
        super().__init__(next)
        self._fault = fault

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.activity_type != self._fault.activity:
            return await self.next.execute_activity(input)
        if self._fault.when == "before":
            self._fault.fire(info)
            return await self.next.execute_activity(input)
        # Sync activities run in the executor; this await returns once the function returned,
        # i.e. after its ``with transaction(...)`` committed, and before the SDK reports it.
        result = await self.next.execute_activity(input)
        self._fault.fire(info)
        return result


class KillOnce(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """A client interceptor that workers built with the client pick up for activities."""

    def __init__(self, fault: Fault) -> None:
        self._fault = fault

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _KillingActivityInbound(next, self._fault)


async def connect_with_fault(settings: Settings) -> temporalio.client.Client:
    client = await connect(settings)
    fault = Fault.from_env()
    if fault is None:
        return client
    log.info("fault armed: SIGKILL %s %s (marker %s)", fault.when, fault.activity, fault.marker)
    config = client.config()
    config["interceptors"] = [*config["interceptors"], KillOnce(fault)]
    return temporalio.client.Client(**config)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    Fault.from_env()  # refuse a bad configuration before connecting
    # run_worker connects through worker.connect: route it through the interceptor above so
    # everything else is the production worker.
    if not callable(getattr(renewals_worker, "connect", None)):
        raise SystemExit("worker.run_worker no longer connects through worker.connect")
    renewals_worker.connect = connect_with_fault  # type: ignore[attr-defined]  # re-export
    asyncio.run(renewals_worker.run_worker(get_settings()))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # as worker.main: the SDK runtime can abort in its own teardown


if __name__ == "__main__":
    main()
