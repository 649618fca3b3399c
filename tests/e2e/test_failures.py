"""Time budget and unexpected errors: answered with a code, never with internals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from gateway.config import Limits, Settings
from tests.e2e.conftest import Gateway
from tests.e2e.helpers import bug_in
from tests.e2e.test_errors import assert_refused
from tests.factories import make_customer


@pytest_asyncio.fixture(loop_scope="session")
async def impatient(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """A gateway whose request time budget is a quarter of a second."""
    quick = replace(settings, limits=replace(Limits(), request_timeout_s=0.25))
    app = create_app(quick, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Gateway(client, quick)


async def test_a_request_past_its_time_budget_is_504(impatient: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    async with pool.acquire() as blocker, blocker.transaction():
        # Hold a lock the request needs, longer than its budget.
        await blocker.execute("LOCK TABLE customer_contacts IN ACCESS EXCLUSIVE MODE")
        response = await impatient.query(
            "query($id: ID!) { customer(id: $id) { email } }",
            division="customer_care",
            variables={"id": str(made.id)},
        )
    assert_refused(response, 504, "TIMEOUT")


@pytest.mark.parametrize("where", ["assembled", "built"])
async def test_an_unexpected_error_is_masked_and_logged_without_details(
    gateway: Gateway, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    made = await make_customer(pool)
    query, variables = bug_in(where, made, monkeypatch, "SELECT secret FROM customers WHERE token='abc'")
    with caplog.at_level(logging.INFO):
        response = await gateway.query(query, division="customer_care", variables=variables)
    assert_refused(response, 500, "INTERNAL_SERVER_ERROR")
    assert response.json()["errors"][0]["message"] == "Internal server error"
    assert "secret" not in caplog.text and "SELECT" not in caplog.text and "Traceback" not in caplog.text
    assert "RuntimeError" in caplog.text
