"""Payload encryption: round trip, key rotation, unknown keys, the key file of `renewals dev`,
a history with no secrets, and failures (messages, stack traces) encrypted too."""

import json
import os
import stat
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from google.protobuf.message import Message
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DefaultFailureConverter,
    DefaultFailureConverterWithEncodedAttributes,
)
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from clients import renewals
from config.binaries import temporal_test_server
from config.codec import (
    KEY_FILE_NAME,
    EncryptionCodec,
    PayloadKeyFileError,
    UnknownEncryptionKey,
    ensure_key_file,
    new_key,
    with_codec,
)
from config.settings import Settings
from config.temporal import data_converter, payload_keys
from models.renewal import OutcomeKind
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.identity_helpers import TEST_IDENTITY_KEYS
from tests.workflow_helpers import result_of, today
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.followup import FollowUpWorkflow
from workflows.sandbox import workflow_runner

KEY_A, KEY_B = new_key(), new_key()


def _payloads(message: Message) -> Iterator[Payload]:
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            yield from _payloads(value)
        else:  # a repeated field or a map of messages
            items = value.values() if field.message_type.GetOptions().map_entry else value
            for item in items:
                yield from _payloads(item)


def history_payloads(history: WorkflowHistory) -> list[Payload]:
    """Every payload anywhere in a history: inputs, results, updates, failures' attributes."""
    return [p for event in history.events for p in _payloads(event)]


def blind_text(history: WorkflowHistory) -> str:
    """What a reader without the key sees: the history as JSON (where payload bytes are base64)
    and the metadata and bytes of every payload as text."""
    payloads = "\n".join(
        b" ".join([*p.metadata.values(), p.data]).decode("utf-8", "replace")
        for p in history_payloads(history)
    )
    return f"{history.to_json()}\n{payloads}"


async def test_round_trip_and_rotation() -> None:
    old = EncryptionCodec.from_base64({"a": KEY_A}, "a")
    rotated = EncryptionCodec.from_base64({"a": KEY_A, "b": KEY_B}, "b")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"supplier":"Tokyo Packaging"}')
    [sealed_a] = await old.encode([plain])
    assert sealed_a.metadata["encryption-key-id"] == b"a"
    assert b"Tokyo" not in sealed_a.data
    # After rotation new payloads use key b, and old histories (key a) stay readable.
    [sealed_b] = await rotated.encode([plain])
    assert sealed_b.metadata["encryption-key-id"] == b"b"
    assert await rotated.decode([sealed_a, sealed_b]) == [plain, plain]
    # Unencrypted payloads written before encryption was turned on pass through.
    assert await rotated.decode([plain]) == [plain]


async def test_unknown_key_and_bad_configuration_are_clear() -> None:
    [sealed] = await EncryptionCodec.from_base64({"b": KEY_B}, "b").encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b"{}")]
    )
    with pytest.raises(UnknownEncryptionKey, match="key id 'b'"):
        await EncryptionCodec.from_base64({"a": KEY_A}, "a").decode([sealed])
    with pytest.raises(UnknownEncryptionKey, match="PAYLOAD_ENCRYPTION_KEY_ID 'z'"):
        EncryptionCodec.from_base64({"a": KEY_A}, "z")
    with pytest.raises(ValueError, match="not valid base64"):
        EncryptionCodec.from_base64({"a": "not base64!"}, "a")
    with pytest.raises(ValueError, match="must be 32 bytes"):
        EncryptionCodec({"a": b"short"}, "a")


def _settings(data_dir: Path, **update: object) -> Settings:
    base = Settings(payload_encryption_keys={}, payload_encryption_key_id=None)
    return base.model_copy(update={"data_dir": data_dir, **update})


def test_settings_turn_encryption_on(tmp_path: Path) -> None:
    off = data_converter(_settings(tmp_path))
    assert off.payload_codec is None
    assert type(off.failure_converter) is DefaultFailureConverter  # messages stay readable
    on = data_converter(
        _settings(tmp_path, payload_encryption_keys={"a": KEY_A}, payload_encryption_key_id="a")
    )
    assert isinstance(on.payload_codec, EncryptionCodec)
    # With encryption on, failure messages and stack traces go through the codec too.
    assert isinstance(on.failure_converter, DefaultFailureConverterWithEncodedAttributes)


