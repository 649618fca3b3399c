"""SPEC section 4 deny behaviour: null plus FORBIDDEN, no resolver run, no way around it."""

from __future__ import annotations

import asyncpg
import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import approved_campaign, read_customer
from tests.e2e.test_graph import round_trips
from tests.factories import make_customer


async def test_a_denied_field_is_null_with_one_error_that_gives_no_reason(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, approval="OPT_OUT")
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { id name email } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"id": str(made.id)},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"customer": {"id": str(made.id), "name": f"Test Customer {made.id}", "email": None}}
    assert body["errors"] == [
        {
            "message": "Not authorized to read this field",
            "locations": [{"line": 1, "column": 47}],
            "path": ["customer", "email"],
            "extensions": {"code": "FORBIDDEN", "category": "CONTACT"},
        }
    ]
    assert "OPT_OUT" not in response.text and "policy" not in response.text.lower()


async def test_a_denied_field_never_reads_its_data(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    query = "query($id: ID!) { customer(id: $id) { email invoices { id } paymentMethod { last4 } } }"
    denied = await gateway.query(query, division="dex_directory", purpose="directory_publishing", variables={"id": str(made.id)})
    allowed = await gateway.query(query, division="customer_care", purpose="customer_care", variables={"id": str(made.id)})
    assert allowed.json()["data"]["customer"]["paymentMethod"] == {"last4": "4242"}
    # One statement either way: the customer, its facts and its answer, where
    # the denied parts are not read at all (tests/plan/test_sql.py shows the statement).
    assert denied.json()["data"]["customer"] == {"email": None, "invoices": None, "paymentMethod": None}
    assert round_trips(denied) == 1
    assert round_trips(allowed) == 1


@pytest.mark.parametrize(
    "query",
    [
        "query($id: ID!) { customer(id: $id) { a: email b: email c: contactPhone } }",
        "query($id: ID!) { customer(id: $id) { ...F } } fragment F on Customer { email contactPhone }",
        "query($id: ID!) { customer(id: $id) { ... on Customer { email } ... { contactPhone } } }",
        "query($id: ID!, $yes: Boolean = true) { customer(id: $id) { email @include(if: $yes) contactPhone @skip(if: false) } }",
        "query($id: ID!) { customer(id: $id) { email email ...F } } fragment F on Customer { email contactPhone }",
        "query($id: ID!) { a: customer(id: $id) { email } b: customerByPhone(phone: \"x\") { email } c: customer(id: $id) { x: contactPhone } }",
    ],
    ids=["aliases", "named-fragment", "inline-fragments", "include-skip", "repeated-keys", "aliased-roots"],
)
async def test_no_document_shape_reveals_a_denied_field(gateway: Gateway, pool: asyncpg.Pool, query: str) -> None:
    made = await make_customer(pool)
    response = await gateway.query(query, division="dex_directory", purpose="directory_publishing", variables={"id": str(made.id)})
    assert response.status_code == 200
    assert f"c{made.id}@example.test" not in response.text
    assert made.contact_phone not in response.text or made.contact_phone == made.phone
    assert "example.test" not in response.text
    errors = response.json()["errors"]
    assert errors and all(e["extensions"] == {"code": "FORBIDDEN", "category": "CONTACT"} for e in errors)


async def test_strict_mode_refuses_the_whole_operation(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { name email billingAddress { city } } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"id": str(made.id)},
        headers={"X-Authz-Mode": "strict"},
    )
    assert response.status_code == 403
    body = response.json()
    assert "data" not in body
    assert sorted(tuple(e["path"]) for e in body["errors"]) == [("customer", "billingAddress"), ("customer", "email")]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


async def test_strict_mode_answers_normally_when_nothing_is_denied(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { name } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"id": str(made.id)},
        headers={"X-Authz-Mode": "strict"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"customer": {"name": f"Test Customer {made.id}"}}}


async def test_provisioning_sees_only_the_divisions_own_services(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS", "INTERNET"))
    read = await read_customer(
        gateway, pool, division="wireless", purpose="provisioning", customer_id=made.id,
        selection="services { category plan configuration { equipment } usage { durationSeconds } }",
    )
    assert read.denied == {}
    assert read.data is not None and [s["category"] for s in read.data["services"]] == ["WIRELESS"]
    # A division without an own category provisions everything (network operations).
    read = await read_customer(
        gateway, pool, division="network_ops", purpose="provisioning", customer_id=made.id,
        selection="services { category }",
    )
    assert read.data is not None and len(read.data["services"]) == 3


async def test_campaign_categories_are_sent_when_marketing(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS",))
    campaign = await approved_campaign(pool, "wireless", "marketing_same_category")
    read = await read_customer(
        gateway, pool, division="wireless", purpose="marketing_same_category", customer_id=made.id,
        selection="services { plan }", headers={"X-Campaign-Id": campaign},
    )
    assert read.denied == {}


FILTER = """query($f: CustomerFilter) { customers(first: 100, filter: $f) { edges { node { id } } } }"""


async def test_a_filter_never_matches_a_category_the_caller_may_not_read(gateway: Gateway, pool: asyncpg.Pool) -> None:
    wireless_local = await make_customer(pool, services=("WIRELESS", "LOCAL"), state="WY")
    local_only = await make_customer(pool, services=("LOCAL",), state="WY")
    # The wireless division provisions wireless services only: a filter on LOCAL
    # would reveal which customers buy local service, so nothing matches.
    response = await gateway.query(
        FILTER, division="wireless", purpose="provisioning", variables={"f": {"serviceCategory": "LOCAL", "state": "WY"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customers"]["edges"] == []
    response = await gateway.query(
        FILTER, division="wireless", purpose="provisioning", variables={"f": {"serviceCategory": "WIRELESS", "state": "WY"}}
    )
    ids = [e["node"]["id"] for e in response.json()["data"]["customers"]["edges"]]
    assert str(wireless_local.id) in ids and str(local_only.id) not in ids


async def test_a_filter_on_a_category_never_readable_is_forbidden(gateway: Gateway, pool: asyncpg.Pool) -> None:
    response = await gateway.query(
        FILTER, division="dex_directory", purpose="directory_publishing", variables={"f": {"serviceCategory": "LOCAL"}}
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "category": "SERVICE"}


async def test_a_name_filter_skips_customers_whose_listing_is_denied(gateway: Gateway, pool: asyncpg.Pool) -> None:
    terminated = await make_customer(pool, status="TERMINATED", name="Zebulon Oracle-Test")
    active = await make_customer(pool, name="Zebulon Oracle-Test")
    campaign = await approved_campaign(pool, "wireless", "marketing_same_category")
    response = await gateway.query(
        FILTER, division="wireless", purpose="marketing_same_category",
        variables={"f": {"namePrefix": "zebulon oracle"}}, headers={"X-Campaign-Id": campaign},
    )
    ids = [e["node"]["id"] for e in response.json()["data"]["customers"]["edges"]]
    assert ids == [str(active.id)]
    assert str(terminated.id) not in ids
