from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest

from gateway.config import Settings
from gateway.db import Migration, create_pool, load_migrations, migrate
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


async def test_a_migration_longer_than_the_statement_timeout_is_applied(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index over a big table takes longer than a request may: the pool's timeouts do not apply."""
    name, url = await create_database(server_url, "cpni_slow_migration", migrated=True)
    slow = Migration(9999, "slow", "SELECT pg_sleep(1.2)")
    monkeypatch.setattr("gateway.db.load_migrations", lambda: [*load_migrations(), slow])
    settings = Settings(database_url=url)
    settings = replace(settings, limits=replace(settings.limits, statement_timeout_s=0.5))
    pool = await create_pool(settings, url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
            assert [m.version for m in applied] == [9999]
            # The connection keeps its own timeout for what it runs next.
            with pytest.raises(asyncpg.QueryCanceledError):
                await conn.execute("SELECT pg_sleep(1.2)")
    finally:
        await pool.close()
        await drop_database(server_url, name)
