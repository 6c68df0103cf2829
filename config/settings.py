"""Application settings: environment variables override an optional ``.env`` file.

Every process (worker, CLI, dev stack) reads the same ``Settings``; a bad value stops it at start
with the variable's name and the reason.
"""

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.term_plan import CalendarSettings
from models.contract import DefaultAction
from models.milestones import RenewalPolicy
from models.scorecard import ScoringConfig

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # Nested settings one level at a time: SCORING__WINDOW_MONTHS=6,
        # SCORING__RECOMMENDATION__RENEW_MIN_TOTAL=80 (or SCORING='{"window_months": 6}').
        env_nested_delimiter="__",
    )

    data_dir: Path = Field(DEFAULT_DATA_DIR, validation_alias="RENEWALS_DATA_DIR")
    database_url: str = ""  # empty: SQLite file in data_dir

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "contract-renewals"
    # The scheduled sweep's own queue (empty: "<temporal_task_queue>-sweep"), so its workflow
    # tasks never wait behind the renewals it starts.
    temporal_sweep_task_queue: str = ""
    temporal_tls: bool = False
    temporal_tls_ca_cert: Path | None = None
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: str | None = None
    # The Renewal* search attributes are registered on the namespace (see workflows/
    # search_attributes.py); turn off for a namespace where they are not.
    temporal_search_attributes: bool = True
    # Payload encryption (see config/codec.py): key id -> base64 of 32 bytes, and the active id.
    payload_encryption_keys: dict[str, str] = {}
    payload_encryption_key_id: str | None = None
    # Identity keys (see config/identity.py): the front ends sign each decision with the active
    # key, the workers check it. Same shape as the payload keys; else <data dir>/identity-keys.json.
    identity_signing_keys: dict[str, str] = {}
    identity_signing_key_id: str | None = None

    sweep_schedule_id: str = "renewal-sweep"
    sweep_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "06:00"
    sweep_time_zone: str = "UTC"
    sweep_batch_size: Annotated[int, Field(ge=1, le=5000)] = 500
    # Renewals per second a sweep lets begin their work (see activities/sweep_activities.py).
    sweep_open_rate: Annotated[float, Field(gt=0, le=100_000)] = 5.0

    milestone_offsets_months: tuple[int, int, int] = (6, 3, 1)
    milestone_fire_hour_utc: Annotated[int, Field(ge=0, le=23)] = 9  # renewals started before
    # calendar-aware plans; newer ones fire at this hour in the contract's own time zone:
    milestone_fire_hour_local: Annotated[int, Field(ge=0, le=23)] = 9
    review_reminder_business_days: Annotated[int, Field(ge=1, le=60)] = 5
    interim_extension_months: Annotated[int, Field(ge=1, le=24)] = 3

    template_dir: Path | None = Field(
        None, validation_alias="RENEWALS_TEMPLATE_DIR"
    )  # organisation overrides: <dir>/<language>/<name>.txt.j2

    # Scorecard window, KPI weights, grade bounds, recommendation and market thresholds, and how
    # findings become proposed terms (price cuts, the price-adjustment cap...).
    scoring: ScoringConfig = ScoringConfig()

    # Business calendars: organisation closure days on top of public holidays, and whether
    # Japanese contracts observe the year-end closure (12/29-1/3).
    closure_days: list[date] = []
    jp_year_end_closure: bool = True
    # What an auto-renewing contract does when its send-by date passes undecided, unless the
    # contract says otherwise: per supplier category, else for the whole organisation.
    default_action: DefaultAction = DefaultAction.NON_RENEWAL
    default_action_by_category: dict[str, DefaultAction] = {}

    # E-mail. Without SMTP_HOST, notifications stay in the outbox table (nothing is sent).
    smtp_host: str = ""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "renewals@localhost"
    legal_team_email: str = ""
    escalation_email: str = ""  # the owners' manager or a procurement lead

    # Links in mails and the .ics feed point here (the web workspace's origin, e.g.
    # https://renewals.example.co.jp); empty: mails carry no links.
    web_base_url: str = Field("", validation_alias="RENEWALS_WEB_BASE_URL")
    # The weekly digest (a Temporal Schedule): weekday (0 = Monday) and local hour it is sent at.
    digest_schedule_id: str = "renewal-digest"
    digest_weekday: Annotated[int, Field(ge=0, le=6)] = 0
    digest_hour: Annotated[int, Field(ge=0, le=23)] = 8
    digest_time_zone: str = "Asia/Tokyo"
    # Follow-up reviews during a term: every N months unless the contract says otherwise, none in
    # the last M months (the renewal's own preparation runs then).
    followup_interval_months: Annotated[int, Field(ge=1, le=12)] = 3
    followup_quiet_months: Annotated[int, Field(ge=0, le=12)] = 6

    worker_max_concurrent_activities: Annotated[int, Field(ge=1, le=1000)] = 50
    # Workflows kept in the worker's sticky cache (about 280 KiB each, see bench/README.md);
    # beyond it a workflow's next task replays its history. 0 disables the cache.
    worker_max_cached_workflows: Annotated[int, Field(ge=0, le=1_000_000)] = 1000
    # Database connections per worker process (empty: one per activity slot, plus the sweep's).
    # Lower it when N workers x pool would exceed the PostgreSQL server's max_connections.
    database_pool_size: Annotated[int, Field(ge=1, le=1000)] | None = None

    @field_validator("temporal_tls_ca_cert", "temporal_tls_client_cert", "temporal_tls_client_key")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v

    @field_validator("template_dir")
    @classmethod
    def _dir_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_dir():
            raise ValueError(f"directory not found: {v}")
        return v

    @field_validator("sweep_time_zone", "digest_time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @field_validator("web_base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"must start with http:// or https://, got {v!r}")
        return v

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'renewals.db').as_posix()}"

    @property
    def resolved_sweep_task_queue(self) -> str:
        return self.temporal_sweep_task_queue or f"{self.temporal_task_queue}-sweep"

    @property
    def renewal_policy(self) -> RenewalPolicy:
        return RenewalPolicy(
            offsets_months=self.milestone_offsets_months,
            fire_hour_utc=self.milestone_fire_hour_utc,
            interim_extension_months=self.interim_extension_months,
            fire_hour_local=self.milestone_fire_hour_local,
            review_reminder_business_days=self.review_reminder_business_days,
        )

    @property
    def calendar_settings(self) -> CalendarSettings:
        return CalendarSettings(
            closure_days=frozenset(self.closure_days),
            jp_year_end_closure=self.jp_year_end_closure,
            default_action=self.default_action,
            default_action_by_category=tuple(self.default_action_by_category.items()),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
