"""Audit fixtures: throwaway databases for tests that break things, and the CLI.

Tampering, revoked privileges and retention each run on a database of their
own, so the session database other tests share is never left broken.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest_asyncio
from click.testing import CliRunner, Result

from gateway.cli import main
from tests.databases import create_database, drop_database
from tests.e2e.conftest import gateway  # noqa: F401  (the in-process gateway fixture)

FreshDatabase = Callable[[], Awaitable[str]]


class Databases:
    """Creates migrated databases on the test server and drops them all at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.made: list[str] = []

    async def __call__(self) -> str:
        name, url = await create_database(self.server_url, "cpni_audit")
        self.made.append(name)
        return url

    async def drop_all(self) -> None:
        for name in self.made:
            await drop_database(self.server_url, name)


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_database(server_url: str) -> AsyncIterator[FreshDatabase]:
    """Make migrated databases of their own on demand; all are dropped after the test."""
    databases = Databases(server_url)
    yield databases
    await databases.drop_all()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def module_database(server_url: str) -> AsyncIterator[str]:
    """One migrated database shared by the tests of a module (for tests that change nothing)."""
    databases = Databases(server_url)
    yield await databases()
    await databases.drop_all()


@dataclass(frozen=True)
class Cli:
    """Runs ``cpni-gateway`` in a worker thread (it starts an event loop of its own)."""

    database_url: str

    async def __call__(self, *args: str) -> Result:
        runner = CliRunner()
        env = {"DATABASE_URL": self.database_url}
        return await asyncio.to_thread(runner.invoke, main, list(args), env=env, catch_exceptions=False)
