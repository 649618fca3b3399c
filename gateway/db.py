"""PostgreSQL: the embedded server, the connection pool and migrations.

With no ``DATABASE_URL`` the gateway runs an embedded PostgreSQL (pgserver)
in the data directory and reuses it on the next start.

Least privilege: migrations and seeding run as the owner (the embedded
server's superuser), but the gateway serves requests as a login role that
owns nothing and is no superuser, as in production: it is a member of
``cpni_gateway_request`` (the request path's table privileges) and
``cpni_gateway_app`` (only ``audit_append()``), so the process answering
requests cannot switch the audit triggers off or rewrite the trail. The
embedded demo creates that login, ``cpni_gateway`` (:func:`gateway_login_url`);
in production ``DATABASE_URL`` names such a login and migrations run
separately as the owner (``cpni-gateway db migrate``).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import socket
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.config import Settings
from gateway.resolvers.database import Replica, Replicas

# A constant key for pg_advisory_lock: two processes migrating at once
# take turns instead of racing on CREATE TABLE.
MIGRATION_LOCK_KEY = 0x43504E49  # "CPNI"
# A migration may build an index over a large table: far past the request-sized
# statement timeout of the pool's connections (set per transaction, so the
# connection keeps its own when it goes back to the pool).
NO_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0"
MIGRATION_TIMEOUT_S = 24 * 3600.0
# The login the embedded demo serves requests as, and the roles it is given
# (created by the migrations 0002 and 0004).
GATEWAY_LOGIN_ROLE = "cpni_gateway"
GATEWAY_ROLES = ("cpni_gateway_app", "cpni_gateway_request")


class DatabaseError(Exception):
    """The database cannot be reached or prepared (message is safe to print)."""


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and return its URL."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The server stops when the last process using it exits (pgserver
            # counts them), so `db seed` beside a running `serve` shares it.
            server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:  # pgserver raises plain exceptions
        raise DatabaseError(f"could not start the embedded PostgreSQL in {pgdata}: {exc}") from None
    return str(server.get_uri())


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` if configured, else the embedded server's URL."""
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.data_dir)


