"""The database handle resolvers use: a pool plus a per-request round-trip count."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

# What a failing or unreachable database raises: all mean "unavailable" (503).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

class Database:
    """Runs queries on the pool and counts SQL round trips for this request.

    Every wait is bounded: asyncpg's pool waits forever for a free connection
    unless told otherwise, so each acquire carries ``acquire_timeout``.
    """

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float = 2.0) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout
        self.round_trips = 0
        self._pinned: Any = None

    @contextlib.asynccontextmanager
    async def pinned(self) -> AsyncIterator[None]:
        """Run every query inside on one connection, one at a time (the planned executor)."""
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            self._pinned = conn
            try:
                yield
            finally:
                self._pinned = None

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        self.round_trips += 1
        if self._pinned is not None:
            return await self._pinned.fetch(sql, *args)  # type: ignore[no-any-return]
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.round_trips += 1
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetchrow(sql, *args)
