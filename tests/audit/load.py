"""A load generator run in worker processes by the concurrency test (importable, so spawnable)."""

from __future__ import annotations

import asyncio

from gateway.config import Limits, Settings
from tests.e2e.conftest import _started

QUERY = "query($id: ID!) { customer(id: $id) { name email services { plan } } }"
# Hundreds of requests in flight per process: wait for connections, do not fail.
PATIENT = Limits(pool_acquire_timeout_s=60.0, request_timeout_s=120.0)


def run_requests(database_url: str, customer_ids: list[int], count: int) -> list[int]:
    """Send ``count`` concurrent requests through an in-process gateway; return their statuses."""

    async def main() -> list[int]:
        settings = Settings(database_url=database_url, limits=PATIENT)
        async for gw in _started(settings, database_url):
            token = gw.token("customer_care")
            responses = await asyncio.gather(
                *(
                    gw.query(QUERY, division="customer_care", token=token,
                             variables={"id": str(customer_ids[i % len(customer_ids)])})
                    for i in range(count)
                )
            )
            return [r.status_code for r in responses]
        raise AssertionError("the gateway did not start")

    return asyncio.run(main())
