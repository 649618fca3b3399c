from __future__ import annotations

import asyncpg

from tests.e2e.conftest import Gateway
from tests.factories import make_customer


async def test_customer_care_reads_a_full_profile(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    response = await gateway.query(
        """query($id: ID!) { customer(id: $id) { id name email services { category plan
            usage(first: 2) { durationSeconds cellSite } } invoices(last: 2) { amount { amountCents } } } }""",
        division="customer_care",
        variables={"id": str(made.id)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Customer care needs express approval for call location (LOCATION: X).
    assert {e["extensions"]["category"] for e in body["errors"]} == {"LOCATION"}
    customer = body["data"]["customer"]
    assert customer["id"] == str(made.id)
    assert [s["category"] for s in customer["services"]] == ["LOCAL", "WIRELESS"]
    assert len(customer["services"][0]["usage"]) == 2
