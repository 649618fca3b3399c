"""Running the gateway: prepare the database, print how to use it, start uvicorn."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
from pathlib import Path

import asyncpg
import click
import uvicorn

from gateway.auth import TokenVerifier, issue_token
from gateway.authz.policy import PolicyError, load_policy, policy_source
from gateway.config import ConfigError, Settings, load_settings
from gateway.db import DatabaseError, create_pool, gateway_login_url, migrate, resolve_database_url
from gateway.drain import Drain, DrainingServer
from gateway.graphiql.demo import ENV as DEMO_ENV
from gateway.graphiql.demo import Demo, DemoCaller, DemoCampaign
from gateway.http_protocol import uvicorn_options
from gateway.keys import require_keys, with_demo_keys
from gateway.trusted.check import check_registry
from gateway.trusted.registry import RegistryError

DEMO_CUSTOMERS = 10_000
DEMO_TOKEN_TTL = 12 * 3600


async def _prepare(settings: Settings, dsn: str, *, demo: bool) -> list[tuple[str, str, str]]:
    """Migrate; with --demo, seed the demo data set when the database is empty.

    Returns the approved, current campaigns as (id, division, purpose).
    """
    pool = await create_pool(settings, dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
            empty = not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM customers)")
        for m in applied:
            click.echo(f"applied migration {m.version:04d}_{m.name}", err=True)
        if demo and empty:
            await _seed_demo(pool)
        rows = await pool.fetch(
            "SELECT id, division, purpose FROM campaigns WHERE status = 'APPROVED'"
            " AND starts_at <= now() AND now() < ends_at ORDER BY division, id"
        )
        return [(r["id"], r["division"], r["purpose"]) for r in rows]
    finally:
        await pool.close()


async def _seed_demo(pool: asyncpg.Pool) -> None:
    from gateway.seed import seed  # noqa: PLC0415 - only on first demo start

    customers = int(os.environ.get("CPNI_GATEWAY_DEMO_CUSTOMERS", DEMO_CUSTOMERS))
    click.echo(f"seeding {customers} demo customers (first run only)...", err=True)
    report = await seed(pool, customers=customers, seed=0)
    click.echo(f"seeded in {report.seconds:.1f}s", err=True)


def demo_callers(settings: Settings, campaigns: list[tuple[str, str, str]]) -> Demo:
    """One token per division of the registry (every purpose it may declare), and the usable campaigns."""
    bundle = load_policy(settings.policy_dir)
    callers = tuple(
        DemoCaller(
            division.id,
            tuple(sorted(p.value for p in division.purposes)),
            issue_token(settings, division=division, purposes=division.purposes, ttl_seconds=DEMO_TOKEN_TTL),
        )
        for division in sorted(bundle.divisions.values(), key=lambda d: d.id)
    )
    return Demo(callers, tuple(DemoCampaign(*c) for c in campaigns))


def _print_demo_banner(host: str, port: int, demo: Demo) -> None:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo("")
    click.echo(f"CPNI Gateway: GraphiQL at http://{shown_host}:{port}/graphql (pick a division and purpose there)")
    click.echo(f"Policy matrix at http://{shown_host}:{port}/policy")
    click.echo("Demo tokens (paste into GraphiQL's headers as {\"Authorization\": \"Bearer ...\"}):")
    for caller in demo.callers:
        click.echo(f"  {caller.division} ({','.join(caller.purposes)}):\n    {caller.token}")
    click.echo("Declare the purpose with the X-Purpose header, e.g. {\"X-Purpose\": \"customer_care\"}.")
    if demo.campaigns:
        click.echo("Marketing purposes also need an approved campaign of the division (X-Campaign-Id):")
        for campaign in demo.campaigns:
            click.echo(f"  {campaign.id}  ({campaign.division}, {campaign.purpose})")
    click.echo("")


def run(*, demo: bool, host: str | None, port: int | None, workers: int | None, data_dir: Path | None) -> None:
    """Prepare the database and serve until interrupted."""
    try:
        settings = load_settings().with_overrides(host=host, port=port, workers=workers, data_dir=data_dir)
        if demo:
            settings = with_demo_keys(settings)
            if not os.environ.get("CPNI_GATEWAY_TRUSTED_DOCUMENTS"):
                # The demo runs anything GraphiQL sends, and the audit trail marks
                # what is not registered; production enforces (SPEC 4).
                settings = settings.with_overrides(trusted_documents="log")
        require_keys(settings)  # no key, no server: never a built-in secret
        bundle = load_policy(settings.policy_dir)  # an invalid policy stops startup here (naming its files)
        TokenVerifier(settings, bundle.divisions)  # so does a missing or unreadable key file
        check_registry(bundle, settings.limits)  # and a registered document that does not validate
        click.echo(str(policy_source(settings.policy_dir)), err=True)
        dsn = resolve_database_url(settings)
        campaigns = asyncio.run(_prepare(settings, dsn, demo=demo))
        # Requests are served as a login that owns nothing (gateway/db.py);
        # a configured DATABASE_URL is already such a login.
        if not settings.database_url:
            dsn = asyncio.run(gateway_login_url(dsn))
    except (ConfigError, PolicyError, DatabaseError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    callers = None
    if demo:
        callers = demo_callers(settings, campaigns)
        _print_demo_banner(settings.host, settings.port, callers)
        os.environ[DEMO_ENV] = callers.to_json()  # for the worker processes' GraphiQL picker
    else:
        os.environ.pop(DEMO_ENV, None)  # never inherited: outside --demo the page has no tokens
    # Workers are separate processes: they read the resolved URL (and the
    # demo's keys) from the environment, so they share the one embedded
    # server started here and accept each other's tokens and cursors.
    os.environ["CPNI_GATEWAY_DATABASE_URL"] = dsn
    if demo:
        assert settings.jwt_secret is not None and settings.cursor_key is not None
        os.environ.setdefault("CPNI_GATEWAY_JWT_SECRET", settings.jwt_secret)
        os.environ.setdefault("CPNI_GATEWAY_CURSOR_KEY", settings.cursor_key)
        os.environ.setdefault("CPNI_GATEWAY_TRUSTED_DOCUMENTS", settings.trusted_documents)
    deadline = settings.shutdown_timeout_s
    if settings.workers > 1:
        # Each worker finishes its requests within the deadline on SIGTERM; workers
        # count into files of one fresh directory, and /metrics sums them.
        with tempfile.TemporaryDirectory(prefix="cpni-metrics-") as metrics_dir:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            uvicorn.run(
                "gateway.app:asgi_factory",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                log_level="info",
                timeout_graceful_shutdown=math.ceil(deadline),
                **uvicorn_options(),
            )
    else:
        from gateway.app import create_app  # noqa: PLC0415

        drain = Drain()
        app = create_app(settings, database_url=dsn, drain=drain, serving=True, demo=callers)
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", **uvicorn_options())
        DrainingServer(config, drain, deadline).run()
    sys.exit(0)
