"""``cpni-gateway audit verify``: a clean trail is OK; every kind of tampering names its event.

The tampering is done the way an administrator could: as superuser, with
triggers switched off (``session_replication_role = replica``).
"""

from __future__ import annotations

import zlib

import asyncpg

from gateway.audit.chain import EventContent, link
from gateway.audit.writer import AuditWriter
from gateway.config import Settings
from tests.audit.conftest import Cli, FreshDatabase


def event(customer_id: int, request_id: str) -> EventContent:
    return EventContent(
        request_id=request_id,
        client="test-client",
        division="marketing",
        purpose="marketing_cross_category",
        regime="opt_out",
        campaign_id="c-1",
        operation_name=None,
        customer_id=customer_id,
        disclosed=("PUBLIC", "SERVICE"),
        denied=(),
        policy_ids=("marketing-opt-out",),
    )


def hint(request_id: str) -> int:
    """The chain a lone writer gets for this request id (see AuditWriter.append)."""
    return (zlib.crc32(request_id.encode()) & 0x7FFFFFFF) % 64


async def trail(fresh_database: FreshDatabase) -> tuple[str, int]:
    """A database with one chain of five requests (one event each) and some other chains."""
    url = await fresh_database()
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        # One writer at a time with the same request id: the same (hinted) chain.
        for n in range(5):
            await writer.append([event(n, "same-request")])
        others = [f"other-{k}" for k in range(100) if hint(f"other-{k}") != hint("same-request")][:10]
        for n, request_id in enumerate(others):
            await writer.append([event(100 + n, request_id), event(200 + n, request_id)])
    finally:
        await writer.close()
    conn = await asyncpg.connect(url)
    chain = await conn.fetchval("SELECT chain FROM audit_events WHERE request_id = 'same-request' LIMIT 1")
    await conn.close()
    return url, chain


