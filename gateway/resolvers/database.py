"""The database handle resolvers use: a pool plus a per-request round-trip count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

# What a failing or unreachable database raises: all mean "unavailable" (503).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

class Database:
    """Runs queries on the pool and counts SQL round trips for this request."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.round_trips = 0

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        self.round_trips += 1
        return await self.pool.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.round_trips += 1
        return await self.pool.fetchrow(sql, *args)
