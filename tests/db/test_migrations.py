from __future__ import annotations

import asyncio

import asyncpg

from gateway.db import load_migrations, migrate
from tests.databases import create_database, drop_database


async def test_migrations_are_recorded_once_each(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        again = await migrate(conn)
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert again == []
    assert [r["version"] for r in rows] == [m.version for m in load_migrations()]


async def test_two_processes_migrating_at_once_take_turns(server_url: str) -> None:
    name, url = await create_database(server_url, "cpni_race", migrated=False)
    try:
        conns = [await asyncpg.connect(url) for _ in range(2)]
        results = await asyncio.gather(*(migrate(c) for c in conns))
        for c in conns:
            await c.close()
        assert sorted(len(r) for r in results) == [0, len(load_migrations())]
    finally:
        await drop_database(server_url, name)


async def test_consent_history_refuses_update_and_delete(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO customers (id, account_number, segment, status, name)"
            " VALUES (990001, 'ACC-990001', 'RESIDENTIAL', 'ACTIVE', 'Ann Append')"
        )
        await conn.execute(
            "INSERT INTO cpni_approvals (customer_id, scope, status, channel, recorded_by)"
            " VALUES (990001, 'CPNI', 'OPT_OUT', 'PHONE', 'test')"
        )
        for sql in (
            "UPDATE cpni_approvals SET status = 'OPT_IN' WHERE customer_id = 990001",
            "DELETE FROM cpni_approvals WHERE customer_id = 990001",
        ):
            try:
                await conn.execute(sql)
            except asyncpg.InsufficientPrivilegeError:
                pass
            else:
                raise AssertionError(f"{sql} was allowed")
