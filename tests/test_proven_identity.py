"""Proven identity (renewal-semantics.md §6, issue 14): a decision counts only with an
assertion signed by a trusted front end for that person, that workflow, that request.

The rule itself (domain.identity.assertion_refusal) one refusal at a time; then the real
workflow on the time-skipping server refusing decisions sent straight to Temporal (unsigned,
forged, signed for someone else, replayed, with and without payload encryption) and recording
each refusal in the audit trail; then the `temporal` CLI against the dev server.
"""

import asyncio
import dataclasses
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from pydantic import BaseModel
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from clients import renewals
from clients.renewals import DecisionSigner
from config.binaries import temporal_cli
from config.codec import EncryptionCodec, new_key, with_codec
from config.identity import IdentityKeys
from domain.identity import assertion_refusal, request_digest, sign
from migrations.runner import upgrade
from models.contract import ContractAmendment
from models.identity import IdentityAssertion
from models.milestones import MilestoneKind
from models.renewal import AmendmentRequest, ReviewDecisionKind, ReviewSubmission
from models.tables import AuditLogRow, RenewalRow, ReviewDecisionRow
from store import users as user_store
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.factories import register
from tests.identity_helpers import SIGNED, TEST_IDENTITY_KEYS
from tests.workflow_helpers import skip_past, today
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow

R = TypeVar("R", bound=BaseModel)
OWNER = "buyer@example.com"
LAWYER = "lawyer@example.com"
WF = "renewal/C-X/term-1"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------- the rule


def _submission(**changes: object) -> ReviewSubmission:
    base: dict[str, object] = {
        "decision": ReviewDecisionKind.APPROVE,
        "reviewer": LAWYER,
        "draft_version": 1,
        "content_hash": "a" * 64,
    }
    base.update(changes)
    return ReviewSubmission.model_validate(base)


def _signed(
    request: ReviewSubmission, *, keys: IdentityKeys = TEST_IDENTITY_KEYS, **claims: object
) -> IdentityAssertion:
    made = keys.signer(subject=LAWYER, roles=("legal",)).assertion_for(
        workflow_id=WF,
        action="submit_review",
        request=request,
        draft_version=request.draft_version,
        content_hash=request.content_hash,
    )
    if not claims:
        return made
    changed = made.model_copy(update=claims)
    return sign(changed, keys.keys[keys.active_key_id])


def _refusal(
    assertion: IdentityAssertion | None, request: ReviewSubmission, *, now: datetime | None = None
) -> str | None:
    return assertion_refusal(
        assertion,
        keys=TEST_IDENTITY_KEYS.keys,
        now=now or (assertion.issued_at if assertion else NOW),
        workflow_id=WF,
        action="submit_review",
        claimed=request.reviewer,
        digest=request_digest(request),
        draft_version=request.draft_version,
        content_hash=request.content_hash,
    )


def test_a_signed_assertion_for_this_request_is_taken() -> None:
    request = _submission()
    assert _refusal(_signed(request), request) is None


def test_the_digest_leaves_the_assertion_out() -> None:
    request = _submission()
    signed = request.model_copy(update={"assertion": _signed(request)})
    assert request_digest(signed) == request_digest(request)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("unsigned", "assertion"),
        ("unknown key id", "assertion.key_id"),
        ("wrong signature", "assertion.signature"),
        ("another workflow", "assertion.workflow_id"),
        ("another action", "assertion.action"),
        ("request changed after signing", "assertion.request_digest"),
        ("stale version", "assertion.draft_version"),
        ("stale hash", "assertion.content_hash"),
        ("someone else's name", "assertion.subject"),
        ("expired", "assertion.expires_at"),
        ("lives too long", "assertion.expires_at"),
        ("from the future", "assertion.issued_at"),
    ],
)
def test_each_wrong_assertion_is_refused_naming_the_field(case: str, field: str) -> None:
    request = _submission()
    good = _signed(request)
    now: datetime | None = None
    assertion: IdentityAssertion | None
    if case == "unsigned":
        assertion = None
    elif case == "unknown key id":
        assertion = good.model_copy(update={"key_id": "nobody-has-this"})
    elif case == "wrong signature":
        forged = IdentityKeys.generate()
        assertion = _signed(request, keys=dataclasses.replace(forged, active_key_id="generated"))
        assertion = sign(
            assertion.model_copy(update={"key_id": TEST_IDENTITY_KEYS.active_key_id}),
            forged.keys["generated"],
        )
    elif case == "another workflow":
        assertion = _signed(request, workflow_id="renewal/C-OTHER/term-1")
    elif case == "another action":
        assertion = _signed(request, action="amend")
    elif case == "request changed after signing":
        assertion = good
        request = _submission(comment="approved, and the price may rise 9 %")
    elif case == "stale version":
        assertion = _signed(request, draft_version=2)
    elif case == "stale hash":
        assertion = _signed(request, content_hash="b" * 64)
    elif case == "someone else's name":
        assertion = _signed(request, subject="mallory@example.com")
    elif case == "expired":
        assertion = good
        now = good.expires_at + timedelta(seconds=1)
    elif case == "lives too long":
        assertion = _signed(request, expires_at=good.issued_at + timedelta(days=3650))
    else:
        assertion = good
        now = good.issued_at - timedelta(minutes=10)
    reason = _refusal(assertion, request, now=now)
    assert reason is not None, case
    assert reason.startswith(f"{field}:"), reason


