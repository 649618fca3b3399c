"""Audit fixtures: throwaway databases for tests that break things, and the CLI.

Tampering, revoked privileges and retention each run on a database of their
own, so the session database other tests share is never left broken.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest_asyncio
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.db import migrate
from tests.conftest import _with_database
from tests.e2e.conftest import gateway  # noqa: F401  (the in-process gateway fixture)

FreshDatabase = Callable[[], Awaitable[str]]


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_database(server_url: str) -> AsyncIterator[FreshDatabase]:
    """Make migrated databases of their own on demand; all are dropped after the test."""
    made: list[str] = []

    async def make() -> str:
        name = f"cpni_audit_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        made.append(name)
        url = _with_database(server_url, name)
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return url

    yield make
    admin = await asyncpg.connect(server_url)
    try:
        for name in made:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass(frozen=True)
class Cli:
    """Runs ``cpni-gateway`` in a worker thread (it starts an event loop of its own)."""

    database_url: str

    async def __call__(self, *args: str) -> Result:
        runner = CliRunner()
        env = {"DATABASE_URL": self.database_url}
        return await asyncio.to_thread(runner.invoke, main, list(args), env=env, catch_exceptions=False)
