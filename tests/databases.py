"""Databases of their own for tests that must not share the session database.

Some tests count every row (seeding, `policy diff --impact`), break the
database on purpose, or migrate from nothing: they get a fresh database on
the same server, created and dropped here.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.db import migrate


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def create_database(server_url: str, prefix: str, *, migrated: bool = True) -> tuple[str, str]:
    """A new database (migrated unless told otherwise); returns its name and URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server_url, name)
    if migrated:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    return name, url


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def throwaway_database(server_url: str, prefix: str = "cpni_throwaway") -> AsyncIterator[str]:
    """A migrated database of its own for the ``async with`` block (tests that break things)."""
    name, url = await create_database(server_url, prefix)
    try:
        yield url
    finally:
        await drop_database(server_url, name)
