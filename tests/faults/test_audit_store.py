"""The audit store failing under load: 503 with no data, and no change without its record."""

from __future__ import annotations

import asyncio

import pytest

from gateway.audit.writer import APPEND_SIGNATURE
from tests.faults.stack import Load, Postgres, assert_invariants, customer_ids, start_gateway

pytestmark = pytest.mark.slow

APPEND = APPEND_SIGNATURE  # the signature the gateway calls


async def test_an_audit_store_that_fails_under_load_answers_503_with_no_data(postgres: Postgres) -> None:
    gateway = await start_gateway(postgres)
    try:
        ids = await customer_ids(postgres)
        load = Load(gateway, ids, concurrency=6, writes=True)

        async def flap() -> None:
            for _ in range(3):
                await asyncio.sleep(0.5)
                await postgres.execute(f"REVOKE EXECUTE ON FUNCTION {APPEND} FROM cpni_gateway_app")
                await asyncio.sleep(0.5)
                await postgres.execute(f"GRANT EXECUTE ON FUNCTION {APPEND} TO cpni_gateway_app")

        outcomes, _ = await asyncio.gather(load.run(3.5), flap())
        statuses = {(o.kind, o.status) for o in outcomes}
        assert ("read", 503) in statuses and ("read", 200) in statuses, statuses
        assert ("write", 503) in statuses and ("write", 200) in statuses, statuses
        # Every write answered 200 committed with its record; every 503 left none.
        await assert_invariants(postgres, outcomes, {200: {None}, 503: {"SERVICE_UNAVAILABLE"}})
    finally:
        gateway.stop()
