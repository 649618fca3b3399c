"""Running the seed: chunks of customers, one transaction each, on parallel connections.

Every row is a function of (seed, customer id, now), never of the order in
which chunks commit, so the chunks may run concurrently (PostgreSQL does the
work; one connection per core keeps it busy) and a re-run with the same
arguments gives the same rows.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.seed import billing, consent, people, services
from gateway.seed.sql import Customers, Draws

# Tables the seed fills, children last: reset truncates exactly these (never
# audit tables, which are no demo data).
SEEDED_TABLES: tuple[str, ...] = (
    "usage_records", "service_configurations", "services", "invoices", "balances",
    "payment_methods", "cpni_approvals", "cpni_notices", "addresses", "customer_contacts",
    "customers", "campaigns",
)
APPEND_ONLY_TABLES: tuple[str, ...] = ("cpni_approvals", "cpni_notices")
SERIAL_TABLES: tuple[str, ...] = ("cpni_approvals", "cpni_notices")

SEED_LOCK_KEY = 0x43504E4953  # "CPNIS": one seeder per database at a time
LOCK_POLL_S = 0.5
# Loading runs far past the gateway's request-sized statement timeouts.
NO_TIMEOUT_S = 24 * 3600.0
UNLIMITED = (
    "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0;"
    " SET LOCAL idle_in_transaction_session_timeout = 0;"
    # Safe to lose on a crash: a failed seed is re-run with --reset anyway.
    " SET LOCAL synchronous_commit = off; SET LOCAL TimeZone = 'UTC'"
)
DEFAULT_CHUNK = 2_000


class SeedError(Exception):
    """The seed cannot run; the message is one line, safe to print.

    ``DatabaseNotEmpty``: the database already has customers and ``reset`` was not asked for.
    """


class DatabaseNotEmpty(SeedError):
    """The database already has customers (seed with ``reset=True`` to replace them)."""


@dataclass(frozen=True)
class SeedReport:
    """Rows inserted per table, and the wall-clock seconds the seed took."""

    customers: int = 0
    customer_contacts: int = 0
    addresses: int = 0
    services: int = 0
    service_configurations: int = 0
    usage_records: int = 0
    invoices: int = 0
    balances: int = 0
    payment_methods: int = 0
    cpni_approvals: int = 0
    cpni_notices: int = 0
    campaigns: int = 0
    seconds: float = 0.0

    def rows(self) -> dict[str, int]:
        """Rows per table, in table order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "seconds"}

    def summary(self) -> str:
        """One line for humans: the big tables and the time."""
        return (
            f"seeded {self.customers:,} customers, {self.services:,} services, "
            f"{self.usage_records:,} usage records, {self.invoices:,} invoices "
            f"in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class Statement:
    table: str
    sql: str


def chunk_statements(seed: int) -> tuple[Statement, ...]:
    """The INSERTs of one chunk for this seed, parents before children."""
    c = Customers(Draws(seed))
    return (
        Statement("customers", people.customers_sql(c)),
        Statement("customer_contacts", people.contacts_sql(c)),
        Statement("addresses", people.addresses_sql(c)),
        Statement("payment_methods", people.payment_methods_sql(c)),
        Statement("services", services.services_sql(c)),
        Statement("service_configurations", services.configurations_sql(c)),
        Statement("usage_records", services.usage_sql(c)),
        Statement("invoices", billing.invoices_sql(c)),
        Statement("balances", billing.balances_sql(c)),
        Statement("cpni_approvals", consent.approvals_sql(c)),
        Statement("cpni_approvals", consent.location_approvals_sql(c)),
        Statement("cpni_notices", consent.notices_sql(c)),
    )


def today_utc() -> datetime:
    """Midnight UTC of the current day: the CLI's ``now``."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _rows(status: str) -> int:
    # asyncpg returns the command tag, e.g. "INSERT 0 2000".
    return int(status.rsplit(" ", 1)[-1])


def _params(sql: str) -> int:
    return max((int(n) for n in re.findall(r"\$(\d+)", sql)), default=0)


async def seed(
    pool_or_conn: asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy,
    *,
    customers: int = 10_000,
    seed: int = 0,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    reset: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    workers: int | None = None,
) -> SeedReport:
    """Fill a migrated database with the deterministic demo dataset.

    Customers get ids ``1..customers``. The same (``customers``, ``seed``,
    ``now``) always gives the same rows; ``now`` (timezone-aware) anchors
    every date, defaulting to midnight UTC today. ``progress`` is called
    with the number of customers of each chunk as it commits. A database
    that already has customers is refused (:class:`DatabaseNotEmpty`) unless
    ``reset``, which first empties every seeded table, the append-only
    consent tables included. With a pool, chunks run on up to ``workers``
    connections at once (default: one per CPU, within the pool's size).
    """
    if customers < 1:
        raise SeedError(f"customers must be at least 1, not {customers}")
    if chunk_size < 1:
        raise SeedError(f"chunk_size must be at least 1, not {chunk_size}")
    if now is None:
        now = today_utc()
    elif now.tzinfo is None:
        raise SeedError("now must be timezone-aware")
    started = time.perf_counter()
    async with _connections(pool_or_conn, workers) as conns:
        control = conns[0]
        await _lock(control)
        try:
            await _prepare(control, reset)
            counts: Counter[str] = Counter()
            async with control.transaction():
                await control.execute(UNLIMITED)
                await control.executemany(consent.CAMPAIGNS_SQL, consent.campaign_rows(now))
            counts["campaigns"] = len(consent.CAMPAIGNS)
            await _load_chunks(conns, chunk_statements(seed), customers, chunk_size, now, counts, progress)
            await _finish(control)
        finally:
            await _unlock(control)
    return SeedReport(**counts, seconds=time.perf_counter() - started)


@asynccontextmanager
async def _connections(pool_or_conn: Any, workers: int | None) -> AsyncIterator[list[Any]]:
    if not isinstance(pool_or_conn, asyncpg.Pool):
        yield [pool_or_conn]
        return
    wanted = workers or os.cpu_count() or 1
    size = max(1, min(wanted, pool_or_conn.get_max_size()))
    async with AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(pool_or_conn.acquire()) for _ in range(size)]
        yield conns


async def _lock(conn: Any) -> None:
    # Polled rather than blocking, so no statement timeout of the pool applies.
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", SEED_LOCK_KEY):
        await asyncio.sleep(LOCK_POLL_S)


async def _unlock(conn: Any) -> None:
    try:
        await conn.execute("SELECT pg_advisory_unlock($1)", SEED_LOCK_KEY)
    except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
        pass  # the session is gone, and its lock with it; keep the original error


async def _prepare(conn: Any, reset: bool) -> None:
    if reset:
        await reset_tables(conn)
        return
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM customers)"):
        raise DatabaseNotEmpty("the database already has customers; seed again with reset to replace them")
    demo_ids = [c.id for c in consent.CAMPAIGNS]
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM campaigns WHERE id = ANY($1::text[]))", demo_ids):
        raise DatabaseNotEmpty("the database already has the demo campaigns; seed again with reset")


async def reset_tables(conn: Any) -> None:
    """Empty every seeded table in one transaction, append-only ones included.

    The append-only triggers are off only inside this transaction, so no
    other session ever sees them disabled.
    """
    async with conn.transaction():
        await conn.execute(UNLIMITED)
        for table in APPEND_ONLY_TABLES:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            await conn.execute(f"TRUNCATE {', '.join(SEEDED_TABLES)} RESTART IDENTITY", timeout=NO_TIMEOUT_S)
        except asyncpg.FeatureNotSupportedError:
            # Another table references one of ours; CASCADE would empty it too.
            raise SeedError(
                "cannot reset: another table references the customer tables by foreign key"
            ) from None
        for table in APPEND_ONLY_TABLES:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


async def _load_chunks(
    conns: list[Any],
    statements: tuple[Statement, ...],
    customers: int,
    chunk_size: int,
    now: datetime,
    counts: Counter[str],
    progress: Callable[[int], None] | None,
) -> None:
    chunks: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for lo in range(1, customers + 1, chunk_size):
        chunks.put_nowait((lo, min(lo + chunk_size - 1, customers)))

    async def worker(conn: Any) -> None:
        while not chunks.empty():
            lo, hi = chunks.get_nowait()
            done = await _load_chunk(conn, statements, lo, hi, now)
            counts.update(done)
            if progress is not None:
                progress(hi - lo + 1)

    # A TaskGroup cancels the other workers when one fails; each rolls back
    # its open chunk. Callers get the first error itself, not a group.
    try:
        async with asyncio.TaskGroup() as group:
            for conn in conns:
                group.create_task(worker(conn))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def _load_chunk(
    conn: Any, statements: tuple[Statement, ...], lo: int, hi: int, now: datetime
) -> Counter[str]:
    done: Counter[str] = Counter()
    args = (lo, hi, now)
    async with conn.transaction():
        await conn.execute(UNLIMITED)
        for statement in statements:
            status = await conn.execute(
                statement.sql, *args[: _params(statement.sql)], timeout=NO_TIMEOUT_S
            )
            done[statement.table] += _rows(status)
    return done


async def _finish(conn: Any) -> None:
    async with conn.transaction():
        await conn.execute(UNLIMITED)
        # Rows were inserted with explicit ids; the next recorded approval or
        # notice must not collide with them.
        for table in SERIAL_TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        for table in SEEDED_TABLES:
            await conn.execute(f"ANALYZE {table}", timeout=NO_TIMEOUT_S)