# ---------------------------------------------------------------------------- the key file


def test_key_file_is_made_once_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    old_umask = os.umask(0)  # the file's mode must not depend on the umask
    try:
        first = ensure_key_file(path)
    finally:
        os.umask(old_umask)
    assert first.created and not first.tightened
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {"active_key_id": first.keys.active_key_id, "keys": first.keys.keys}
    assert first.keys.active_key_id.startswith("dev-")
    first.keys.codec()  # a usable AES-256 key

    again = ensure_key_file(path)
    assert not again.created
    assert again.keys == first.keys


def test_a_looser_key_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    made = ensure_key_file(path).keys
    path.chmod(0o644)
    found = ensure_key_file(path)
    assert found.tightened and found.keys == made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"active_key_id": "a", "keys": {}}', '"keys" must be a non-empty object'),
        (json.dumps({"active_key_id": "z", "keys": {"a": KEY_A}}), "\"active_key_id\" 'z'"),
        (json.dumps({"active_key_id": "a", "keys": {"a": "c2hvcnQ="}}), "key 'a' is not"),
        (json.dumps({"active_key_id": "a", "keys": {"a": 7}}), "key 'a' is not"),
    ],
)
def test_a_corrupt_key_file_is_refused_naming_the_file(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PayloadKeyFileError) as refused:
        ensure_key_file(path)
    assert str(path) in str(refused.value)
    assert reason in str(refused.value)
    assert path.read_text(encoding="utf-8") == content  # never replaced: it may hold a key


def test_settings_win_over_the_key_file_which_every_process_reads(tmp_path: Path) -> None:
    made = ensure_key_file(tmp_path / KEY_FILE_NAME).keys
    # Nothing configured: the CLI, a worker or the web app on this data folder use the file.
    assert payload_keys(_settings(tmp_path)) == made
    assert isinstance(data_converter(_settings(tmp_path)).payload_codec, EncryptionCodec)
    # PAYLOAD_ENCRYPTION_KEYS / _KEY_ID win.
    env = _settings(tmp_path, payload_encryption_keys={"a": KEY_A}, payload_encryption_key_id="a")
    found = payload_keys(env)
    assert found is not None and found.active_key_id == "a" and found.keys == {"a": KEY_A}
    # Keys without an active id: the settings still win (encryption off, as before the file).
    assert payload_keys(_settings(tmp_path, payload_encryption_keys={"a": KEY_A})) is None
    # No file, nothing configured: no encryption.
    assert payload_keys(_settings(tmp_path / "elsewhere")) is None
    # A corrupt file stops the process with the file's name rather than writing plain text.
    (tmp_path / KEY_FILE_NAME).write_text("{}", encoding="utf-8")
    with pytest.raises(PayloadKeyFileError, match=KEY_FILE_NAME):
        data_converter(_settings(tmp_path))


async def test_history_without_the_key_shows_no_names_prices_or_comments(
    sessions: SessionFactory,
    sqlite_url: str,
    sqlite_engine: object,
    activity_executor: object,
    task_queue: str,
) -> None:
    codec = EncryptionCodec.from_base64({"a": KEY_A}, "a")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=with_codec(pydantic_data_converter, codec),
        test_server_existing_path=temporal_test_server(),
    )
    try:
        cid = f"C-{uuid.uuid4().hex[:8]}"
        now = await today(env)
        with transaction(sessions) as s:
            register(
                s,
                id=cid,
                title="Secret widget supply",
                owner="buyer@example.com",
                start_date=now - relativedelta(months=10),
                end_date=now + relativedelta(months=2),
                notice_period_days=0,
                term_model="auto_renewing",
            )
        worker = build_worker(
            env.client,
            identity_keys=TEST_IDENTITY_KEYS,
            task_queue=task_queue,
            database_url=sqlite_url,
            executor=activity_executor,  # type: ignore[arg-type]
            max_concurrent_activities=16,
        )
        async with worker:
            await renewals.start_renewal(
                env.client,
                contract_id=cid,
                term=1,
                requested_by="buyer@example.com",
                task_queue=task_queue,
            )
            handle = renewals.renewal_handle(env.client, contract_id=cid, term=1)
            outcome = await result_of(env, handle)
            # Readable with the key: nobody gave notice, so it rolled over by its terms.
            assert outcome.kind is OutcomeKind.ROLLED_OVER
            # The same history through a client without the key: ciphertext only.
            blind = Client(
                env.client.service_client,
                namespace=env.client.namespace,
                data_converter=pydantic_data_converter,
            )
            history = await blind.get_workflow_handle(handle.id).fetch_history()
            raw = blind_text(history)
            plain = "\n".join(
                p.data.decode() for p in await codec.decode(history_payloads(history))
            )
            assert "Secret widget" in plain  # the title travels, but only encrypted
            for secret in ("Tokyo Packaging", "Secret widget", "1250.50", "buyer@example.com"):
                assert secret not in raw, secret
            assert "binary/encrypted" in raw
            await env.client.get_workflow_handle(outcome.next_workflow_id or "").terminate("end")
    finally:
        await env.shutdown()


