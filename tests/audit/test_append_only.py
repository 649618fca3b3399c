"""The database refuses to rewrite the trail: triggers for everyone, privileges for the gateway's role."""

from __future__ import annotations

import asyncpg
import pytest
import pytest_asyncio

from gateway.audit.chain import EventContent
from gateway.audit.writer import AuditWriter
from gateway.config import Settings


def event(n: int, request: str = "req") -> EventContent:
    return EventContent(
        request_id=f"{request}-{n}",
        client="test-client",
        division="customer_care",
        purpose="customer_care",
        regime="opt_out",
        campaign_id=None,
        operation_name="Test",
        customer_id=n,
        disclosed=("PUBLIC", "CONTACT"),
        denied=("LOCATION",),
        policy_ids=("care-reads-cpni",),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def written(module_database: str) -> str:
    """A database holding three events; every test here expects its change to be refused."""
    url = module_database
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        for n in range(3):
            await writer.append([event(n)])
    finally:
        await writer.close()
    return url


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_events SET client = 'someone-else'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "TRUNCATE audit_events_default",
        "UPDATE audit_chain_heads SET seq = 0, hash = '\\x00'",
        "DELETE FROM audit_chain_heads",
        "TRUNCATE audit_chain_heads CASCADE",
    ],
)
async def test_even_the_owner_cannot_update_delete_or_truncate(written: str, sql: str) -> None:
    conn = await asyncpg.connect(written)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
        assert await conn.fetchval("SELECT count(*) FROM audit_events") == 3
    finally:
        await conn.close()


async def test_a_monthly_partition_refuses_truncate_too(written: str) -> None:
    conn = await asyncpg.connect(written)
    try:
        partition = await conn.fetchval(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'audit_events'::regclass AND c.relname <> 'audit_events_default' LIMIT 1"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"TRUNCATE {partition}")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM audit_events",
        "UPDATE audit_events SET client = 'x'",
        "DELETE FROM audit_events",
        "UPDATE audit_chain_heads SET seq = seq + 1",
        "INSERT INTO audit_checkpoints (chain, seq, hash, kind) VALUES (0, 0, '\\x00', 'verified')",
        "INSERT INTO audit_events (at, chain, seq, request_id, client, division, purpose, regime, disclosed,"
        " denied, policy_ids, prev_hash, hash) VALUES (now(), 0, 99, 'r', 'c', 'd', 'p', 'opt_out', '{}',"
        " '{}', '{}', '\\x00', '\\x00')",
    ],
)
async def test_the_gateway_role_may_only_append_through_the_chain(written: str, sql: str) -> None:
    conn = await asyncpg.connect(written)
    try:
        await conn.execute("SET ROLE cpni_gateway_app")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
    finally:
        await conn.close()
