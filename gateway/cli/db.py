"""``cpni-gateway db``: migrations and demo data."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import click

from gateway.cli.common import data_dir_option, run_with_pool, settings_or_exit
from gateway.db import migrate as apply_migrations
from gateway.seed import DatabaseNotEmpty, SeedError, SeedReport, today_utc
from gateway.seed import seed as seed_database


@click.group()
def db() -> None:
    """Database schema and demo data."""


@db.command()
@data_dir_option
def migrate(data_dir: Path | None) -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    settings = settings_or_exit(data_dir=data_dir)

    async def work(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            applied = await apply_migrations(conn)
        if applied:
            for m in applied:
                click.echo(f"applied {m.version:04d}_{m.name}")
        else:
            click.echo("database is up to date")

    run_with_pool(settings, work)


@db.command()
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Number of customers (ids 1..N).",
)
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=0,
    show_default=True,
    help="Generator seed: the same seed and customers give the same data.",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Empty the demo tables first (consent records included; audit records are kept).",
)
@data_dir_option
def seed(customers: int, seed_value: int, reset: bool, data_dir: Path | None) -> None:
    """Load the deterministic demo dataset (applies migrations first).

    Dates are relative to midnight UTC today, so the same --customers and
    --seed give the same rows on the same day. Refuses a database that
    already has customers unless --reset.
    """
    settings = settings_or_exit(data_dir=data_dir)
    now = today_utc()

    with ExitStack() as stack:
        bars: list[Any] = []

        def advance(done: int) -> None:
            # Opened on the first chunk, so a refused seed shows no bar.
            if not bars:
                bar = click.progressbar(
                    length=customers, label="Seeding customers", file=sys.stderr
                )
                bars.append(stack.enter_context(bar))
            bars[0].update(done)

        async def work(pool: asyncpg.Pool) -> SeedReport:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
            return await seed_database(
                pool, customers=customers, seed=seed_value, now=now, progress=advance, reset=reset
            )

        try:
            report = run_with_pool(settings, work)
        except DatabaseNotEmpty:
            raise click.ClickException(
                "the database already has customers; use --reset to replace them"
            ) from None
        except SeedError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
