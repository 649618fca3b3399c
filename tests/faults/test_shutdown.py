"""SIGTERM: requests in flight finish with their audit, /readyz fails during the drain, within the deadline."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.stack import Load, Postgres, assert_invariants, customer_ids, start_gateway

pytestmark = pytest.mark.slow

SLOW_CUSTOMERS = (
    "ALTER TABLE customers ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY slow_reads ON customers USING ((SELECT true FROM pg_sleep({seconds})))",
)
FAST_CUSTOMERS = ("DROP POLICY slow_reads ON customers", "ALTER TABLE customers DISABLE ROW LEVEL SECURITY")


async def _readyz_while_draining(base_url: str, seconds: float) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at:
            try:
                statuses.append((await client.get("/readyz")).status_code)
            except httpx.TransportError:
                break  # the drain is over: the server stopped listening
            await asyncio.sleep(0.1)
    return statuses


async def test_sigterm_drains_requests_in_flight_with_their_audit_and_fails_readyz(postgres: Postgres) -> None:
    gateway = await start_gateway(postgres, shutdown_timeout="10")
    try:
        ids = await customer_ids(postgres)
        await postgres.execute(SLOW_CUSTOMERS[0], SLOW_CUSTOMERS[1].format(seconds=1.5))
        try:
            in_flight = asyncio.ensure_future(Load(gateway, ids, concurrency=4).run(0.1))
            await asyncio.sleep(0.5)  # all four are waiting on the database
            signalled = time.monotonic()
            gateway.terminate()
            readyz = await _readyz_while_draining(gateway.base_url, 5.0)
            outcomes = await in_flight
            returncode = await asyncio.to_thread(gateway.process.wait, 15)
            took = time.monotonic() - signalled
        finally:
            await postgres.execute(*FAST_CUSTOMERS)
        # A probe may overtake the signal; from the first 503 on, readiness stays failed.
        draining = readyz[readyz.index(503):] if 503 in readyz else []
        assert draining and set(draining) == {503}, readyz
        assert len(outcomes) == 4 and all(o.status == 200 and o.carries_data for o in outcomes), outcomes
        assert returncode == 0
        assert took < 10
        await assert_invariants(postgres, outcomes, {200: {None}})
    finally:
        gateway.stop()


async def test_the_shutdown_deadline_bounds_the_drain(postgres: Postgres) -> None:
    gateway = await start_gateway(postgres, shutdown_timeout="1")
    try:
        ids = await customer_ids(postgres)
        await postgres.execute(SLOW_CUSTOMERS[0], SLOW_CUSTOMERS[1].format(seconds=10))
        try:
            in_flight = asyncio.ensure_future(Load(gateway, ids, concurrency=3).run(0.1))
            await asyncio.sleep(0.5)
            signalled = time.monotonic()
            gateway.terminate()
            await asyncio.to_thread(gateway.process.wait, 15)
            took = time.monotonic() - signalled
            outcomes = await in_flight
        finally:
            await postgres.terminate_gateway_backends()  # the reads its exit abandoned
            await postgres.execute(*FAST_CUSTOMERS)
        # Cut off at the deadline (1 s, not the 10 s the reads need): answered
        # 503 (nothing disclosed); then the pools get at most a second to close.
        assert all(o.at - signalled < 3.0 for o in outcomes), [round(o.at - signalled, 2) for o in outcomes]
        assert took < 5.0, took
        assert [o.status for o in outcomes] == [503, 503, 503], [(o.status, o.body) for o in outcomes]
        await assert_invariants(postgres, outcomes, {0: {None}, 503: {"SERVICE_UNAVAILABLE"}})
    finally:
        gateway.stop()
