"""PostgreSQL for the benchmark: ``DATABASE_URL``, or an embedded server of its own.

The embedded server lives in ``<data-dir>/pgdata`` and keeps one database
per customer count (``cpni_bench_10000``), so a smoke run never reseeds the
big data set. It is stopped when the benchmark exits. Either way the
database is migrated, and seeded once when it has no customers.
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import asyncpg
import psutil  # type: ignore[import-untyped]

from gateway.config import Settings, load_settings
from gateway.db import DatabaseError, create_pool, migrate
from gateway.seed import SeedError, seed

SEED = 0


class BenchDatabaseError(Exception):
    """The benchmark's database cannot be started or prepared (message is safe to print)."""


@dataclass(frozen=True)
class BenchDatabase:
    """A migrated, seeded database and what the report says about it."""

    url: str
    source: str
    customer_ids: tuple[int, ...]
    server_version: str
    postmaster_pid: int | None  # set when PostgreSQL runs on this machine: its CPU is measured
    seeded_now: str | None  # the seed summary when this run seeded it


class EmbeddedServer:
    """The benchmark's own pgserver; stopped when :meth:`close` is called or the process exits."""

    def __init__(self, data_dir: Path) -> None:
        pgdata = (data_dir / "pgdata").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(pgdata)
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            import pgserver  # noqa: PLC0415 - only without DATABASE_URL

            try:
                self._server: Any = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
            except Exception as exc:  # pgserver raises plain exceptions
                raise BenchDatabaseError(f"could not start the embedded PostgreSQL in {pgdata}: {exc}") from None
        self.pgdata = pgdata

    def url(self, database: str) -> str:
        return str(self._server.get_uri(database))

    @property
    def pid(self) -> int | None:
        pid = self._server.get_pid()
        return int(pid) if pid else None

    def close(self) -> None:
        self._server.cleanup()


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of killed benchmark runs from pgserver's handle list.

    pgserver stops the server when its last handle closes, counting handles
    in ``.handle_pids.json``; a run killed by a signal leaves its pid there
    and the server would then never be stopped.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _settings() -> Settings:
    return load_settings()


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _prepare(url: str, customers: int, log: Any) -> tuple[tuple[int, ...], str, str | None, int]:
    settings = _settings()
    workers = os.cpu_count() or 1
    pool = await create_pool(settings, url, min_size=1, max_size=max(2, workers))
    try:
        async with pool.acquire() as conn:
            for migration in await migrate(cast(asyncpg.Connection, conn)):
                log(f"applied migration {migration.version:04d}_{migration.name}")
            empty = not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM customers)")
        seeded_now = None
        if empty:  # seed() takes connections of its own from the pool: none may be held here
            log(f"seeding {customers:,} customers (first run only)...")
            report = await seed(pool, customers=customers, seed=SEED)
            seeded_now = report.summary()
            log(seeded_now)
        async with pool.acquire() as conn:
            ids = tuple(r["id"] for r in await conn.fetch("SELECT id FROM customers ORDER BY id"))
            version = str(await conn.fetchval("SHOW server_version"))
            backend_pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await pool.close()
    return ids, version, seeded_now, backend_pid


def _local_postmaster(url: str, backend_pid: int) -> int | None:
    """The postmaster of a PostgreSQL on this machine (socket or loopback), else None."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if host not in ("", "localhost", "127.0.0.1", "::1") and not host.startswith("/"):
        return None
    try:
        backend = psutil.Process(backend_pid)
        parent = backend.parent()
    except psutil.Error:
        return None
    if parent is None or "postgres" not in parent.name():
        return None
    return int(parent.pid)


def prepare_database(
    *, customers: int, data_dir: Path, log: Any = print
) -> tuple[BenchDatabase, EmbeddedServer | None]:
    """Open (start, create, migrate, seed) the benchmark's database.

    Returns the database and, when embedded, the server handle the caller closes.
    """
    env_url = os.environ.get("DATABASE_URL")
    embedded: EmbeddedServer | None = None
    try:
        if env_url:
            url, source = env_url, "DATABASE_URL"
        else:
            embedded = EmbeddedServer(data_dir)
            name = f"cpni_bench_{customers}"
            asyncio.run(_ensure_database(embedded.url("postgres"), name))
            url, source = embedded.url(name), f"embedded pgserver in {data_dir}, database {name}"
        try:
            ids, version, seeded_now, backend_pid = asyncio.run(_prepare(url, customers, log))
        except (DatabaseError, SeedError) as exc:
            raise BenchDatabaseError(f"could not prepare the database: {exc}") from None
        except (OSError, asyncpg.PostgresError) as exc:
            raise BenchDatabaseError(f"could not prepare the database: {type(exc).__name__}: {exc}") from None
        if not ids:
            raise BenchDatabaseError("the database has no customers")
        if len(ids) != customers:
            log(f"note: the database holds {len(ids):,} customers, not {customers:,}; using those")
        postmaster = embedded.pid if embedded else _local_postmaster(url, backend_pid)
        database = BenchDatabase(url, source, ids, version, postmaster, seeded_now)
    except BaseException:
        if embedded is not None:
            embedded.close()
        raise
    return database, embedded
