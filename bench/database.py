"""PostgreSQL for the benchmark: ``DATABASE_URL``, or an embedded server of its own.

The embedded server lives in ``<data-dir>/pgdata`` and keeps one database
per customer count (``cpni_bench_100000``), so a smoke run never reseeds the
big data set. It is stopped when the benchmark exits. Either way the
database is migrated, and seeded once when it has no customers.

``python -m bench.database --customers N [--data-dir D]`` only prepares
(migrates, seeds once) and exits: seed the 1,000,000-customer database
ahead of a run (~20 minutes on the 2-core machine).

PostgreSQL's CPU is measured whenever it runs on this machine: the
postmaster is found from the embedded server's handle, else from
``SHOW data_directory`` and its ``postmaster.pid``, else as the parent of
the benchmark connection's backend, else as the process listening on the
URL's port. Its CPU (:func:`postgres_cpu_seconds`) is that of the
postmaster, its auxiliary processes (WAL writer, checkpointer, ...) and the
backends of the benchmark's database; backends of other databases on the
same server (another engineer's tests, a seed) are left out.
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
    name: str = ""  # the database's name (its backends' CPU is counted)
    other_databases: frozenset[str] = frozenset()  # their backends' CPU is not
    audit_rows: int = 0  # rows of the audit trail when the run started (the planner's estimate)
    audit_emptied: bool = False  # whether the run emptied it first (fresh_audit)


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


@dataclass(frozen=True)
class _Prepared:
    ids: tuple[int, ...]
    version: str
    seeded_now: str | None
    backend_pid: int
    data_directory: str | None
    name: str
    databases: frozenset[str]
    audit_rows: int
    audit_emptied: bool


# Every earlier run of `on` left its events in the bench database's trail: a
# table that grows run after run (ten million rows after a few days of runs)
# and is vacuumed while later runs measure. Emptying it makes runs compare.
# Only as a superuser (the embedded server's), with the audit triggers off
# for this transaction: the chain heads go back to genesis, so `audit
# verify` still holds on the emptied trail.
EMPTY_AUDIT = (
    "SET LOCAL session_replication_role = replica",
    "TRUNCATE audit_events, audit_checkpoints",
    "UPDATE audit_chain_heads SET seq = 0, hash = decode(repeat('00', 32), 'hex'), at = NULL",
)
AUDIT_ROWS = (
    "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_inherits i"
    " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass"
)


async def _empty_audit(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        for statement in EMPTY_AUDIT:
            await conn.execute(statement)


async def _prepare(url: str, customers: int, log: Any, fresh_audit: bool) -> _Prepared:
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
            audit_rows = int(await conn.fetchval(AUDIT_ROWS))
            if fresh_audit:
                try:
                    await _empty_audit(cast(asyncpg.Connection, conn))
                except asyncpg.InsufficientPrivilegeError:
                    raise DatabaseError("--fresh-audit needs a superuser (the embedded server's)") from None
                log(f"emptied the audit trail (~{audit_rows:,} rows)")
            ids = tuple(r["id"] for r in await conn.fetch("SELECT id FROM customers ORDER BY id"))
            version = str(await conn.fetchval("SHOW server_version"))
            backend_pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
            name = str(await conn.fetchval("SELECT current_database()"))
            databases = frozenset(r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database"))
            try:
                data_directory: str | None = str(await conn.fetchval("SHOW data_directory"))
            except asyncpg.PostgresError:  # needs superuser or pg_read_all_settings
                data_directory = None
    finally:
        await pool.close()
    return _Prepared(ids, version, seeded_now, backend_pid, data_directory, name, databases, audit_rows, fresh_audit)


def _is_postgres(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return "postgres" in process.name() or "postmaster" in process.name()
    except psutil.Error:
        return False


def _local_postmaster(url: str, backend_pid: int, data_directory: str | None) -> int | None:
    """The postmaster of a PostgreSQL on this machine (socket or loopback), else None."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    query_host = dict(p.split("=", 1) for p in (parsed.query or "").split("&") if "=" in p).get("host", "")
    local = host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/") or query_host.startswith("/")
    if not local:
        return None
    if data_directory:  # the first line of postmaster.pid is the postmaster's pid
        try:
            pid = int((Path(data_directory) / "postmaster.pid").read_text().splitlines()[0])
            if _is_postgres(pid):
                return pid
        except (OSError, ValueError, IndexError):
            pass
    try:
        parent = psutil.Process(backend_pid).parent()
        if parent is not None and _is_postgres(parent.pid):
            return int(parent.pid)
    except psutil.Error:
        pass
    port = parsed.port or 5432
    try:
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                if _is_postgres(conn.pid):
                    return int(conn.pid)
    except psutil.Error:
        pass
    return None


def postgres_cpu_sample(db: BenchDatabase) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL process that works for the benchmark (module docstring)."""
    if db.postmaster_pid is None:
        return None
    try:
        root = psutil.Process(db.postmaster_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    others = db.other_databases - {db.name}
    sample = {}
    for process in processes:
        try:
            if process.pid != root.pid and _backend_database(" ".join(process.cmdline())) in others:
                continue
            times = process.cpu_times()
        except psutil.Error:
            continue
        sample[process.pid] = times.user + times.system
    return sample


def cpu_between(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """CPU seconds spent between two samples by the processes alive at the second.

    A process that started in between counts whole; one that exited in
    between is left out (its CPU after the first sample is lost, never
    subtracted: a pool closing an idle connection does not make the
    figure negative).
    """
    if before is None or after is None:
        return None
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def _backend_database(title: str) -> str | None:
    """The database of a backend from its process title (``postgres: user database host state``)."""
    words = title.split()
    if len(words) >= 4 and words[0] == "postgres:":
        return words[2]
    return None


def prepare_database(
    *, customers: int, data_dir: Path, log: Any = print, fresh_audit: bool = False
) -> tuple[BenchDatabase, EmbeddedServer | None]:
    """Open (start, create, migrate, seed) the benchmark's database; with ``fresh_audit``, empty its audit trail.

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
            prepared = asyncio.run(_prepare(url, customers, log, fresh_audit))
        except (DatabaseError, SeedError) as exc:
            raise BenchDatabaseError(f"could not prepare the database: {exc}") from None
        except (OSError, asyncpg.PostgresError) as exc:
            raise BenchDatabaseError(f"could not prepare the database: {type(exc).__name__}: {exc}") from None
        ids = prepared.ids
        if not ids:
            raise BenchDatabaseError("the database has no customers")
        if len(ids) != customers:
            log(f"note: the database holds {len(ids):,} customers, not {customers:,}; using those")
        postmaster = embedded.pid if embedded else None
        if postmaster is None:
            postmaster = _local_postmaster(url, prepared.backend_pid, prepared.data_directory)
        database = BenchDatabase(
            url, source, ids, prepared.version, postmaster, prepared.seeded_now, prepared.name, prepared.databases,
            prepared.audit_rows, prepared.audit_emptied,
        )
    except BaseException:
        if embedded is not None:
            embedded.close()
        raise
    return database, embedded


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.database``: prepare (migrate, seed once) the benchmark's database and exit."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m bench.database", description=main.__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent / ".data")
    args = parser.parse_args(argv)
    try:
        db, embedded = prepare_database(customers=args.customers, data_dir=args.data_dir, log=print)
    except BenchDatabaseError as exc:
        print(f"error: {exc}")
        return 2
    print(f"{len(db.customer_ids):,} customers in {db.source}")
    if embedded is not None:
        embedded.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
