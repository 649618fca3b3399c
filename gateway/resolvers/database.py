"""The database handle resolvers use: a pool plus a per-request round-trip count.

Read replicas (``CPNI_GATEWAY_REPLICA_URLS``, docs/SCALING.md): a read-only
request may run on a streaming replica, but only on one that has replayed
everything the primary had written when the request started. The first
statement of the request reads the primary's WAL position; a replica serves
the request only if its replay position is at or past it, else the primary
does. Facts and customer data are read together in one statement, on one
server, so a decision never rests on a consent record older than the request.
A replica that is unreachable, or found behind, is passed over for a short
while without an error; writes and the audit trail never use a replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

log = logging.getLogger("cpni_gateway.db")

# What a failing or unreachable database raises: all mean "unavailable" (503).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

# The primary's position when the request starts. The insert position, not
# the flushed one: a transaction committed with synchronous_commit = off is
# acknowledged before its commit record is flushed, yet it precedes this.
PRIMARY_POSITION_SQL = "SELECT pg_current_wal_insert_lsn()::text"
# NULL on a server that is not in recovery (a promoted replica): not used.
REPLICA_CAUGHT_UP_SQL = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)"


class Replica:
    """One read-only pool and when it may next be tried."""

    def __init__(self, pool: asyncpg.Pool, name: str) -> None:
        self.pool = pool
        self.name = name  # for logs: its place in CPNI_GATEWAY_REPLICA_URLS, never a host or credentials
        self.skip_until = 0.0


class Replicas:
    """The process's replica pools, tried in turn (process state that changes no answer).

    ``down_s``: how long a replica that failed to answer is left alone;
    ``behind_s``: how long one found behind the primary is left alone, so a
    lagging replica costs one probe per interval, not one per request.
    """

    def __init__(
        self,
        replicas: Sequence[Replica],
        *,
        acquire_timeout: float = 0.5,
        down_s: float = 5.0,
        behind_s: float = 1.0,
    ) -> None:
        self.replicas = tuple(replicas)
        self.acquire_timeout = acquire_timeout
        self.down_s = down_s
        self.behind_s = behind_s
        self._turn = itertools.count()
        self.served = {"replica": 0, "primary": 0}

    def candidates(self) -> list[Replica]:
        """The replicas not being left alone, starting with the next in turn."""
        if not self.replicas:
            return []
        start = next(self._turn) % len(self.replicas)
        ordered = self.replicas[start:] + self.replicas[:start]
        now = time.monotonic()
        return [r for r in ordered if r.skip_until <= now]

    async def caught_up(self, replica: Replica, position: str) -> bool:
        """Whether ``replica`` has replayed up to ``position``; False (and left alone) if not or unreachable."""
        try:
            async with replica.pool.acquire(timeout=self.acquire_timeout) as conn:
                ok = bool(await conn.fetchval(REPLICA_CAUGHT_UP_SQL, position, timeout=self.acquire_timeout))
        except DATABASE_ERRORS as exc:
            log.warning("replica %s unavailable (%s): reading from the primary", replica.name, type(exc).__name__)
            replica.skip_until = time.monotonic() + self.down_s
            return False
        if not ok:
            replica.skip_until = time.monotonic() + self.behind_s
        return ok

    async def close(self) -> None:
        await asyncio.gather(*(r.pool.close() for r in self.replicas), return_exceptions=True)


class Database:
    """Runs queries on the pool and counts SQL round trips for this request.

    Every wait is bounded: asyncpg's pool waits forever for a free connection
    unless told otherwise, so each acquire carries ``acquire_timeout``.

    With ``replicas`` (read-only requests only), the request's statements run
    on a replica that has caught up with the primary as of the first
    statement, else on the primary (:meth:`source`).
    """

    def __init__(
        self, pool: asyncpg.Pool, *, acquire_timeout: float = 2.0, replicas: Replicas | None = None
    ) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout
        self.replicas = replicas if replicas is not None and replicas.replicas else None
        self.round_trips = 0
        self.on_replica = False
        self._pinned: Any = None
        self._pinning = False
        self._pinned_pool: asyncpg.Pool = pool
        self._source: asyncio.Future[asyncpg.Pool] | None = None

    @property
    def routed(self) -> bool:
        """Whether this request chose between replicas and the primary (it read something, with replicas)."""
        return self._source is not None

    async def source(self) -> asyncpg.Pool:
        """The pool this request reads from, chosen once (concurrent resolvers share the choice)."""
        if self.replicas is None:
            return self.pool
        if self._source is None:
            self._source = asyncio.ensure_future(self._choose(self.replicas))
            # A request cancelled while choosing leaves the choice unread: mark its error read.
            self._source.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.shield(self._source)

    async def _choose(self, replicas: Replicas) -> asyncpg.Pool:
        candidates = replicas.candidates()
        if candidates:
            self.round_trips += 1
            async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
                position = await conn.fetchval(PRIMARY_POSITION_SQL)
            for replica in candidates:
                self.round_trips += 1
                if await replicas.caught_up(replica, position):
                    replicas.served["replica"] += 1
                    self.on_replica = True
                    return replica.pool
        replicas.served["primary"] += 1
        return self.pool

    @contextlib.asynccontextmanager
    async def pinned(self) -> AsyncIterator[None]:
        """Run every query inside on one connection, one at a time (the planned executor).

        The connection is taken at the first query (a request that reads
        nothing, as ``me``, takes none) and given back when the block ends.
        """
        self._pinning = True
        try:
            yield
        finally:
            self._pinning = False
            conn, self._pinned = self._pinned, None
            if conn is not None:
                await self._pinned_pool.release(conn)

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        self.round_trips += 1
        if self._pinning:
            if self._pinned is None:
                self._pinned_pool = await self.source()
                self._pinned = await self._pinned_pool.acquire(timeout=self.acquire_timeout)
            return await self._pinned.fetch(sql, *args)  # type: ignore[no-any-return]
        source = await self.source()
        async with source.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.round_trips += 1
        source = await self.source()
        async with source.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetchrow(sql, *args)
