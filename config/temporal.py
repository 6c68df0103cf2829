"""One way to reach Temporal: local dev server, a self-hosted cluster (mTLS) or Temporal Cloud
(API key), chosen by settings alone."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from config.codec import EncryptionCodec, PayloadKeys, key_file, read_key_file, with_codec
from config.settings import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    if not (
        settings.temporal_tls or settings.temporal_tls_client_cert or settings.temporal_api_key
    ):
        return False
    return TLSConfig(
        server_root_ca_cert=settings.temporal_tls_ca_cert.read_bytes()
        if settings.temporal_tls_ca_cert
        else None,
        client_cert=settings.temporal_tls_client_cert.read_bytes()
        if settings.temporal_tls_client_cert
        else None,
        client_private_key=settings.temporal_tls_client_key.read_bytes()
        if settings.temporal_tls_client_key
        else None,
        domain=settings.temporal_tls_server_name,
    )


def configured_keys(settings: Settings) -> bool:
    """PAYLOAD_ENCRYPTION_KEYS or PAYLOAD_ENCRYPTION_KEY_ID is set: they win over a key file."""
    return settings.payload_encryption_key_id is not None or bool(settings.payload_encryption_keys)


def payload_keys(settings: Settings) -> PayloadKeys | None:
    """The keys from the settings; else from the data folder's key file (``renewals dev``
    writes one), if there is one; else None (no encryption)."""
    if configured_keys(settings):
        if settings.payload_encryption_key_id is None:
            return None  # keys without an active id: encryption stays off, as it always did
        return PayloadKeys(
            keys=dict(settings.payload_encryption_keys),
            active_key_id=settings.payload_encryption_key_id,
        )
    path = key_file(settings.data_dir)
    return read_key_file(path) if path.is_file() else None


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    keys = payload_keys(settings)
    return None if keys is None else keys.codec()


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter; with payload (and failure) encryption when keys are configured
    or the data folder holds a key file."""
    return with_codec(pydantic_data_converter, payload_codec(settings))


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls_config(settings),
        data_converter=data_converter(settings),
    )
