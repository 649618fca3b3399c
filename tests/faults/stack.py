"""The fault suite's own stack: an embedded PostgreSQL it can stop, a real gateway process, bounded load.

The PostgreSQL server runs in a temporary data directory (pgserver) and is
shared by the fault tests; each test starts its own ``cpni-gateway serve
--demo`` subprocess on that data directory and a free port, exactly as a
user would, so the gateway logs in as its own non-superuser role.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from gateway.auth import issue_token
from gateway.authz.policy import load_policy
from gateway.config import Settings

JWT_SECRET = secrets.token_urlsafe(32)
DEMO_CUSTOMERS = 40
READ = "query Read($id: ID!) { customer(id: $id) { id name email services { plan } } }"
WRITE = """
mutation Record($input: CpniApprovalInput!) { recordCpniApproval(input: $input) { status channel } }
"""
# What no answer may contain: driver, SQL, paths, stack traces.
LEAKS = ("asyncpg", "postgres", "psycopg", "Traceback", "SELECT ", "INSERT ", "pg_", "/tmp/", "/work", 'File "')


class Postgres:
    """The embedded server of the fault tests, with the faults an operator could cause."""

    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver._commands import pg_ctl

        self.data_dir = data_dir
        self.pgdata = (data_dir / "pgdata").resolve()
        self.pgdata.mkdir(parents=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self._pg_ctl = pg_ctl
        self.url = str(self.server.get_uri())
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=30)

    def start(self) -> None:
        self._pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start"],
            pgdata=self.pgdata, user=self.server.system_user, timeout=30,
        )

    async def execute(self, *statements: str) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def terminate_gateway_backends(self) -> int:
        rows = await self.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cpni-gateway'"
        )
        return len(rows)

    def cleanup(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.server.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class GatewayProcess:
    """``cpni-gateway serve --demo`` in a subprocess."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def token(self, division: str = "customer_care") -> str:
        found = load_policy().divisions[division]
        return issue_token(Settings(jwt_secret=JWT_SECRET), division=found, purposes=found.purposes, ttl_seconds=900)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def start_gateway(postgres: Postgres, **settings: str) -> GatewayProcess:
    """Start the gateway on ``postgres``'s data directory; ``settings``: CPNI_GATEWAY_<NAME> values."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPNI_GATEWAY_") and k != "DATABASE_URL"}
    env.update(
        CPNI_GATEWAY_JWT_SECRET=JWT_SECRET,
        CPNI_GATEWAY_DEMO_CUSTOMERS=str(DEMO_CUSTOMERS),
        CPNI_GATEWAY_POOL_MAX_SIZE="6",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"CPNI_GATEWAY_{name.upper()}": value for name, value in settings.items()})
    log = postgres.data_dir / f"gateway-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--demo", "--data-dir", str(postgres.data_dir),
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the gateway exited: {log.read_text()[-2000:]}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return gateway
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    gateway.stop()
    raise AssertionError(f"the gateway did not become ready: {log.read_text()[-2000:]}")


@dataclass
class Outcome:
    """One answer (status 0: no answer at all, the connection failed)."""

    kind: str  # "read" or "write"
    status: int
    body: str
    request_id: str | None
    channel: str | None = None
    at: float = field(default_factory=time.monotonic)  # when it was answered

    @property
    def carries_data(self) -> bool:
        """Whether the answer discloses customer data (a non-null ``customer`` or a written record)."""
        if self.status != 200:
            return False
        data = httpx.Response(200, content=self.body).json().get("data") or {}
        return any(value is not None for value in data.values())

    @property
    def code(self) -> str | None:
        if not self.body:
            return None
        errors = httpx.Response(200, content=self.body).json().get("errors") or [{}]
        code: str | None = errors[0].get("extensions", {}).get("code")
        return code


@dataclass
class Load:
    """Bounded load: ``concurrency`` clients sending requests back to back for ``seconds``."""

    gateway: GatewayProcess
    customer_ids: list[int]
    concurrency: int = 6
    writes: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    async def run(self, seconds: float) -> list[Outcome]:
        token = self.gateway.token()
        counter = iter(range(10**9))
        stop_at = 0.0

        async def client_loop(client: httpx.AsyncClient) -> None:
            while True:  # at least one request per client, however slow the start
                n = next(counter)
                customer = self.customer_ids[n % len(self.customer_ids)]
                channel = None
                if self.writes and n % 3 == 0:
                    channel = f"F{secrets.token_hex(6)}"
                    body = {"query": WRITE, "variables": {
                        "input": {"customerId": str(customer), "status": "OPT_IN", "channel": channel}}}
                else:
                    body = {"query": READ, "variables": {"id": str(customer)}}
                kind = "write" if channel else "read"
                try:
                    response = await client.post(
                        "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                    self.outcomes.append(
                        Outcome(kind, response.status_code, response.text, response.headers.get("x-request-id"), channel)
                    )
                except httpx.TransportError:
                    self.outcomes.append(Outcome(kind, 0, "", None, channel))
                    await asyncio.sleep(0.05)
                if time.monotonic() >= stop_at:
                    return

        async with httpx.AsyncClient(base_url=self.gateway.base_url, timeout=30.0) as client:
            stop_at = time.monotonic() + seconds
            await asyncio.gather(*(client_loop(client) for _ in range(self.concurrency)))
        return self.outcomes


async def customer_ids(postgres: Postgres, n: int = 10) -> list[int]:
    return [r["id"] for r in await postgres.fetch("SELECT id FROM customers ORDER BY id LIMIT $1", n)]


async def assert_invariants(postgres: Postgres, outcomes: Iterable[Outcome], allowed: Mapping[int, set[str | None]]) -> None:
    """No 500, nothing leaked, statuses as ``allowed`` ({status: codes}), and no data without its record.

    Every answer carrying data has audit events under its request id that
    disclose something; every answered write exists exactly when it was 200.
    """
    outcomes = list(outcomes)
    for o in outcomes:
        assert o.status != 500, o.body
        assert o.status in allowed, (o.status, o.body)
        assert o.code in allowed[o.status], (o.status, o.body)
        for leak in LEAKS:
            assert leak.lower() not in o.body.lower(), o.body
        if o.status not in (0, 200):
            assert "data" not in httpx.Response(200, content=o.body).json(), o.body
    with_data = [o for o in outcomes if o.carries_data]
    audited = {
        r["request_id"]
        for r in await postgres.fetch(
            "SELECT DISTINCT request_id FROM audit_events WHERE request_id = ANY($1::text[])"
            " AND cardinality(disclosed) > 0",
            [o.request_id for o in with_data],
        )
    }
    assert len(with_data) <= len(audited)
    assert {o.request_id for o in with_data} <= audited
    writes = [o for o in outcomes if o.kind == "write" and o.status != 0]
    written = {
        r["channel"]
        for r in await postgres.fetch(
            "SELECT channel FROM cpni_approvals WHERE channel = ANY($1::text[])", [o.channel for o in writes]
        )
    }
    for o in writes:
        assert (o.channel in written) == (o.status == 200), (o.status, o.body)


async def wait_until_ready(gateway: GatewayProcess, seconds: float = 30.0) -> float:
    """Seconds until a read answers 200 again (without restarting the gateway)."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10.0) as client:
        while time.monotonic() - started < seconds:
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                return time.monotonic() - started
            await asyncio.sleep(0.1)
    raise AssertionError("the gateway did not recover")
