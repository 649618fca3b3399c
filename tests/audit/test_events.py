"""SPEC 6.4: every request that reads or is denied customer data leaves its events."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import approved_campaign
from tests.factories import make_customer

PROFILE = """
query Profile($id: ID!) {
  customer(id: $id) {
    id name email
    services { category plan usage(first: 2) { durationSeconds cellSite } }
    invoices(last: 1) { amount { amountCents } }
    paymentMethod { last4 }
  }
}
"""


async def events_of(pool: asyncpg.Pool, response: httpx.Response) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM audit_events WHERE request_id = $1 ORDER BY customer_id NULLS LAST",
        response.headers["X-Request-Id"],
    )
    return [dict(r) for r in rows]


async def test_a_disclosing_request_records_what_it_disclosed_and_denied(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    token = gateway.token("customer_care")
    response = await gateway.query(
        PROFILE, division="customer_care", variables={"id": str(made.id)}, token=token
    )
    assert response.status_code == 200, response.text
    [event] = await events_of(pool, response)
    assert event["customer_id"] == made.id
    assert (event["division"], event["purpose"], event["client"]) == (
        "customer_care",
        "customer_care",
        "customer_care-client",
    )
    assert event["regime"] == "opt_out"
    assert event["operation_name"] == "Profile"
    assert event["campaign_id"] is None
    # Customer care needs express approval for call location (LOCATION: X).
    assert event["disclosed"] == ["PUBLIC", "SUBSCRIBER_LIST", "CONTACT", "SERVICE", "USAGE", "BILLING", "PAYMENT"]
    assert event["denied"] == ["LOCATION"]
    assert event["policy_ids"] and all(isinstance(p, str) for p in event["policy_ids"])
    assert len(event["hash"]) == len(event["prev_hash"]) == 32
    # Never field values, never the token.
    text = repr(event)
    for value in (f"c{made.id}@example.test", made.phone, "4242", "CELL-42", "local-plan", token, token[-20:]):
        assert value not in text


async def test_a_denied_request_records_its_denials(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, approval="OPT_OUT")
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { email services { plan } } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"id": str(made.id)},
    )
    assert response.status_code == 200
    [event] = await events_of(pool, response)
    assert event["customer_id"] == made.id
    assert event["division"] == "dex_directory" and event["purpose"] == "directory_publishing"
    assert event["disclosed"] == ["PUBLIC"]
    assert event["denied"] == ["CONTACT", "SERVICE"]
    assert event["operation_name"] is None


async def test_a_strict_refusal_records_that_nothing_was_disclosed(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { name email } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"id": str(made.id)},
        headers={"X-Authz-Mode": "strict"},
    )
    assert response.status_code == 403
    [event] = await events_of(pool, response)
    assert event["disclosed"] == []
    assert event["denied"] == ["CONTACT"]


async def test_a_filter_on_a_category_never_readable_is_recorded_without_a_customer(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    response = await gateway.query(
        "{ customers(filter: {serviceCategory: WIRELESS}) { edges { node { id } } } }",
        division="dex_directory",
        purpose="directory_publishing",
    )
    assert "FORBIDDEN" in response.text
    [event] = await events_of(pool, response)
    assert event["customer_id"] is None
    assert (event["disclosed"], event["denied"]) == ([], ["SERVICE"])


async def test_customers_treated_alike_share_one_record(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = [await make_customer(pool) for _ in range(3)]
    ids = ", ".join(f'c{m.id}: customer(id: "{m.id}") {{ name }}' for m in made)
    response = await gateway.query(f"{{ {ids} }}", division="customer_care")
    assert response.status_code == 200
    [record] = await events_of(pool, response)
    # One row for the three events, its customers in order (migration 0010).
    assert record["customer_id"] is None
    assert record["customer_ids"] == [m.id for m in made]
    # Indexed by its customers' buckets, each once, ascending (migration 0011).
    assert record["customer_buckets"] == sorted({m.id >> 6 for m in made})
    assert (record["disclosed"], record["denied"]) == (["PUBLIC", "SUBSCRIBER_LIST"], [])


async def test_customers_treated_differently_get_a_row_each(gateway: Gateway, pool: asyncpg.Pool) -> None:
    unlisted = await make_customer(pool, listed=False)
    listed = [await make_customer(pool) for _ in range(2)]
    ids = ", ".join(f'c{m.id}: customer(id: "{m.id}") {{ name }}' for m in [listed[0], unlisted, listed[1]])
    response = await gateway.query(f"{{ {ids} }}", division="dex_directory", purpose="directory_publishing")
    assert response.status_code == 200, response.text
    rows = await events_of(pool, response)
    # One statement: one chain, consecutive positions, one time.
    assert len({e["chain"] for e in rows}) == 1
    seqs = sorted(e["seq"] for e in rows)
    assert seqs == list(range(seqs[0], seqs[0] + len(rows)))
    assert len({e["at"] for e in rows}) == 1
    by_customers = {(e["customer_id"], tuple(e["customer_ids"] or ())): e for e in rows}
    alike = by_customers[(None, tuple(sorted(m.id for m in listed)))]
    assert alike["denied"] == []
    alone = by_customers[(unlisted.id, ())]
    assert alone["denied"] == ["SUBSCRIBER_LIST"]
    assert len(rows) == 2


async def test_a_marketing_request_records_its_campaign(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"), approval="OPT_IN")
    campaign = await approved_campaign(pool, "marketing", "marketing_cross_category")
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { name services { plan } } }",
        division="marketing",
        purpose="marketing_cross_category",
        variables={"id": str(made.id)},
        headers={"X-Campaign-Id": campaign},
    )
    assert response.status_code == 200, response.text
    [event] = await events_of(pool, response)
    assert event["campaign_id"] == campaign
    assert "SERVICE" in event["disclosed"]


async def test_requests_that_touch_no_customer_write_nothing(gateway: Gateway, pool: asyncpg.Pool) -> None:
    response = await gateway.query("{ me { division } }", division="customer_care")
    assert response.status_code == 200
    assert await events_of(pool, response) == []
