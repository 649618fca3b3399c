"""Fixtures for the consent and campaign tests: a second gateway process stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from gateway.app import create_app
from gateway.config import Settings
from tests.e2e.conftest import Gateway, gateway, opt_in_gateway  # noqa: F401 (fixtures)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def other_worker(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """A second gateway with its own pool and process state: another uvicorn worker, in effect."""
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker-2.test") as client:
            yield Gateway(client, settings)
