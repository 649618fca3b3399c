"""Retention drops whole months; every chain still verifies from its retention checkpoint.

Events cannot be back-dated (the database stamps them), so these tests
prune "from the future": ``prune(now=...)`` years ahead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio

from gateway.audit.chain import EventContent
from gateway.audit.retention import RetentionError, ensure_partitions, prune
from gateway.audit.verify import verify
from gateway.audit.writer import AuditWriter
from gateway.config import Settings
from tests.audit.conftest import Cli, FreshDatabase

THREE_YEARS_ON = datetime.now(UTC) + timedelta(days=3 * 365)


def event(n: int) -> EventContent:
    return EventContent(
        request_id=f"retention-{n}",
        client="test",
        division="customer_care",
        purpose="customer_care",
        regime="opt_out",
        campaign_id=None,
        operation_name=None,
        customer_id=n,
        disclosed=("PUBLIC",),
        denied=(),
        policy_ids=(),
    )


@pytest_asyncio.fixture(loop_scope="session")
async def trail(fresh_database: FreshDatabase) -> AsyncIterator[tuple[str, asyncpg.Pool, AuditWriter]]:
    url = await fresh_database()
    writer = await AuditWriter.open(Settings(database_url=url), url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    for n in range(20):
        await writer.append([event(n)])
    yield url, pool, writer
    await writer.close()
    await pool.close()


async def partitions(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1"
    )
    return [r["relname"] for r in rows]


async def test_migrations_create_this_month_and_three_ahead(trail: tuple[str, asyncpg.Pool, AuditWriter]) -> None:
    _, pool, _ = trail
    names = await partitions(pool)
    assert "audit_events_default" in names
    assert f"audit_events_{datetime.now(UTC):%Y_%m}" in names
    assert len(names) == 5
    assert await ensure_partitions(pool) == 0  # idempotent


async def test_prune_drops_old_months_and_chains_verify_from_checkpoints(
    trail: tuple[str, asyncpg.Pool, AuditWriter],
) -> None:
    _, pool, writer = trail
    used = await pool.fetchval("SELECT count(DISTINCT chain) FROM audit_events")
    this_month = f"audit_events_{datetime.now(UTC):%Y_%m}"
    report = await prune(pool, retention_days=730, now=THREE_YEARS_ON)
    assert this_month in report.dropped and "audit_events_default" not in report.dropped
    assert report.checkpoints == used
    assert await pool.fetchval("SELECT count(*) FROM audit_events") == 0
    after = await verify(pool)
    assert after.ok, after.summary()
    assert after.verified == 0 and sum(1 for c in after.chains if c.start_seq > 0) == used
    # The chains go on from their checkpoints; the month has no partition
    # any more, so the default partition takes the events.
    for n in range(20, 25):
        await writer.append([event(n)])
    assert await pool.fetchval("SELECT count(*) FROM audit_events_default") == 5
    again = await verify(pool)
    assert again.ok and again.verified == 5
    # Later, the default partition goes too once all of it is old.
    later = await prune(pool, retention_days=730, now=THREE_YEARS_ON + timedelta(days=60))
    assert "audit_events_default" in later.dropped
    assert "audit_events_default" in await partitions(pool)  # recreated: still the safety net
    final = await verify(pool)
    assert final.ok and final.verified == 0


async def test_prune_refuses_a_broken_trail(trail: tuple[str, asyncpg.Pool, AuditWriter]) -> None:
    _, pool, _ = trail
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("DELETE FROM audit_events WHERE customer_id = 7")
    before = await partitions(pool)
    with pytest.raises(RetentionError, match="does not verify"):
        await prune(pool, retention_days=730, now=THREE_YEARS_ON)
    assert await partitions(pool) == before


async def test_prune_command(trail: tuple[str, asyncpg.Pool, AuditWriter]) -> None:
    url, _, _ = trail
    cli = Cli(url)
    dry = await cli("audit", "prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "retention 730 days" in dry.output and "would drop 0 partitions" in dry.output
    short = await cli("audit", "prune", "--retention-days", "30")
    assert short.exit_code == 1
    assert "64.2009(c)" in short.output
