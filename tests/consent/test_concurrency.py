"""Concurrent approvals for one customer: a complete history and one well-defined latest record."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.consent.calls import USAGE, marketing_read, ok, read, record_approval
from tests.e2e.conftest import Gateway
from tests.factories import make_customer

CALLS = 50


async def test_50_concurrent_approvals_leave_50_records_and_the_last_one_wins(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    statuses = ["OPT_IN" if n % 2 else "OPT_OUT" for n in range(CALLS)]
    responses = await asyncio.gather(
        *(record_approval(gateway, made.id, status, channel=f"call-{n}") for n, status in enumerate(statuses))
    )
    answers = {ok(r)["recordCpniApproval"]["channel"] for r in responses}
    assert answers == {f"call-{n}" for n in range(CALLS)}

    rows = await pool.fetch(
        "SELECT status, channel FROM cpni_approvals WHERE customer_id = $1 ORDER BY recorded_at DESC, id DESC",
        made.id,
    )
    assert len(rows) == CALLS
    assert sorted(r["channel"] for r in rows) == sorted(f"call-{n}" for n in range(CALLS))
    last = rows[0]

    care = await read(gateway, made.id, "cpniApproval { status channel }", division="customer_care",
                      purpose="customer_care")
    assert care.customer == {"cpniApproval": {"status": last["status"], "channel": last["channel"]}}
    # The policy decides on the same record the graph shows.
    marketing = await marketing_read(gateway, pool, made.id, USAGE)
    assert marketing.denied == ({} if last["status"] == "OPT_IN" else {"services": "SERVICE"})
