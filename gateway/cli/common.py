"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import click
from click.decorators import FC

from gateway.config import ConfigError, Settings, load_settings
from gateway.db import DatabaseError, create_pool, resolve_database_url

T = TypeVar("T")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=__import__("pathlib").Path),
    default=None,
    help="Data directory: the embedded PostgreSQL (unless DATABASE_URL is set) and the demo keys"
    " (default ./.cpni-gateway).",
)


POLICY_DIR = click.Path(exists=True, file_okay=False, path_type=__import__("pathlib").Path)


def policy_dir_option(help: str) -> Callable[[FC], FC]:
    """``--dir``: the policy directory a command reads (default: CPNI_GATEWAY_POLICY_DIR, else policies/)."""
    return click.option(
        "--dir", "directory", type=POLICY_DIR, default=None, envvar="CPNI_GATEWAY_POLICY_DIR", help=help
    )


def settings_or_exit(**overrides: object) -> Settings:
    """Settings from the environment plus CLI flags; a bad value exits with one line."""
    try:
        return load_settings().with_overrides(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def database_url_or_exit(settings: Settings) -> str:
    try:
        return resolve_database_url(settings)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None


def run_with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run ``work`` with a pool on the configured database (embedded by default)."""
    dsn = database_url_or_exit(settings)

    async def runner() -> T:
        try:
            pool = await create_pool(settings, dsn, min_size=1, max_size=4)
        except DatabaseError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(runner())