async def tamper(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            for sql in statements:
                await conn.execute(sql)
    finally:
        await conn.close()


async def event_id(url: str, chain: int, seq: int) -> int:
    conn = await asyncpg.connect(url)
    try:
        found: int = await conn.fetchval("SELECT id FROM audit_events WHERE chain = $1 AND seq = $2", chain, seq)
        return found
    finally:
        await conn.close()


async def test_an_intact_trail_verifies_with_counts(fresh_database: FreshDatabase) -> None:
    url, _ = await trail(fresh_database)
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 64 chains, 25 events verified")
    # A verified checkpoint per chain: the next walk can start from there.
    incremental = await Cli(url)("audit", "verify", "--from-checkpoint")
    assert incremental.exit_code == 0
    assert "0 events verified" in incremental.output


async def test_an_update_by_a_superuser_is_named(fresh_database: FreshDatabase) -> None:
    url, chain = await trail(fresh_database)
    victim = await event_id(url, chain, 3)
    await tamper(url, f"UPDATE audit_events SET disclosed = '{{PUBLIC}}' WHERE id = {victim}")
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 1
    assert f"chain {chain}, event id {victim} (seq 3): contents do not match" in result.output


async def test_a_deleted_event_is_named_by_the_one_after_it(fresh_database: FreshDatabase) -> None:
    url, chain = await trail(fresh_database)
    after = await event_id(url, chain, 3)
    await tamper(url, f"DELETE FROM audit_events WHERE chain = {chain} AND seq = 2")
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 1
    assert f"chain {chain}, event id {after} (seq 3): event(s) missing: expected seq 2" in result.output


async def test_reordered_events_are_named(fresh_database: FreshDatabase) -> None:
    url, chain = await trail(fresh_database)
    second = await event_id(url, chain, 2)
    await tamper(
        url,
        f"UPDATE audit_events SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE chain = {chain} AND seq IN (2, 3)",
    )
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 1
    first_broken = await event_id(url, chain, 2)
    assert first_broken != second
    assert f"chain {chain}, event id {first_broken} (seq 2)" in result.output


async def test_a_deleted_last_event_is_caught_at_the_head(fresh_database: FreshDatabase) -> None:
    url, chain = await trail(fresh_database)
    await tamper(url, f"DELETE FROM audit_events WHERE chain = {chain} AND seq = 5")
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 1
    assert f"chain {chain}: events after seq 4 are missing (the head is at seq 5)" in result.output


async def test_a_chain_rewritten_with_fresh_hashes_disagrees_with_its_checkpoint(
    fresh_database: FreshDatabase,
) -> None:
    url, chain = await trail(fresh_database)
    assert (await Cli(url)("audit", "verify")).exit_code == 0  # records checkpoints
    # Alter event 2 and recompute every later hash and the head: the chain is
    # self-consistent again, but no longer passes through the checkpoint.
    conn = await asyncpg.connect(url)
    rows = await conn.fetch(
        "SELECT id, seq, at, prev_hash, request_id FROM audit_events WHERE chain = $1 ORDER BY seq", chain
    )
    await conn.close()
    statements, prev = [], bytes(rows[0]["prev_hash"])
    for row in rows:
        content = event(row["seq"] - 1, row["request_id"])
        if row["seq"] == 2:
            content = content._replace(disclosed=("PUBLIC",))
        digest = link(prev, chain, row["seq"], row["at"], content.digest(), row["id"])
        statements.append(
            f"UPDATE audit_events SET disclosed = '{{{','.join(content.disclosed)}}}', "
            f"prev_hash = '\\x{prev.hex()}', hash = '\\x{digest.hex()}' WHERE id = {row['id']}"
        )
        prev = digest
    statements.append(f"UPDATE audit_chain_heads SET hash = '\\x{prev.hex()}' WHERE chain = {chain}")
    await tamper(url, *statements)
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 1
    assert "differs from the one recorded at a checkpoint" in result.output


async def one_record(fresh_database: FreshDatabase, customers: tuple[int, ...]) -> tuple[str, asyncpg.Record]:
    """A database whose trail is one record of ``customers`` (request ``page``), and that record's row."""
    url = await fresh_database()
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        assert await writer.append([event(n, "page") for n in customers]) == len(customers)
    finally:
        await writer.close()
    conn = await asyncpg.connect(url)
    record = await conn.fetchrow("SELECT * FROM audit_events WHERE request_id = 'page'")
    await conn.close()
    assert record is not None
    return url, record


async def test_a_customer_taken_out_of_a_record_or_moved_in_it_is_named(fresh_database: FreshDatabase) -> None:
    url, record = await one_record(fresh_database, (7, 8, 9))
    assert record["customer_ids"] == [7, 8, 9]
    assert (await Cli(url)("audit", "verify")).output.startswith("OK: 64 chains, 3 events verified")
    for changed in ("{7,9}", "{9,8,7}", "{7,8,10}"):
        await tamper(url, f"UPDATE audit_events SET customer_ids = '{changed}' WHERE id = {record['id']}")
        result = await Cli(url)("audit", "verify")
        assert result.exit_code == 1, changed
        assert f"event id {record['id']} (seq {record['seq']}): contents do not match" in result.output
    await tamper(url, f"UPDATE audit_events SET customer_ids = '{{7,8,9}}' WHERE id = {record['id']}")
    assert (await Cli(url)("audit", "verify")).exit_code == 0


async def test_a_record_whose_buckets_disagree_with_its_customers_is_named(fresh_database: FreshDatabase) -> None:
    url, record = await one_record(fresh_database, (7, 8, 200))
    assert record["customer_buckets"] == [0, 3]  # 7 >> 6, 8 >> 6 and 200 >> 6
    # Buckets are not in the digest: a record taken out of a customer's bucket would hide from its trail.
    await tamper(url, f"UPDATE audit_events SET customer_buckets = '{{0}}' WHERE id = {record['id']}")
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 1
    assert f"event id {record['id']} (seq {record['seq']}): its customer buckets do not match" in result.output
    await tamper(url, f"UPDATE audit_events SET customer_buckets = '{{0,3}}' WHERE id = {record['id']}")
    assert (await Cli(url)("audit", "verify")).exit_code == 0
