"""Settings of the web front end, read from RENEWALS_WEB_* environment variables."""

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RENEWALS_WEB_", env_file=".env", extra="ignore", case_sensitive=False
    )

    session_hours: Annotated[int, Field(ge=1, le=24 * 14)] = 8
    # The session cookie is Secure (and HSTS is sent) whenever the request came over HTTPS;
    # this makes the cookie Secure even when the app cannot tell (TLS ended by a proxy that
    # the app does not trust, see trust_proxy).
    cookie_secure: bool = False
    # Behind one reverse proxy (TLS ended there): believe its X-Forwarded-Proto (HTTPS: Secure
    # cookie, HSTS) and the last address of its X-Forwarded-For (the sign-in throttle's client
    # address). Leave off when clients reach the app directly: they could send either header.
    trust_proxy: bool = False
    hsts_max_age_seconds: Annotated[int, Field(ge=0, le=2 * 365 * 24 * 3600)] = 365 * 24 * 3600
    token_valid_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Online password guessing: after this many failed sign-ins under one user name from one
    # client address, the form refuses that name from that address for the lockout period,
    # doubled for each lockout in a row up to a day (a successful sign-in resets the count).
    sign_in_max_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    sign_in_lockout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 20 * 1024 * 1024