# ---------------------------------------------------------------------------- the workflow


async def _in_review(
    env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    task_queue: str,
    *,
    owner: str = OWNER,
    requested_by: str = OWNER,
) -> tuple[str, WorkflowHandle[ContractRenewalWorkflow, object], str]:
    cid = f"C-ID-{uuid.uuid4().hex[:8]}"
    now = await today(env)
    end = now + relativedelta(months=8)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=16),
            end_date=end,
            notice_period_days=30,
            owner=owner,
        )
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=requested_by, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    status = await handle.query(ContractRenewalWorkflow.status)
    assert [d.version for d in status.drafts] == [1]
    return cid, handle, status.drafts[0].content_hash


def _refused_entries(sessions: SessionFactory, workflow_id: str) -> list[dict[str, object]]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.action == "decision_refused")
            .where(AuditLogRow.subject_id == workflow_id)
            .order_by(AuditLogRow.id)
        )
        return [dict(r.detail) for r in rows]


def _decisions(sessions: SessionFactory, cid: str) -> int:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(ReviewDecisionRow)
            .join(RenewalRow, RenewalRow.id == ReviewDecisionRow.renewal_id)
            .where(RenewalRow.contract_id == cid)
        )
        return len(list(rows))


def _attach(
    request: R,
    signer: DecisionSigner,
    *,
    workflow_id: str,
    action: str,
    key_id: str | None = None,
) -> R:
    """``request`` carrying ``signer``'s assertion, as clients.renewals sends it; ``key_id``
    claims another key than the one that signed (a forgery)."""
    version = getattr(request, "draft_version", None)
    assertion = signer.assertion_for(
        workflow_id=workflow_id,
        action=action,
        request=request,
        draft_version=version if action == "submit_review" else None,
        content_hash=getattr(request, "content_hash", None),
    )
    if key_id is not None:
        assertion = assertion.model_copy(update={"key_id": key_id})
    return request.model_copy(update={"assertion": assertion})


def _identity_refusal(err: WorkflowUpdateFailedError) -> ApplicationError:
    cause = err.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == "IdentityRefused", (cause.type, cause.message)
    return cause


