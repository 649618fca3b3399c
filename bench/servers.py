"""The three targets, each a uvicorn subprocess on a free loopback port.

Every target runs the same way (``python -m uvicorn --factory ...``, asyncio
loop, h11, no access log) so that they differ only in the app. With more
than one worker uvicorn forks a supervisor and its workers: CPU is summed
over the whole process tree.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Target:
    """A server to measure: its label in the report and its uvicorn app factory."""

    key: str
    label: str
    factory: str
    ready_path: str


GATEWAY = Target("on", "gateway (authz + audit on)", "gateway.app:asgi_factory", "/readyz")
UNGUARDED = Target("off", "gateway, authz + audit off", "bench.unguarded:create_unguarded_app", "/readyz")
FLOOR = Target("floor", "floor (hand-written SQL, Starlette)", "bench.floor:create_floor_app", "/graphql")
TARGETS: tuple[Target, ...] = (GATEWAY, UNGUARDED, FLOOR)


class ServerError(Exception):
    """A target did not start or answer; the message says which and shows its log tail."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its living descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class ServerProcess:
    """One running target; use as a context manager so it is always stopped."""

    def __init__(self, target: Target, *, database_url: str, workers: int, log_dir: Path) -> None:
        self.target = target
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"server-{target.key}.log"
        env = {**os.environ, "CPNI_GATEWAY_DATABASE_URL": database_url, "CPNI_GATEWAY_GRAPHIQL": "false",
               # the load profile is not a registered document (gateway/trusted)
               "CPNI_GATEWAY_TRUSTED_DOCUMENTS": os.environ.get("CPNI_GATEWAY_TRUSTED_DOCUMENTS", "off")}
        command = [
            sys.executable, "-m", "uvicorn", "--factory", target.factory,
            "--host", HOST, "--port", str(self.port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--loop", "asyncio", "--http", "h11",
        ]  # fmt: skip
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> ServerProcess:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self) -> None:
        """Poll until the target answers (any HTTP status); fail if it exits or takes too long."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerError(
                        f"{self.target.label} exited with status {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    client.get(self.url + self.target.ready_path)
                    return
                except httpx.TransportError:
                    time.sleep(0.1)
        raise ServerError(f"{self.target.label} did not answer within {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL after a grace period."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    child.kill()
                self.process.kill()
                self.process.wait()
        self._log.close()
