"""The README's tour, followed literally: each step's query as README.md shows it, sent with the
step's headers to a gateway on the demo data set, answers as README.md says."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest_asyncio

from gateway.app import create_app
from gateway.auth import issue_token
from gateway.authz.policy import load_policy
from gateway.config import Settings
from gateway.db import gateway_login_url
from gateway.graphiql.tour import TOUR, Step
from gateway.seed import seed
from tests.databases import create_database, drop_database
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
TOUR_TEXT = README[README.index("## A short tour"):README.index("## GraphiQL offline")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on a fresh database seeded as `serve --demo` seeds (seed 0; 300 customers, not 10,000)."""
    name, url = await create_database(server_url, "cpni_tour")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    try:
        await seed(pool, customers=300, seed=0)
    finally:
        await pool.close()
    settings = Settings(database_url=url, jwt_secret=TEST_JWT_SECRET, cursor_key=TEST_CURSOR_KEY)
    app = create_app(settings, database_url=await gateway_login_url(url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as c:
            yield c
    await drop_database(server_url, name)


async def _run(client: httpx.AsyncClient, step: Step) -> httpx.Response:
    division = load_policy().divisions[step.division]
    token = issue_token(Settings(jwt_secret=TEST_JWT_SECRET), division=division, purposes=division.purposes,
                        ttl_seconds=600)
    return await client.post("/graphql", json={"query": step.query}, headers=step.headers(token))


def _codes(body: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(e["extensions"]["code"], e["extensions"].get("category")) for e in body.get("errors", [])}


def test_the_readme_shows_every_step_as_graphiql_opens_it() -> None:
    shown = re.findall(r"```graphql\n(.*?)```", TOUR_TEXT, re.S)
    assert shown == [TOUR[0].query, TOUR[1].query, TOUR[3].query]
    assert TOUR[2].query == TOUR[0].query and TOUR[2].strict  # step 3 is step 1, strict
    for step in TOUR:
        assert f"`{step.division}`" in TOUR_TEXT and f"`{step.purpose}`" in TOUR_TEXT
    assert '"X-Campaign-Id": "demo-wireless-upgrade"' in TOUR_TEXT and '"X-Authz-Mode": "strict"' in TOUR_TEXT


async def test_step_1_care_sees_call_detail_but_not_call_location(demo: httpx.AsyncClient) -> None:
    response = await _run(demo, TOUR[0])
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["me"]["division"] == "customer_care"
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert len(nodes) == 3 and all(n["email"] for n in nodes)
    usage = [u for n in nodes for s in n["services"] for u in s["usage"]]
    assert usage and any(u["counterparty"] for u in usage)  # data sessions have none
    assert _codes(body) == {("FORBIDDEN", "LOCATION")}


async def test_step_2_the_directory_gets_listings_only(demo: httpx.AsyncClient) -> None:
    response = await _run(demo, TOUR[1])
    assert response.status_code == 200
    body = response.json()
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert len(nodes) == 3
    assert any(n["name"] and n["listedPhone"] for n in nodes)
    assert all(n["email"] is None for n in nodes)
    assert _codes(body) <= {("FORBIDDEN", "CONTACT"), ("FORBIDDEN", "SUBSCRIBER_LIST")}
    assert ("FORBIDDEN", "CONTACT") in _codes(body)


async def test_step_3_strict_refuses_the_whole_operation(demo: httpx.AsyncClient) -> None:
    response = await _run(demo, TOUR[2])
    assert response.status_code == 403
    assert "data" not in response.json()
    assert _codes(response.json()) == {("FORBIDDEN", "LOCATION")}


async def test_step_4_a_campaign_opens_marketing(demo: httpx.AsyncClient) -> None:
    response = await _run(demo, TOUR[3])
    assert response.status_code == 200, response.text
    nodes = [e["node"] for e in response.json()["data"]["customers"]["edges"]]
    assert nodes and any(n["services"] for n in nodes)
