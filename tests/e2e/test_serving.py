"""The gateway as ``serve`` runs it: uvloop and httptools, over a real socket.

The in-process tests run on asyncio's own loop (pytest-asyncio). Served on
uvloop, the gateway must answer the same, planned or on the reference path,
and the reference path's DataLoaders must batch as well: the same SQL round
trips, not growing with the page.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bench.workload import FULL_PROFILE
from gateway.config import Settings
from gateway.db import gateway_login_url
from tests.e2e.conftest import Gateway, _started
from tests.factories import make_customer
from tests.security.live import live_server

PAGE = """
query Page($first: Int!) {
  customers(first: $first) { edges { node { id name email
    services { id plan configuration { features } usage(first: 3) { cellSite } usageSummary { calls } }
    invoices(last: 2) { id amount { amountCents } } balance { amountCents } cpniApproval { status } } } }
}
"""


def round_trips(response: httpx.Response) -> int:
    found = re.search(r"dur=(\d+)", response.headers["server-timing"])
    assert found is not None
    return int(found.group(1))


async def ask(client: httpx.AsyncClient, gateway: Gateway, query: str, variables: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gateway.token('customer_care')}", "X-Purpose": "customer_care"}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_serve_runs_on_uvloop_and_httptools(settings: Settings, database_url: str) -> None:
    with live_server(settings, database_url) as (server, _):
        assert isinstance(server.servers[0].get_loop(), uvloop.Loop)
        assert issubclass(server.config.http_protocol_class, HttpToolsProtocol)


async def test_served_on_uvloop_the_gateway_answers_as_in_process_in_as_many_round_trips(
    settings: Settings, database_url: str, pool: asyncpg.Pool
) -> None:
    made = [await make_customer(pool, services=("LOCAL", "WIRELESS"), usage_per_service=4) for _ in range(5)]
    login = await gateway_login_url(database_url)
    reference = replace(settings, planner=False, server_timing=True)
    cases = [(FULL_PROFILE, {"id": str(made[0].id)}), (PAGE, {"first": 2}), (PAGE, {"first": 5})]
    trips = []
    async for local in _started(reference, login):
        with live_server(reference, login) as (_, ref_port), live_server(settings, login) as (_, planned_port):
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ref_port}") as served,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{planned_port}") as planned,
            ):
                for query, variables in cases:
                    in_process = await ask(local.client, local, query, variables)
                    on_uvloop = await ask(served, local, query, variables)
                    assert on_uvloop.json() == in_process.json()
                    assert round_trips(on_uvloop) == round_trips(in_process)
                    trips.append(round_trips(on_uvloop))
                    assert (await ask(planned, local, query, variables)).json() == in_process.json()
    assert trips[1] == trips[2]  # a page of 2 or of 5 customers: as many statements
