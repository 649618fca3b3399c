"""Fixtures of the security review tooling tests: the CLI in a thread, a seeded database of its own.

`policy diff --impact` counts every customer of the database, so its tests
run on a fresh database seeded with the deterministic demo data, never on
the session database other tests add customers to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.seed import seed
from tests.databases import create_database, drop_database
from tests.e2e.conftest import gateway  # noqa: F401  (the in-process gateway fixture)

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
SEEDED_CUSTOMERS = 300


@dataclass(frozen=True)
class Cli:
    """Runs ``cpni-gateway`` on a database, in a worker thread (it starts an event loop of its own)."""

    database_url: str

    async def __call__(self, *args: str) -> Result:
        env = {"DATABASE_URL": self.database_url, "CPNI_GATEWAY_POLICY_DIR": str(POLICY_DIR), "CPNI_GATEWAY_REGIME": None}
        return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


@pytest.fixture(scope="session")
def cli(database_url: str) -> Cli:
    """The CLI on the shared session database (tests make their own customers there)."""
    return Cli(database_url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def seeded_url(server_url: str) -> AsyncIterator[str]:
    """A fresh database with the demo data (300 customers, seed 1), dropped after the session."""
    name, url = await create_database(server_url, "cpni_impact")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    try:
        await seed(pool, customers=SEEDED_CUSTOMERS, seed=1)
    finally:
        await pool.close()
    yield url
    await drop_database(server_url, name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def seeded(seeded_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the seeded database, for the tests' own SQL counts."""
    pool = await asyncpg.create_pool(seeded_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def policy_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the shipped policy directory."""
    import shutil

    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    yield target
