"""``auditEvents`` and ``explainAccess`` over HTTP: the privacy office only."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Gateway
from tests.factories import make_customer

EVENTS = """
query($first: Int, $after: String, $filter: AuditFilter) {
  auditEvents(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id at requestId client division purpose campaignId operationName customerId
                          disclosed denied policyIds } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
EXPLAIN = """
query($division: ID!, $purpose: Purpose!, $customerId: ID!, $field: String!) {
  explainAccess(division: $division, purpose: $purpose, customerId: $customerId, field: $field) {
    allowed policyIds cites facts category summary
  }
}
"""
READ = "query Read($id: ID!) { customer(id: $id) { name email } }"


async def audit_events(gateway: Gateway, **variables: Any) -> dict[str, Any]:
    response = await gateway.query(
        EVENTS, division="privacy_office", purpose="compliance_audit", variables=variables
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["auditEvents"]
    return connection


async def test_the_privacy_office_reads_a_customers_trail_page_by_page(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool)
    request_ids = []
    readers = (("customer_care", None), ("dex_directory", "directory_publishing"), ("customer_care", None))
    for division, purpose in readers:
        response = await gateway.query(READ, division=division, purpose=purpose, variables={"id": str(made.id)})
        request_ids.append(response.headers["X-Request-Id"])
    mine = {"customerId": str(made.id)}
    first = await audit_events(gateway, first=2, filter=mine)
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await audit_events(gateway, first=2, after=first["pageInfo"]["endCursor"], filter=mine)
    assert rest["pageInfo"]["hasNextPage"] is False
    nodes = [e["node"] for e in first["edges"] + rest["edges"]]
    # Newest first, no overlap.
    assert [n["requestId"] for n in nodes] == request_ids[::-1]
    dex = nodes[1]
    assert dex == {
        **dex,
        "client": "dex_directory-client",
        "division": "dex_directory",
        "purpose": "DIRECTORY_PUBLISHING",
        "campaignId": None,
        "operationName": "Read",
        "customerId": str(made.id),
        "disclosed": ["PUBLIC", "SUBSCRIBER_LIST"],
        "denied": ["CONTACT"],
    }
    assert dex["policyIds"]


async def test_filters_combine(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    for division, purpose in (("customer_care", None), ("dex_directory", "directory_publishing")):
        await gateway.query(READ, division=division, purpose=purpose, variables={"id": str(made.id)})
    denied = await audit_events(gateway, filter={"customerId": str(made.id), "outcome": "DENIED"})
    assert [e["node"]["division"] for e in denied["edges"]] == ["dex_directory"]
    care = await audit_events(
        gateway, filter={"customerId": str(made.id), "division": "customer_care", "purpose": "CUSTOMER_CARE"}
    )
    assert [e["node"]["division"] for e in care["edges"]] == ["customer_care"]
    at = care["edges"][0]["node"]["at"]
    assert (await audit_events(gateway, filter={"customerId": str(made.id), "since": at}))["edges"]
    until = await audit_events(gateway, filter={"customerId": str(made.id), "until": at})
    assert until["edges"] == []


@pytest.mark.parametrize(("division", "purpose"), [("customer_care", None), ("fraud_security", "fraud_protection")])
async def test_other_divisions_are_forbidden(gateway: Gateway, division: str, purpose: str | None) -> None:
    for query, variables in (
        (EVENTS, {}),
        (EXPLAIN, {"division": "marketing", "purpose": "MARKETING_CROSS_CATEGORY", "customerId": "1",
                   "field": "Customer.email"}),
    ):
        response = await gateway.query(query, division=division, purpose=purpose, variables=variables)
        body = response.json()
        assert body.get("data") is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_a_bad_cursor_is_bad_user_input(gateway: Gateway) -> None:
    response = await gateway.query(
        EVENTS, division="privacy_office", purpose="compliance_audit", variables={"after": "bm90LWEtY3Vyc29y"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def explain(gateway: Gateway, customer_id: int, field: str, division: str, purpose: str) -> dict[str, Any]:
    response = await gateway.query(
        EXPLAIN,
        division="privacy_office",
        purpose="compliance_audit",
        variables={"division": division, "purpose": purpose, "customerId": str(customer_id), "field": field},
    )
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["explainAccess"]
    return result


async def test_explain_access_says_why(gateway: Gateway, pool: asyncpg.Pool) -> None:
    opted_out = await make_customer(pool, services=("LOCAL",), approval="OPT_OUT")
    denied = await explain(gateway, opted_out.id, "Customer.services", "long_distance", "MARKETING_CROSS_CATEGORY")
    assert denied["allowed"] is False
    assert denied["category"] == "SERVICE"
    assert denied["facts"]["cpniApproval"] == "OPT_OUT"
    assert denied["facts"]["subscribed"] == ["LOCAL"]
    assert len(denied["cites"]) == len(denied["policyIds"])
    allowed = await explain(gateway, opted_out.id, "Customer.email", "customer_care", "CUSTOMER_CARE")
    assert allowed["allowed"] is True and allowed["policyIds"] and all(allowed["cites"])
    # The category comes from the schema's @category directives.
    location = await explain(gateway, opted_out.id, "UsageRecord.cellSite", "customer_care", "CUSTOMER_CARE")
    assert (location["category"], location["allowed"]) == ("LOCATION", False)


async def test_explain_access_is_itself_audited(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, approval="OPT_IN")
    await explain(gateway, made.id, "Customer.email", "marketing", "MARKETING_CROSS_CATEGORY")
    row = await pool.fetchrow("SELECT * FROM audit_events WHERE customer_id = $1", made.id)
    assert row is not None
    assert (row["division"], row["purpose"]) == ("privacy_office", "compliance_audit")
    assert {"SERVICE", "CONSENT"} <= set(row["disclosed"])
    assert "privacy-office-reads-audit" in row["policy_ids"]


@pytest.mark.parametrize("field", ["Customer.nope", "customer", "Address.city", "Nope.field"])
async def test_explain_access_refuses_fields_it_cannot_place(gateway: Gateway, pool: asyncpg.Pool, field: str) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        EXPLAIN,
        division="privacy_office",
        purpose="compliance_audit",
        variables={
            "division": "marketing", "purpose": "MARKETING_CROSS_CATEGORY", "customerId": str(made.id), "field": field
        },
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_record_of_several_customers_reads_as_one_event_each(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = [await make_customer(pool) for _ in range(3)]
    ids = ", ".join(f'c{m.id}: customer(id: "{m.id}") {{ name }}' for m in made)
    response = await gateway.query(f"query Several {{ {ids} }}", division="customer_care")
    assert response.status_code == 200, response.text
    request_id = response.headers["X-Request-Id"]
    stored = await pool.fetch("SELECT customer_ids FROM audit_events WHERE request_id = $1", request_id)
    assert [r["customer_ids"] for r in stored] == [[m.id for m in made]]  # one record

    # Page by page, one event at a time: each customer's event once, newest (last in the record) first.
    seen: list[dict[str, Any]] = []
    after = None
    while len(seen) < 3:
        page = await audit_events(gateway, first=1, after=after, filter={"division": "customer_care"})
        seen += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert [n["requestId"] for n in seen] == [request_id] * 3
    assert [n["customerId"] for n in seen] == [str(m.id) for m in reversed(made)]
    assert len({n["id"] for n in seen}) == 3
    assert all(n["disclosed"] == ["PUBLIC", "SUBSCRIBER_LIST"] and n["operationName"] == "Several" for n in seen)

    # A customer's trail finds its event inside the record, and only its own.
    for m in made:
        mine = await audit_events(gateway, filter={"customerId": str(m.id)})
        assert [(e["node"]["requestId"], e["node"]["customerId"]) for e in mine["edges"]] == [(request_id, str(m.id))]


async def test_a_customers_trail_holds_the_records_that_hold_the_customer_not_its_bucket(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = [await make_customer(pool) for _ in range(2)]
    beside = await make_customer(pool)  # the next id: in the same bucket as the others, or the next one
    ids = ", ".join(f'c{m.id}: customer(id: "{m.id}") {{ name }}' for m in made)
    response = await gateway.query(f"{{ {ids} }}", division="customer_care")
    assert response.status_code == 200, response.text
    request_id = response.headers["X-Request-Id"]

    def requests(page: dict[str, Any]) -> list[str]:
        return [e["node"]["requestId"] for e in page["edges"]]

    assert requests(await audit_events(gateway, filter={"customerId": str(made[0].id)})) == [request_id]
    assert request_id not in requests(await audit_events(gateway, filter={"customerId": str(beside.id)}))

    # A record written before buckets were (migration 0011) is found by its customers all the same.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # past the append-only trigger
        await conn.execute("UPDATE audit_events SET customer_buckets = NULL WHERE request_id = $1", request_id)
    for m in made:
        assert requests(await audit_events(gateway, filter={"customerId": str(m.id)})) == [request_id]
    assert request_id not in requests(await audit_events(gateway, filter={"customerId": str(beside.id)}))
