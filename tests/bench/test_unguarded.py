"""The benchmark's `off` target: no decisions and no audit, on the planned and on the reference path.

The same request is sent to the shipped gateway and to the same gateway
with bench/unguarded.py's pass-throughs: a marketing campaign reading a
customer who opted out. Shipped, CPNI is withheld (FORBIDDEN) and the read
is audited; unguarded, everything is answered, Cedar is never asked and
nothing is written to the audit trail.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest

from bench import unguarded
from bench.unguarded import pass_throughs, without_audit
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.authz.model import Purpose
from gateway.authz.policy import load_policy
from gateway.config import Settings
from gateway.db import gateway_login_url
from gateway.schema.context import Decisions
from tests.factories import make_campaign, make_customer

QUERY = """
query Q($id: ID!) {
  customer(id: $id) {
    id name email
    services { id category plan usage(first: 5) { startedAt } }
    invoices(last: 1) { id status }
  }
}
"""
PURPOSE = "marketing_cross_category"


@asynccontextmanager
async def served(settings: Settings, database_url: str, *, planner: bool, unguarded: bool) -> AsyncIterator[Any]:
    app = create_app(replace(settings, planner=planner), database_url=await gateway_login_url(database_url))
    if unguarded:
        app = without_audit(app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.test") as client:
            yield client, app.state.runtime


async def ask(client: httpx.AsyncClient, settings: Settings, customer_id: int, campaign: str) -> dict[str, Any]:
    division = load_policy(settings.policy_dir).divisions["marketing"]
    token = issue_token(settings, division=division, purposes=[Purpose(PURPOSE)], ttl_seconds=300)
    response = await client.post(
        "/graphql",
        json={"query": QUERY, "variables": {"id": str(customer_id)}},
        headers={"authorization": f"Bearer {token}", "x-purpose": PURPOSE, "x-campaign-id": campaign},
    )
    assert response.status_code == 200
    return response.json()


async def audit_rows(pool: asyncpg.Pool, customer_id: int) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM audit_events WHERE customer_id = $1", customer_id))


@pytest.mark.parametrize("planner", [True, False], ids=["planned path", "reference path"])
async def test_off_answers_everything_without_deciding_or_auditing(
    settings: Settings, database_url: str, pool: asyncpg.Pool, planner: bool
) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"), approval="OPT_OUT")
    campaign = await make_campaign(
        pool, division="marketing", purpose=PURPOSE, categories=["CONTACT", "SERVICE", "USAGE", "BILLING"]
    )

    async with served(settings, database_url, planner=planner, unguarded=False) as (client, _):
        shipped = await ask(client, settings, made.id, campaign)
    assert {e["extensions"]["code"] for e in shipped["errors"]} == {"FORBIDDEN"}
    assert await audit_rows(pool, made.id) == 1

    with pass_throughs():
        async with served(settings, database_url, planner=planner, unguarded=True) as (client, runtime):
            unguarded = await ask(client, settings, made.id, campaign)
            assert runtime.authorizer.cache_info().misses == 0  # Cedar was never asked
    assert "errors" not in unguarded
    customer = unguarded["data"]["customer"]
    assert customer["email"] is not None
    assert sorted(s["category"] for s in customer["services"]) == ["LOCAL", "WIRELESS"]
    assert all(s["usage"] for s in customer["services"])
    assert customer["invoices"]
    assert await audit_rows(pool, made.id) == 1  # still only the shipped gateway's


def test_pass_throughs_are_undone_after_the_block() -> None:
    shipped = Decisions.check_loaded
    with pass_throughs():
        assert Decisions.check_loaded is not shipped
    assert Decisions.check_loaded is shipped


def test_the_off_server_factory_keeps_its_pass_throughs(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for owner, name, _ in unguarded.PASS_THROUGHS:
        monkeypatch.setattr(owner, name, owner.__dict__[name])  # restored after the test
    unguarded.create_unguarded_app(settings)
    gc.collect()  # nothing the factory made may undo them when collected
    assert Decisions.check_loaded is unguarded.allow_loaded
