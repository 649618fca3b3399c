"""Shared fixtures: one real PostgreSQL per test session.

``DATABASE_URL`` if set, else an embedded server (pgserver) started once.
Either way the session gets a fresh database of its own, migrated once;
tests isolate their data by creating their own customers (see factories.py).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from gateway.config import Settings
from gateway.db import create_pool, migrate


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of the PostgreSQL server the tests use (its maintenance database)."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        # A short path: the server's Unix socket lives in it.
        pgdata = Path(tempfile.mkdtemp(prefix="cpni-pg-"))
        server = pgserver.get_server(pgdata, cleanup_mode="delete")
    yield str(server.get_uri())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.cleanup()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped at the end."""
    import asyncio

    name = f"cpni_test_{secrets.token_hex(4)}"

    async def setup() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        conn = await asyncpg.connect(_with_database(server_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def teardown() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(setup())
    yield _with_database(server_url, name)
    asyncio.run(teardown())


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool(settings: Settings, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(settings, database_url, min_size=1, max_size=8)
    yield p
    await p.close()