async def test_decisions_sent_straight_to_temporal_are_refused_and_recorded(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: object,
    task_queue: str,
) -> None:
    cid, handle, content_hash = await _in_review(time_skipping_env, client, sessions, task_queue)
    typed_in = ReviewSubmission(
        decision=ReviewDecisionKind.APPROVE, reviewer="mallory-not-a-user", draft_version=1
    )
    with pytest.raises(WorkflowUpdateFailedError) as unsigned:
        await handle.execute_update(ContractRenewalWorkflow.submit_review, typed_in)
    assert _identity_refusal(unsigned.value).message.startswith("assertion:")

    # Signed with a key no front end holds.
    forger = IdentityKeys.generate().signer(subject=LAWYER, roles=("legal",))
    forged_request = ReviewSubmission(
        decision=ReviewDecisionKind.APPROVE,
        reviewer=LAWYER,
        draft_version=1,
        content_hash=content_hash,
    )
    forged = _attach(
        forged_request,
        forger,
        workflow_id=handle.id,
        action="submit_review",
        key_id=TEST_IDENTITY_KEYS.active_key_id,
    )
    with pytest.raises(WorkflowUpdateFailedError) as bad_signature:
        await handle.execute_update(ContractRenewalWorkflow.submit_review, forged)
    assert _identity_refusal(bad_signature.value).message.startswith("assertion.signature:")

    # A real signature for the lawyer, sent in another person's name.
    someone = forged_request.model_copy(update={"reviewer": "mallory@example.com"})
    real = TEST_IDENTITY_KEYS.signer(subject=LAWYER, roles=("legal",))
    as_other = _attach(someone, real, workflow_id=handle.id, action="submit_review")
    with pytest.raises(WorkflowUpdateFailedError) as other_name:
        await handle.execute_update(ContractRenewalWorkflow.submit_review, as_other)
    assert _identity_refusal(other_name.value).message.startswith("assertion.subject:")

    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.decisions == () and status.stage.value == "legal_review"
    assert _decisions(sessions, cid) == 0
    refused = _refused_entries(sessions, handle.id)
    assert [e["claimed"] for e in refused] == [
        "mallory-not-a-user",
        LAWYER,
        "mallory@example.com",
    ]
    assert all(e["action"] == "submit_review" for e in refused)

    # The same decision through the front end's signer counts.
    result = await renewals.submit_review(
        client, signer=SIGNED, contract_id=cid, term=1, submission=forged_request
    )
    assert result.record.reviewer == LAWYER
    assert _decisions(sessions, cid) == 1
    await handle.terminate("test over")


async def test_a_replayed_assertion_is_refused(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: object,
    task_queue: str,
) -> None:
    _, handle, _ = await _in_review(time_skipping_env, client, sessions, task_queue)
    request = AmendmentRequest(
        amendment=ContractAmendment(notice_period_days=45, amended_by=OWNER, reason="agreed")
    )
    signed = _attach(request, SIGNED, workflow_id=handle.id, action="amend")
    first = await handle.execute_update(ContractRenewalWorkflow.amend, signed, id="amend-1")
    assert first.notice_deadline is not None
    # The same update id is the same update: Temporal answers it again, nothing new happens.
    again = await handle.execute_update(ContractRenewalWorkflow.amend, signed, id="amend-1")
    assert again == first
    # The captured request played again as a new update is refused.
    with pytest.raises(WorkflowUpdateFailedError) as replayed:
        await handle.execute_update(ContractRenewalWorkflow.amend, signed, id="amend-2")
    assert _identity_refusal(replayed.value).message.startswith("assertion.nonce:")
    [entry] = _refused_entries(sessions, handle.id)
    assert entry["update_id"] == "amend-2"
    await handle.terminate("test over")


