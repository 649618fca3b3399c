"""Many processes, one truth: any worker on any host gives the same answer (docs/SCALING.md).

Two in-process gateways with their own pools, plans, caches and decision
memos stand for two workers (or two hosts behind a load balancer). The
consent case is tests/consent/test_approvals.py
(``test_a_change_applies_to_the_next_request_on_every_worker``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio

from gateway.config import Settings
from gateway.db import gateway_login_url
from tests.consent.calls import ok
from tests.e2e.conftest import Gateway, _started
from tests.factories import make_customer

PAGE = """
query Page($prefix: String!, $after: String) {
  customers(first: 2, after: $after, filter: {namePrefix: $prefix}) {
    edges { node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def second_host(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    async for gateway in _started(settings, await gateway_login_url(database_url)):
        yield gateway


async def page(gateway: Gateway, prefix: str, after: str | None = None) -> dict[str, Any]:
    response = await gateway.query(
        PAGE, division="customer_care", variables={"prefix": prefix, "after": after}
    )
    customers: dict[str, Any] = ok(response)["customers"]
    return customers


async def test_a_page_started_on_one_worker_continues_on_another(
    gateway: Gateway, second_host: Gateway, pool: asyncpg.Pool
) -> None:
    prefix = f"Paged {secrets.token_hex(3)}"
    made = [await make_customer(pool, name=f"{prefix} {n}") for n in range(5)]
    first = await page(gateway, prefix)
    assert [e["node"]["id"] for e in first["edges"]] == [str(made[0].id), str(made[1].id)]

    # The next page, asked of either worker with the first worker's cursor, is the same page.
    cursor = first["pageInfo"]["endCursor"]
    here = await page(gateway, prefix, cursor)
    there = await page(second_host, prefix, cursor)
    assert there["edges"] == here["edges"]  # cursors differ: each is sealed with a fresh nonce
    assert [e["node"]["id"] for e in there["edges"]] == [str(made[2].id), str(made[3].id)]
    assert there["pageInfo"]["hasNextPage"] is True

    # And back: the second worker's cursor ends the walk on the first.
    last = await page(gateway, prefix, there["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in last["edges"]] == [str(made[4].id)]
    assert last["pageInfo"]["hasNextPage"] is False