def with_user(url: str, user: str) -> str:
    """``url`` logging in as ``user`` (no password: the embedded server trusts its Unix socket)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


async def gateway_login_url(owner_url: str) -> str:
    """``owner_url`` as the gateway's own login role, which is created (or completed) here.

    The role is no superuser, creates nothing and owns nothing; it is a
    member of :data:`GATEWAY_ROLES`. Needs the migrations applied and an
    owner that may create roles (the embedded server's superuser).
    """
    try:
        conn = await asyncpg.connect(owner_url)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise unreachable(owner_url, exc, "the embedded PostgreSQL") from None
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", GATEWAY_LOGIN_ROLE):
            try:
                await conn.execute(
                    f"CREATE ROLE {GATEWAY_LOGIN_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                )
            except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                pass  # another process made it first
        await conn.execute(f"GRANT {', '.join(GATEWAY_ROLES)} TO {GATEWAY_LOGIN_ROLE}")
    except asyncpg.UndefinedObjectError:
        raise DatabaseError(
            f"roles {' and '.join(GATEWAY_ROLES)} do not exist: run `cpni-gateway db migrate` first"
        ) from None
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"could not prepare the gateway's login role: {type(exc).__name__}") from None
    finally:
        await conn.close()
    return with_user(owner_url, GATEWAY_LOGIN_ROLE)


async def resolve_gateway_url(settings: Settings) -> str:
    """The URL the gateway serves requests with: ``DATABASE_URL`` as configured, else the embedded
    server as the gateway's login role (:func:`gateway_login_url`), never as its superuser."""
    if settings.database_url:
        return settings.database_url
    return await gateway_login_url(embedded_database_url(settings.data_dir))


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: skip asyncpg's reset round trip.

    The gateway never changes session state on pooled connections (role
    changes use SET LOCAL inside transactions), so the default reset query
    would only add a round trip to every query.
    """


async def create_pool(settings: Settings, dsn: str, **overrides: Any) -> asyncpg.Pool:
    """A pool whose every wait is bounded: connect, acquire, command, statement."""
    limits = settings.limits
    statement_ms = int(limits.statement_timeout_s * 1000)
    options: dict[str, Any] = {
        "min_size": settings.pool_min_size,
        "max_size": settings.pool_max_size,
        "timeout": limits.pool_acquire_timeout_s,
        "command_timeout": limits.statement_timeout_s + 1.0,
        "max_inactive_connection_lifetime": 300.0,
        "reset": _keep_session,
        "server_settings": {
            "statement_timeout": str(statement_ms),
            "lock_timeout": str(statement_ms),
            "idle_in_transaction_session_timeout": str(statement_ms * 2),
            "application_name": "cpni-gateway",
            # Timestamps the planner has PostgreSQL write into answers (gateway.plan.sql.iso)
            # are in the session's time zone: UTC, as the API writes them.
            "TimeZone": "UTC",
            # Every statement is prepared once per connection and run with new
            # arguments; PostgreSQL's default re-plans each run for its first
            # five and whenever it guesses a custom plan is cheaper, which for
            # the planner's combined statements cost more than running them
            # (~0.8 ms of planning per statement, measured). The gateway's
            # statements are written for generic plans (`= ANY($1)` batches).
            "plan_cache_mode": "force_generic_plan",
        },
    }
    options.update(overrides)
    try:
        pool = await asyncpg.create_pool(dsn, **options)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        setting = settings.database_url_setting if dsn == settings.database_url else "the embedded PostgreSQL"
        raise unreachable(dsn, exc, setting, timeout_s=options["timeout"]) from None
    assert pool is not None
    return pool


def unreachable(dsn: str, exc: BaseException, setting: str, *, timeout_s: float | None = None) -> DatabaseError:
    """One line naming where the gateway tried to connect (setting, host, port, user: never the
    password), what went wrong and the likely fix."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    port = parts.port or int(query.get("port", ["5432"])[0])
    user = parts.username or query.get("user", [None])[0] or getpass.getuser()
    database = parts.path.lstrip("/") or user
    where = f"PostgreSQL at {host}:{port} as user {user} ({setting})"
    fix_place = setting if setting != "the embedded PostgreSQL" else "the data directory (--data-dir)"
    problem, fix = _diagnosis(exc, database, fix_place, timeout_s)
    return DatabaseError(f"cannot connect to {where}: {problem}; {fix}")


def _diagnosis(exc: BaseException, database: str, place: str, timeout_s: float | None) -> tuple[str, str]:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", f"is the server running and listening there? Else fix the host and port in {place}"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve", f"fix the host in {place}"
    if isinstance(exc, TimeoutError):
        waited = f" within {timeout_s:g} s" if timeout_s else ""
        return f"no answer{waited}", f"check the host and port in {place} and that no firewall drops the connection"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "password authentication failed", f"fix the user or password in {place}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"database {database!r} does not exist", f"create it (createdb {database}) or fix its name in {place}"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return "the server refused this user", f"check the user in {place} and the server's pg_hba.conf"
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return "the server has no connection slot left", "lower CPNI_GATEWAY_POOL_MAX_SIZE or raise max_connections"
    if isinstance(exc, OSError):
        reason = exc.strerror.lower() if exc.strerror else (str(exc) or type(exc).__name__)
        return reason, f"check the host, port and TLS settings in {place}"
    return type(exc).__name__, f"check {place}"


async def open_replicas(settings: Settings) -> Replicas | None:
    """Pools for ``CPNI_GATEWAY_REPLICA_URLS``, or None without any.

    No connection is made here (``min_size=0``): a replica that is down when
    the gateway starts is passed over like one that goes down later.
    """
    if not settings.replica_urls:
        return None
    replicas = []
    for n, url in enumerate(settings.replica_urls, start=1):
        pool = await create_pool(settings, url, min_size=0)
        replicas.append(Replica(pool, f"#{n}"))
    return Replicas(replicas, acquire_timeout=min(0.5, settings.limits.pool_acquire_timeout_s))


async def close_pool(pool: asyncpg.Pool, *, timeout_s: float = 1.0) -> None:
    """Close ``pool``, waiting at most ``timeout_s`` for connections still busy, then cut them.

    At shutdown the requests still running have been cancelled; a connection
    whose query is being cancelled must not hold the process past its deadline.
    """
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        pool.terminate()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The ordered SQL files in ``gateway/migrations`` (``NNNN_name.sql``)."""
    found = []
    for entry in resources.files("gateway.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"duplicate migration versions in gateway/migrations: {versions}")
    return found


async def migrate(conn: asyncpg.Connection | PoolConnectionProxy) -> list[Migration]:
    """Apply the migrations not yet applied, each once, in order; return those applied.

    Safe when several processes start at once: they serialize on an advisory lock.
    """
    applied: list[Migration] = []
    async with conn.transaction():  # the lock is the session's: it outlives this transaction
        await conn.execute(NO_STATEMENT_TIMEOUT)  # another process may be migrating for long
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY, timeout=MIGRATION_TIMEOUT_S)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for migration in load_migrations():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise DatabaseError(
                        f"migration {migration.version:04d}_{migration.name}.sql changed "
                        "after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(NO_STATEMENT_TIMEOUT)
                await conn.execute(migration.sql, timeout=MIGRATION_TIMEOUT_S)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied
