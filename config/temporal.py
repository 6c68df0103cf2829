"""One way to reach Temporal: local dev server, a self-hosted cluster (mTLS) or Temporal Cloud
(API key), chosen by settings alone."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from config.codec import EncryptionCodec, with_codec
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


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    if settings.payload_encryption_key_id is None:
        return None
    return EncryptionCodec.from_base64(
        settings.payload_encryption_keys, settings.payload_encryption_key_id
    )


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter, with payload encryption when keys are configured."""
    return with_codec(pydantic_data_converter, payload_codec(settings))


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls_config(settings),
        data_converter=data_converter(settings),
    )
