"""``bench.run --fresh-audit``: the bench database's trail emptied, and still verifiable."""

from __future__ import annotations

import asyncpg

from bench.database import AUDIT_ROWS, _empty_audit
from gateway.audit.chain import EventContent
from gateway.audit.writer import AuditWriter
from gateway.config import Settings
from tests.audit.conftest import Cli, FreshDatabase


def event(customer_id: int) -> EventContent:
    return EventContent(
        request_id=f"bench-{customer_id}", client="bench", division="customer_care", purpose="customer_care",
        regime="opt_out", campaign_id=None, operation_name="Full", customer_id=customer_id,
        disclosed=("PUBLIC",), denied=(), policy_ids=("care",),
    )  # fmt: skip


async def test_an_emptied_trail_holds_nothing_verifies_and_takes_new_events(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        for n in range(20):
            await writer.append([event(n)])
        assert (await Cli(url)("audit", "verify")).exit_code == 0  # leaves verified checkpoints
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("ANALYZE audit_events")
            assert await conn.fetchval(AUDIT_ROWS) == 20
            await _empty_audit(conn)
            assert await conn.fetchval("SELECT count(*) FROM audit_events") == 0
            assert await conn.fetchval("SELECT count(*) FROM audit_checkpoints") == 0
        finally:
            await conn.close()
        await writer.append([event(99)])
    finally:
        await writer.close()
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 64 chains, 1 events verified")