# ---------------------------------------------------------------------------- failures

SECRET_SUPPLIER = "Tokyo Packaging K.K."


@activity.defn(name="codec_test_refuse_offer")
async def refuse_offer(supplier: str) -> None:
    raise ApplicationError(f"supplier {supplier} refused the price cap", non_retryable=True)


@workflow.defn(name="CodecTestFailingWorkflow", sandboxed=False)
class FailingWorkflow:
    @workflow.run
    async def run(self, supplier: str) -> None:
        try:
            await workflow.execute_activity(
                refuse_offer, supplier, start_to_close_timeout=timedelta(seconds=30)
            )
        except ActivityError as err:
            # The workflow (a worker with the key) reads the activity's real message.
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            raise ApplicationError(
                f"gave up: {cause.message}", type="OfferRefused", non_retryable=True
            ) from err


async def test_failure_messages_and_stack_traces_are_encrypted(task_queue: str) -> None:
    converter = with_codec(pydantic_data_converter, EncryptionCodec.from_base64({"a": KEY_A}, "a"))
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter, test_server_existing_path=temporal_test_server()
    )
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[FailingWorkflow],
            activities=[refuse_offer],
        ):
            wf_id = f"codec-failure-{uuid.uuid4().hex[:8]}"
            with pytest.raises(WorkflowFailureError) as failed:
                await env.client.execute_workflow(
                    FailingWorkflow.run, SECRET_SUPPLIER, id=wf_id, task_queue=task_queue
                )
        # A client with the key sees the messages, the workflow's and the activity's.
        error = failed.value.cause
        assert isinstance(error, ApplicationError) and error.type == "OfferRefused"
        assert error.message == f"gave up: supplier {SECRET_SUPPLIER} refused the price cap"
        assert isinstance(error.__cause__, ActivityError)
        assert isinstance(error.__cause__.cause, ApplicationError)
        assert SECRET_SUPPLIER in error.__cause__.cause.message

        # Without the key: neither message nor stack trace (whose source lines name the
        # message too) is in the history, only "Encoded failure" and ciphertext.
        blind = Client(
            env.client.service_client,
            namespace=env.client.namespace,
            data_converter=pydantic_data_converter,
        )
        raw = blind_text(await blind.get_workflow_handle(wf_id).fetch_history())
        for secret in ("Tokyo Packaging", "refused the price cap", "gave up", "refuse_offer("):
            assert secret not in raw, secret
        assert "Encoded failure" in raw
        with pytest.raises(WorkflowFailureError) as blind_failed:
            await blind.get_workflow_handle(wf_id).result()
        assert isinstance(blind_failed.value.cause, ApplicationError)
        assert SECRET_SUPPLIER not in blind_failed.value.cause.message
    finally:
        await env.shutdown()


HISTORIES = sorted((Path(__file__).parent / "histories").glob("*/*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_plain_histories_replay_with_encryption_turned_on(path: Path) -> None:
    """Turning encryption on does not break running renewals: their histories (plain
    payloads, plain failures) replay through the encrypting converter unchanged."""
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[ContractRenewalWorkflow, FollowUpWorkflow],
        data_converter=data_converter(
            Settings(payload_encryption_keys={"a": KEY_A}, payload_encryption_key_id="a")
        ),
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)
