"""What the running application holds: settings, the database and the Temporal connection."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from temporalio.client import Client

from config import clock
from config.identity import IdentityKeys
from config.settings import Settings
from config.temporal import connect
from portal.config import WebSettings
from services.db import SessionFactory


class TemporalUnavailable(Exception):
    """Temporal cannot be reached; pages that only read the database keep working."""


class TemporalConnection:
    """Connects on first use, so the app starts (and serves read-only pages) while Temporal is
    down, and reconnects on the next request after a failed attempt."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self._settings)
                except RuntimeError as exc:
                    raise TemporalUnavailable(
                        f"cannot reach Temporal at {self._settings.temporal_address}: {exc}"
                    ) from None
            return self._client


@dataclass
class AppState:
    settings: Settings
    web: WebSettings
    sessions: SessionFactory
    temporal: TemporalConnection
    identity: IdentityKeys  # signs the decisions this app sends to renewals
    today: Callable[[], date] = field(default=clock.today)
