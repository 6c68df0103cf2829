"""Settings of the web front end, read from RENEWALS_WEB_* environment variables."""

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RENEWALS_WEB_", env_file=".env", extra="ignore", case_sensitive=False
    )

    session_hours: Annotated[int, Field(ge=1, le=24 * 14)] = 8
    # Behind TLS (anything but a laptop), cookies must only travel over HTTPS.
    cookie_secure: bool = False
    token_valid_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Online password guessing: after this many failed sign-ins under one user name, the form
    # refuses that name for the lockout period (a successful sign-in resets the count).
    sign_in_max_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    sign_in_lockout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 20 * 1024 * 1024
