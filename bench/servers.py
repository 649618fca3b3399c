"""The three targets, each one server process (``python -m bench.serve``) on a free loopback port.

All three are started at the beginning of a run and kept until its end, so
that warm caches (parsed documents, plans, the decision memo, prepared
statements, PostgreSQL's buffers) carry over from the warm-up to every
rep; only the target being measured gets load, the others sit idle.
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

from bench.instrument import STATS_PATH

HOST = "127.0.0.1"
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Target:
    """A server to measure: its key, its label in the report and where it says it is ready."""

    key: str
    label: str
    ready_path: str


FLOOR = Target("floor", "floor (hand-written SQL, Starlette)", STATS_PATH)
UNGUARDED = Target("off", "gateway, authz + audit off", "/readyz")
GATEWAY = Target("on", "gateway as shipped (authz + audit on)", "/readyz")
TARGETS: tuple[Target, ...] = (FLOOR, UNGUARDED, GATEWAY)
BY_KEY = {t.key: t for t in TARGETS}


class ServerError(Exception):
    """A target did not start or answer; the message says which and shows its log tail."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its living descendants."""
    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def peak_rss_bytes(pid: int) -> int:
    """The peak resident set (``VmHWM``) of a process and its living descendants, summed."""
    total = 0
    for process in _tree(pid):
        try:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


class ServerProcess:
    """One running target; use as a context manager so it is always stopped."""

    def __init__(self, target: Target, *, database_url: str, log_dir: Path) -> None:
        self.target = target
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"server-{target.key}.log"
        env = {
            **os.environ,
            "CPNI_GATEWAY_DATABASE_URL": database_url,
            "CPNI_GATEWAY_GRAPHIQL": "false",
            # the benchmark's documents are not registered (gateway/trusted)
            "CPNI_GATEWAY_TRUSTED_DOCUMENTS": os.environ.get("CPNI_GATEWAY_TRUSTED_DOCUMENTS", "off"),
        }
        command = [sys.executable, "-m", "bench.serve", target.key, "--port", str(self.port)]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

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
        """Poll until the target answers its ready path with 200; fail if it exits or takes too long."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerError(
                        f"{self.target.label} exited with status {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(self.url + self.target.ready_path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise ServerError(f"{self.target.label} did not answer within {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def round_trips(self) -> int:
        """The SQL round trips the target has made so far (bench/instrument.py)."""
        response = httpx.get(self.url + STATS_PATH, timeout=10.0)
        response.raise_for_status()
        return int(response.json()["round_trips"])

    def event_loop(self) -> str:
        """The class of the event loop the target runs on (``uvloop.Loop``, ``asyncio.unix_events...``)."""
        return str(httpx.get(self.url + STATS_PATH, timeout=10.0).json()["loop"])

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def peak_rss(self) -> int:
        return peak_rss_bytes(self.process.pid)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL after a grace period."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    child.kill()
                self.process.kill()
                self.process.wait()
        self._log.close()
