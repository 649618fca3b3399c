"""The embedded PostgreSQL stops when the last gateway process using it exits: SIGTERM and Ctrl+C alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.served import free_port, wait_ready

pytestmark = pytest.mark.slow


def _postmaster_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_the_embedded_server_stops_with_the_last_gateway(stop: signal.Signals, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CPNI_GATEWAY_DATABASE_URL")}
    env["CPNI_GATEWAY_DEMO_CUSTOMERS"] = "50"
    port = free_port()
    data_dir = Path(os.path.realpath(tmp_path)) / "d"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/readyz", timeout_s=120)
        pgdata = data_dir / "pgdata"
        assert _postmaster_running(pgdata)
        process.send_signal(stop)
        assert process.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while _postmaster_running(pgdata):
            assert time.monotonic() < deadline, "the embedded PostgreSQL outlived the gateway"
            time.sleep(0.3)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
