"""worker.py as a process: connects by configuration and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent


async def test_worker_stops_cleanly_on_sigterm(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str, sqlite_engine: object, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": time_skipping_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": "sigterm-test",
        "DATABASE_URL": sqlite_url,
        "RENEWALS_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "worker polling" in line:
                break
            if proc.poll() is not None:
                break
        assert any("worker polling" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        rest = proc.stdout.read()
        assert "stopping" in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