async def test_current_accounts_decide_not_the_signed_roles(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: object,
    task_queue: str,
) -> None:
    """With accounts, the person's roles and status now count: a role taken away or an account
    deactivated since the assertion was signed (or signed with roles it never had) is refused."""
    cid, handle, content_hash = await _in_review(time_skipping_env, client, sessions, task_queue)
    with transaction(sessions) as s:
        user_store.create_user(s, username=LAWYER, display_name="Lawyer", roles="procurement")
        user_store.create_user(s, username="legal2@example.com", display_name="L2", roles="legal")
        user_store.deactivate_user(s, username="legal2@example.com")
    for reviewer, reason in (
        (LAWYER, "does not hold the permission review"),
        ("legal2@example.com", "is deactivated"),
        ("ghost@example.com", "has no account"),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await renewals.submit_review(
                client,
                signer=SIGNED,  # signs "legal" whatever the account says
                contract_id=cid,
                term=1,
                submission=ReviewSubmission(
                    decision=ReviewDecisionKind.APPROVE,
                    reviewer=reviewer,
                    draft_version=1,
                    content_hash=content_hash,
                ),
            )
        assert reason in _identity_refusal(refused.value).message
    assert _decisions(sessions, cid) == 0
    assert len(_refused_entries(sessions, handle.id)) == 3
    await handle.terminate("test over")


@pytest_asyncio.fixture
async def encrypted(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: object,
    task_queue: str,
    activity_executor: ThreadPoolExecutor,
) -> AsyncIterator[Client]:
    """A worker and a front end that encrypt every payload."""
    codec = EncryptionCodec.from_base64({"k1": new_key()}, "k1")
    plain = time_skipping_env.client
    secret = Client(
        plain.service_client,
        namespace=plain.namespace,
        data_converter=with_codec(pydantic_data_converter, codec),
    )
    worker = build_worker(
        secret,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=8,
    )
    async with worker:
        yield secret


async def test_plain_json_is_refused_when_payloads_are_encrypted(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    encrypted: Client,
    task_queue: str,
) -> None:
    """The codec lets unencrypted payloads through (histories from before encryption); the
    identity check does not depend on it."""
    cid, handle, _ = await _in_review(time_skipping_env, encrypted, sessions, task_queue)
    plain_handle = time_skipping_env.client.get_workflow_handle_for(
        ContractRenewalWorkflow.run, handle.id
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await plain_handle.execute_update(
            ContractRenewalWorkflow.submit_review,
            ReviewSubmission(
                decision=ReviewDecisionKind.APPROVE, reviewer="mallory", draft_version=1
            ),
        )
    cause = refused.value.cause
    # The worker encodes its failures: the plain client sees an encoded failure, the
    # encrypted front end the reason. Either way the decision did not count.
    assert isinstance(cause, ApplicationError)
    assert _decisions(sessions, cid) == 0
    [entry] = _refused_entries(sessions, handle.id)
    assert str(entry["reason"]).startswith("assertion:")
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.decisions == ()
    await handle.terminate("test over")


# ---------------------------------------------------------------------------- the temporal CLI


@pytest.mark.devserver
async def test_the_temporal_cli_cannot_approve(
    dev_env: WorkflowEnvironment, tmp_path: Path, activity_executor: ThreadPoolExecutor
) -> None:
    """The issue's own attempt: `temporal workflow update execute ... --name submit_review`
    with a typed-in reviewer, against the dev server."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    cid = f"C-CLI-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).date()
    with transaction(sessions) as s:
        # Ends within a month: every milestone is already past, v1 is drafted at once.
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=11),
            end_date=now + relativedelta(days=20),
            notice_period_days=10,
            owner=OWNER,
        )
    worker = build_worker(
        dev_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        sessions=sessions,
        executor=activity_executor,
        max_concurrent_activities=8,
    )
    async with worker:
        await renewals.start_renewal(
            dev_env.client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
        )
        handle = renewals.renewal_handle(dev_env.client, contract_id=cid, term=1)
        for _ in range(200):
            status = await handle.query(ContractRenewalWorkflow.status)
            if status.drafts:
                break
            await asyncio.sleep(0.1)
        assert status.drafts, "no draft"
        address = dev_env.client.service_client.config.target_host
        done = await asyncio.to_thread(
            subprocess.run,
            [
                str(temporal_cli()),
                "workflow",
                "update",
                "execute",
                "--address",
                address,
                "-w",
                handle.id,
                "--name",
                "submit_review",
                "--input",
                json.dumps(
                    {"decision": "approve", "reviewer": "mallory-not-a-user", "draft_version": 1}
                ),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0, done.stdout
        assert "assertion" in (done.stdout + done.stderr), done.stderr
        status = await handle.query(ContractRenewalWorkflow.status)
        assert status.decisions == ()
        assert [e["claimed"] for e in _refused_entries(sessions, handle.id)] == [
            "mallory-not-a-user"
        ]
        await handle.terminate("test over")
    engine.dispose()


async def test_the_contracts_owner_may_not_approve_even_with_the_legal_role(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: object,
    task_queue: str,
) -> None:
    """A renewal started by the schedule (requested by someone else) of a contract whose owner
    also holds the legal role: the owner is not its checker (§6)."""
    cid, handle, content_hash = await _in_review(
        time_skipping_env,
        client,
        sessions,
        task_queue,
        owner=LAWYER,
        requested_by="schedule@example.com",
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await renewals.submit_review(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            submission=ReviewSubmission(
                decision=ReviewDecisionKind.APPROVE,
                reviewer=LAWYER,
                draft_version=1,
                content_hash=content_hash,
            ),
        )
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidReview"
    assert cause.message.startswith("reviewer:") and "owner" in cause.message
    assert _decisions(sessions, cid) == 0
    await handle.terminate("test over")
