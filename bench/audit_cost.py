"""What the audit trail costs: per request, for the writer alone, and for the export.

    python -m bench.audit_cost [--customers 2000] [--requests 2000] [--export-rows 200000]

Uses ``DATABASE_URL`` if set, else an embedded PostgreSQL in
``bench/.audit-data`` (kept between runs; seeded once). Three measurements:

1. the full-profile query as customer care, in-process over ASGI, with the
   audit writer on and swapped for a no-op, in alternating blocks of the
   same run (so drift hits both alike): mean, p50, p99 latency, and the time
   spent inside ``AuditWriter.record`` itself;
2. the writer alone under concurrency: single-event requests from 64
   concurrent tasks (events/s: the trail's write throughput), and how many
   group commits they took (gateway/audit/group.py);
3. ``audit export`` to /dev/null, JSON lines and CSV, in rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.workload import FULL_PROFILE
from gateway.app import create_app
from gateway.audit.chain import EventContent
from gateway.audit.events import AuditQuery
from gateway.audit.export import export
from gateway.audit.writer import AuditWriter
from gateway.auth import issue_token
from gateway.authz.model import Purpose
from gateway.authz.policy import load_policy
from gateway.config import Settings
from gateway.db import create_pool, migrate
from gateway.seed import seed

BLOCK = 100


class NoAudit:
    async def record(self, *args: Any, **kwargs: Any) -> int:
        return 0


class Timed:
    """Wraps the real writer and adds up the time spent in it."""

    def __init__(self, writer: AuditWriter) -> None:
        self.writer = writer
        self.seconds: list[float] = []

    async def record(self, *args: Any, **kwargs: Any) -> int:
        start = time.perf_counter()
        try:
            return await self.writer.record(*args, **kwargs)
        finally:
            self.seconds.append(time.perf_counter() - start)


def database_url() -> str:
    import os  # noqa: PLC0415

    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415

        pgdata = Path("bench/.audit-data/pgdata").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    admin = str(server.get_uri())

    async def ensure() -> None:
        conn = await asyncpg.connect(admin)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'cpni_audit_bench'"):
                await conn.execute("CREATE DATABASE cpni_audit_bench")
        finally:
            await conn.close()

    asyncio.run(ensure())
    return admin.replace("/postgres?", "/cpni_audit_bench?")


async def prepare(url: str, customers: int) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM customers)"):
            print(f"seeding {customers} customers ...")
            await seed(conn, customers=customers, seed=0)
        return [r["id"] for r in await conn.fetch("SELECT id FROM customers ORDER BY id")]
    finally:
        await conn.close()


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"mean {statistics.fmean(ms):6.2f} ms  p50 {statistics.median(ms):6.2f} ms  p99 {p99:6.2f} ms"


async def request_cost(url: str, ids: list[int], requests: int) -> None:
    settings = Settings(
        database_url=url, jwt_secret=secrets.token_urlsafe(48), cursor_key=secrets.token_urlsafe(48), trusted_documents="off"
    )
    app = create_app(settings, database_url=url)
    division = load_policy(None).divisions["customer_care"]
    token = issue_token(settings, division=division, purposes=[Purpose.CUSTOMER_CARE], ttl_seconds=3600)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(0)
    async with app.router.lifespan_context(app):
        endpoint = app.state.runtime.endpoint
        timed = Timed(endpoint.audit)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def one() -> float:
                body = {"query": FULL_PROFILE, "variables": {"id": str(rng.choice(ids))}}
                start = time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, response.text
                return elapsed

            for _ in range(BLOCK):  # warm caches and connections
                await one()
            on: list[float] = []
            off: list[float] = []
            for block in range(max(1, requests // BLOCK)):
                audited = block % 2 == 0
                endpoint.audit = timed if audited else NoAudit()
                for _ in range(BLOCK):
                    (on if audited else off).append(await one())
            endpoint.audit = timed.writer
    print(f"full-profile query, sequential, {len(on)} requests each way:")
    print(f"  audit on   {summary(on)}")
    print(f"  audit off  {summary(off)}")
    delta = statistics.fmean(on) - statistics.fmean(off)
    print(f"  difference {delta * 1000:6.2f} ms per request ({delta / statistics.fmean(off):.1%})")
    print(f"  inside AuditWriter.record: {summary(timed.seconds)}")


def event(n: int, customer_id: int) -> EventContent:
    return EventContent(
        f"bench-{n}", "bench", "customer_care", "customer_care", "opt_out", None, "Full", customer_id,
        ("PUBLIC", "SUBSCRIBER_LIST", "CONTACT", "SERVICE", "CONFIGURATION", "USAGE", "BILLING", "PAYMENT", "CONSENT"),
        ("LOCATION",), ("care-reads-cpni", "care-reads-location-with-approval"),
    )


async def write_throughput(url: str, tasks: int = 64, per_task: int = 100) -> None:
    settings = Settings(database_url=url, pool_max_size=32)
    writer = await AuditWriter.open(settings, url)
    counter = iter(range(10**9))

    async def worker() -> None:
        for _ in range(per_task):
            n = next(counter)
            await writer.append([event(n, n)])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = time.perf_counter() - start
    await writer.close()
    total = tasks * per_task
    print(
        f"writer alone: {total} one-event requests from {tasks} tasks in {elapsed:.2f} s: {total / elapsed:,.0f}/s"
        f" in {writer.commits} group commits"
    )


async def export_speed(url: str, rows: int) -> None:
    settings = replace(Settings(database_url=url), pool_max_size=4)
    pool = await create_pool(settings, url)
    have = await pool.fetchval("SELECT count(*) FROM audit_events")
    if have < rows:
        writer = await AuditWriter.open(settings, url)
        missing = rows - have
        for start in range(0, missing, 500):
            await writer.append([event(10**8 + start, i) for i in range(min(500, missing - start))])
        await writer.close()
    total = await pool.fetchval("SELECT count(*) FROM audit_events")
    for fmt in ("jsonl", "csv"):
        with open("/dev/null", "wb") as out:
            began = time.perf_counter()
            count = await export(pool, AuditQuery(), out, fmt)
            elapsed = time.perf_counter() - began
        print(f"export {fmt:5}: {count:,} rows in {elapsed:.2f} s: {count / elapsed:,.0f} rows/s")
    assert count == total
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000, help="per side (audit on, audit off)")
    parser.add_argument("--export-rows", type=int, default=200_000)
    args = parser.parse_args()
    url = database_url()
    ids = asyncio.run(prepare(url, args.customers))
    asyncio.run(request_cost(url, ids, args.requests * 2))
    asyncio.run(write_throughput(url))
    asyncio.run(export_speed(url, args.export_rows))


if __name__ == "__main__":
    main()
