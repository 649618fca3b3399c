"""A real `python -m gateway serve` process for tests that need one over a socket (browsers, HTTP audits)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence

import httpx
import pytest

START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium() -> str:
    """The headless browser's path; the test is skipped where there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); .ci/run installs it")
    return found


def wait_ready(process: subprocess.Popen[bytes], url: str, *, timeout_s: float = START_TIMEOUT_S) -> None:
    """Until ``url`` answers 200; fails if the gateway exits or takes longer than ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the gateway exited"
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.2)


@contextlib.contextmanager
def serve(env: Mapping[str, str], args: Sequence[str] = (), *, ready_path: str = "/healthz") -> Iterator[str]:
    """`python -m gateway serve --port P *args` with ``env``, until ``ready_path`` answers 200; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), *args],
        env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base}{ready_path}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
