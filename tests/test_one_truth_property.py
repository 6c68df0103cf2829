"""One truth (renewal-semantics.md §1), as a property: for random contracts (term models,
jurisdictions with their holidays, notice periods, transit buffers, month ends, amendments
mid-flight) started on the time-skipping server, every view shows the dates of the workflow's
own ``status``: the stored plan, the pipeline, the renewal's plan as the detail pages read it,
and the .ics feed. (tests/test_stored_plan_views.py checks the API, the CLI and the mails.)"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from config.settings import Settings
from models.contract import ContractAmendment
from models.milestones import MilestoneKind
from models.renewal import RenewalStatus
from services.calendar_feed import build_feed, planned_for_feed
from store import contracts as contract_store
from store import plans
from store.db import SessionFactory, transaction
from store.reads import pipeline as pipeline_reads
from store.reads.plans import plan_of
from tests.factories import register
from tests.identity_helpers import SIGNED
from tests.workflow_helpers import today
from workflows.contract_renewal import ContractRenewalWorkflow

JURISDICTIONS = ("JP", "US-NY", "DE-BY", "FR", "GB", "IE")
SETTINGS = Settings()


@dataclass(frozen=True)
class Case:
    term_model: str
    jurisdiction: str
    notice_days: int
    buffer_days: int
    months_to_end: int
    month_end: bool
    amend_days: int | None  # move the end date by this many days mid-flight
    amend_notice: int | None


cases = st.builds(
    Case,
    term_model=st.sampled_from(["fixed", "auto_renewing", "evergreen"]),
    jurisdiction=st.sampled_from(JURISDICTIONS),
    notice_days=st.integers(0, 120),
    buffer_days=st.integers(0, 5),
    months_to_end=st.integers(2, 14),
    month_end=st.booleans(),
    amend_days=st.one_of(st.none(), st.integers(-20, 120)),
    amend_notice=st.one_of(st.none(), st.integers(0, 90)),
)


def _dates(status: RenewalStatus) -> dict[str, date | None]:
    found: dict[str, date | None] = {
        "end_date": status.end_date,
        "notice_deadline": status.notice_deadline,
        "send_by": status.send_by,
    }
    found.update({m.kind.value: m.due for m in status.milestones})
    return found


async def _settled(handle: object, want_end: date | None = None) -> RenewalStatus:
    for _ in range(600):
        status: RenewalStatus = await handle.query(ContractRenewalWorkflow.status)  # type: ignore[attr-defined]
        if status.milestones and (want_end is None or status.end_date == want_end):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("the renewal never planned")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases)
async def test_every_view_shows_the_workflows_dates(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    case: Case,
) -> None:
    env = time_skipping_env
    now = await today(env)
    cid = f"P-{uuid.uuid4().hex[:10]}"
    owner = f"{cid.lower()}@example.com"
    end = now + relativedelta(months=case.months_to_end)
    if case.month_end:
        end = end + relativedelta(day=31)
    start = end - relativedelta(years=1)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=owner,
            start_date=start if case.term_model != "evergreen" else now - relativedelta(months=2),
            end_date=end if case.term_model != "evergreen" else None,
            notice_period_days=case.notice_days,
            transit_buffer_days=case.buffer_days,
            jurisdiction=case.jurisdiction,
            term_model=case.term_model,
            review_period_months=12,
        )
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=owner, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    status = await _settled(handle)
    if case.amend_days is not None and status.end_date is not None:
        new_end = max(status.end_date + timedelta(days=case.amend_days), now + timedelta(days=2))
        status = await renewals.amend_renewal(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            amendment=ContractAmendment(
                end_date=new_end, notice_period_days=case.amend_notice, amended_by=owner
            ),
        )
        status = await _settled(handle, want_end=new_end)
    truth = _dates(status)

    with transaction(sessions) as s:
        stored = plans.read_plan(s, contract_id=cid, term=1)
        contract = contract_store.get_contract(s, contract_id=cid)
        shown = plan_of(
            s,
            contract=contract,
            today=now,
            policy=SETTINGS.renewal_policy,
            cfg=SETTINGS.calendar_settings,
        )
        feed = build_feed(
            planned_for_feed(
                s,
                owner=owner,
                today=now,
                cfg=SETTINGS.calendar_settings,
                policy=SETTINGS.renewal_policy,
            )
        )
        items, _total = pipeline_reads.pipeline(
            s,
            today=now,
            policy=SETTINGS.renewal_policy,
            cfg=SETTINGS.calendar_settings,
            flt=pipeline_reads.PipelineFilter(owner=owner),
        )
    assert stored is not None and shown is not None and not shown.preview
    for plan in (stored, shown):
        seen: dict[str, date | None] = {
            "end_date": plan.end_date,
            "notice_deadline": plan.notice_deadline,
            "send_by": plan.send_by,
        }
        seen.update({m.kind.value: m.due for m in plan.milestones})
        assert seen == truth, case
    (item,) = items
    assert item.end_date == truth["end_date"]
    assert item.notice_deadline == truth["notice_deadline"]
    assert item.send_by == truth["send_by"]
    assert item.next_milestone is not None
    assert item.next_milestone.due == truth[item.next_milestone.kind], case
    # The calendar feed: one event per milestone and one for the notice deadline, each on the
    # workflow's date (the uid names which).
    events = {
        str(e["uid"]).split("@")[0].split("-term1-")[1]: e.decoded("dtstart")
        for e in Calendar.from_ical(feed).walk("VEVENT")
    }
    expected: dict[str, date | None] = {m.kind.value: m.due for m in status.milestones}
    expected["notice-deadline"] = status.notice_deadline
    assert events == expected, case
    assert MilestoneKind.EXPIRY.value in truth
    await handle.terminate("example over")
