"""Concurrent writers, in one process and in several, leave every chain valid."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import asyncpg
import pytest

from gateway.audit.chain import EventContent
from gateway.audit.verify import verify
from gateway.audit.writer import AuditWriter
from gateway.config import Settings
from tests.audit.conftest import FreshDatabase
from tests.audit.load import run_requests
from tests.factories import make_customer


def event(n: int, customer_id: int) -> EventContent:
    return EventContent(
        request_id=f"concurrent-{n}",
        client="load",
        division="customer_care",
        purpose="customer_care",
        regime="opt_out",
        campaign_id=None,
        operation_name=None,
        customer_id=customer_id,
        disclosed=("PUBLIC",),
        denied=(),
        policy_ids=(),
    )


async def assert_valid(url: str, events: int) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    try:
        report = await verify(pool)
        assert report.ok, report.summary()
        assert report.verified == events
        # Within a chain time never goes back: retention relies on it.
        backwards = await pool.fetchval(
            "SELECT count(*) FROM (SELECT at < lag(at) OVER (PARTITION BY chain ORDER BY seq) AS back"
            " FROM audit_events) t WHERE back"
        )
        assert backwards == 0
    finally:
        await pool.close()


async def test_100_concurrent_writes_keep_the_chains_valid(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        written = await asyncio.gather(*(writer.append([event(n, n), event(n, n + 1000)]) for n in range(100)))
    finally:
        await writer.close()
    assert written == [2] * 100
    await assert_valid(url, 200)


@pytest.mark.slow
async def test_4_processes_x_200_concurrent_requests_keep_the_chains_valid(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        ids = [(await make_customer(pool, usage_per_service=0)).id for _ in range(20)]
    finally:
        await pool.close()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as processes:
        loop = asyncio.get_running_loop()
        statuses = await asyncio.gather(
            *(loop.run_in_executor(processes, run_requests, url, ids, 200) for _ in range(4))
        )
    assert [s for batch in statuses for s in batch] == [200] * 800
    await assert_valid(url, 800)
