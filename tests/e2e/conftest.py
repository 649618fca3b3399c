"""An in-process gateway on the session database, and a client that calls it over ASGI."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest_asyncio
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth import issue_token
from gateway.authz.model import Division, Purpose, Regime
from gateway.authz.policy import load_policy
from gateway.config import Settings
from gateway.db import gateway_login_url
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET


@functools.cache
def _divisions() -> dict[str, Division]:
    return dict(load_policy().divisions)


@dataclass
class Gateway:
    """Calls the gateway as a division would."""

    client: httpx.AsyncClient
    settings: Settings
    app: Starlette | None = None

    def token(self, division: str, purposes: list[str] | None = None, ttl: int = 600) -> str:
        found = _divisions()[division]
        chosen = [Purpose(p) for p in purposes] if purposes is not None else list(found.purposes)
        return issue_token(self.settings, division=found, purposes=chosen, ttl_seconds=ttl)

    async def query(
        self,
        query: str,
        *,
        division: str,
        purpose: str | None = None,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {token or self.token(division)}"}
        if purpose is not None:
            all_headers["X-Purpose"] = purpose
        all_headers.update(headers or {})
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, headers=all_headers)




async def _started(
    settings: Settings, database_url: str, *, trusted_documents: str = "off"
) -> AsyncIterator[Gateway]:
    """A started gateway; the trusted-document check is ``off`` unless asked for (tests/trusted)."""
    settings = replace(settings, trusted_documents=trusted_documents)
    if settings.jwt_secret is None:
        settings = replace(settings, jwt_secret=TEST_JWT_SECRET, cursor_key=TEST_CURSOR_KEY)
    app: Starlette = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Gateway(client, settings, app)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway under the default (opt-out) regime, logged in as the non-owner gateway role."""
    async for gw in _started(replace(settings, server_timing=True), await gateway_login_url(database_url)):
        yield gw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def opt_in_gateway(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """The same gateway under the attorneys general's opt-in regime."""
    async for gw in _started(replace(settings, regime=Regime.OPT_IN), await gateway_login_url(database_url)):
        yield gw


