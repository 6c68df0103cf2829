"""Payload encryption: round trip, key rotation, unknown keys, and a history with no secrets."""

import uuid

import pytest
from dateutil.relativedelta import relativedelta
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from clients import renewals
from config.binaries import temporal_test_server
from config.codec import EncryptionCodec, UnknownEncryptionKey, new_key, with_codec
from config.settings import Settings
from config.temporal import data_converter
from models.renewal import OutcomeKind
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.workflow_helpers import result_of, today
from worker import build_worker

KEY_A, KEY_B = new_key(), new_key()


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


def test_settings_turn_encryption_on() -> None:
    assert data_converter(Settings()).payload_codec is None
    on = data_converter(
        Settings(payload_encryption_keys={"a": KEY_A}, payload_encryption_key_id="a")
    )
    assert isinstance(on.payload_codec, EncryptionCodec)


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
            raw = (await blind.get_workflow_handle(handle.id).fetch_history()).to_json()
            for secret in ("Tokyo Packaging", "Secret widget", "1250.50", "buyer@example.com"):
                assert secret not in raw, secret
            assert "binary/encrypted" in raw or "YmluYXJ5L2VuY3J5cHRlZA" in raw
            await env.client.get_workflow_handle(outcome.next_workflow_id or "").terminate("end")
    finally:
        await env.shutdown()
