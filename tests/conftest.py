"""Shared fixtures: one real PostgreSQL per test session.

``DATABASE_URL`` if set, else an embedded server (pgserver) started once.
Either way the session gets a fresh database of its own, migrated once;
tests isolate their data by creating their own customers (see factories.py).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from gateway.config import Settings
from gateway.db import create_pool
from tests.databases import create_database, drop_database
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET


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
    name, url = asyncio.run(create_database(server_url, "cpni_test"))
    yield url
    asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Suites written before trusted documents send any document: the check is
    # off here; tests/trusted/ runs it enforced and logged.
    return Settings(
        database_url=database_url, jwt_secret=TEST_JWT_SECRET, cursor_key=TEST_CURSOR_KEY, trusted_documents="off"
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool(settings: Settings, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(settings, database_url, min_size=1, max_size=8)
    yield p
    await p.close()
