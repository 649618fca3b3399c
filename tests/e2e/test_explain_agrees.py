"""Property: `explainAccess` says `allowed` exactly when a real query by that caller gets the field.

Hypothesis draws a (division, purpose) of the registry, a customer, a field,
a service of the customer (or none) and a campaign (or none, for marketing
purposes); the privacy office asks `explainAccess`, the division sends the
query, both over HTTP against the embedded PostgreSQL. A field decided per
service is "got" for a service when the service's item is in the response
without a FORBIDDEN error on the way to the field; without a service, when
that holds for every service of the customer.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import ALL_MARKETING_CATEGORIES, approved_campaign
from tests.factories import Made, make_customer

REGISTRY = tomllib.loads((Path(__file__).parents[2] / "policies" / "divisions.toml").read_text())["divisions"]
PAIRS = sorted((d, p) for d, entry in REGISTRY.items() for p in entry["purposes"])
MARKETING = {"marketing_same_category", "marketing_cross_category", "marketing_non_comm", "third_party_marketing"}

PROFILES: list[dict[str, Any]] = [
    {"services": ("LOCAL", "WIRELESS"), "approval": "OPT_IN", "location_approval": "OPT_IN"},
    {"services": ("WIRELESS",)},
    {"services": ("LOCAL", "LONG_DISTANCE", "INTERNET", "WIRELESS"), "notice_days_ago": 45},
    {"services": ("LOCAL",), "notice_days_ago": 31},  # a mailed notice still inside its wait
    {"services": ("INTERNET", "VIDEO"), "approval": "OPT_OUT", "listed": False},
    {"services": ("LONG_DISTANCE", "WIRELESS"), "status": "TERMINATED", "approval": "OPT_IN"},
    {"services": ("WIRELESS",), "approval": "OPT_IN", "listed": False, "location_approval": "OPT_IN"},
    {"services": ()},
]


@dataclass(frozen=True)
class Field:
    """A field asked about, the selection that reads it and what counts as getting it."""

    name: str
    selection: str  # inside customer(id: $id) { ... }
    per_service: bool
    # (customer data, errors, service id) -> got it; service id None for a customer-level field
    got: Callable[[dict[str, Any] | None, list[dict[str, Any]], str | None], bool]


def _denied(errors: list[dict[str, Any]], *prefix: object) -> bool:
    return any(e["path"][1 : 1 + len(prefix)] == list(prefix) for e in errors)


def customer_level(key: str) -> Callable[[dict[str, Any] | None, list[dict[str, Any]], str | None], bool]:
    return lambda data, errors, _: data is not None and not _denied(errors, key)


def listed_item(key: str, id_key: str) -> Callable[[dict[str, Any] | None, list[dict[str, Any]], str | None], bool]:
    def got(data: dict[str, Any] | None, errors: list[dict[str, Any]], service: str | None) -> bool:
        if data is None or _denied(errors, key) or data[key] is None:
            return False
        return service is None or service in [item[id_key] for item in data[key]]

    return got


def under_service(*below: str) -> Callable[[dict[str, Any] | None, list[dict[str, Any]], str | None], bool]:
    """Got for `service` when it is listed and nothing on the path `below` it is denied."""

    def got(data: dict[str, Any] | None, errors: list[dict[str, Any]], service: str | None) -> bool:
        if data is None or _denied(errors, "services") or data["services"] is None:
            return False
        ids = [s["id"] for s in data["services"]]
        if service not in ids:
            return False
        index = ids.index(service)
        for depth in range(1, len(below) + 1):
            prefix = ["services", index, *below[:depth]]
            if any(_matches(e["path"][1:], prefix) for e in errors):
                return False
        return True

    return got


def _matches(path: list[object], prefix: list[object]) -> bool:
    """`path` starts with `prefix`, list indexes of records in between ignored (usage.0.cellSite)."""
    rest = [p for n, p in enumerate(path) if n < 2 or not isinstance(p, int)]
    return rest[: len(prefix)] == prefix


# Fields reached through other decisions first: hypothesis draws early entries more often.
FIELDS = [
    Field("UsageRecord.cellSite", "services { id usage { cellSite } }", True, under_service("usage", "cellSite")),
    Field("Service.usage", "services { id usage { durationSeconds } }", True, under_service("usage")),
    Field("DeviceLocation.cellSite", "lastKnownLocation { serviceId cellSite }", True,
          listed_item("lastKnownLocation", "serviceId")),
    Field("Service.configuration", "services { id configuration { equipment } }", True,
          under_service("configuration")),
    Field("Customer.lastKnownLocation", "lastKnownLocation { serviceId }", True,
          listed_item("lastKnownLocation", "serviceId")),
    Field("Customer.services", "services { id }", True, listed_item("services", "id")),
    Field("Service.plan", "services { id plan }", True, under_service()),
    Field("Customer.name", "name", False, customer_level("name")),
    Field("Customer.listedPhone", "listedPhone", False, customer_level("listedPhone")),
    Field("Customer.email", "email", False, customer_level("email")),
    Field("Customer.invoices", "invoices { id }", False, customer_level("invoices")),
    Field("Customer.paymentMethod", "paymentMethod { kind }", False, customer_level("paymentMethod")),
    Field("Customer.cpniApproval", "cpniApproval { status }", False, customer_level("cpniApproval")),
]

EXPLAIN = """
query($division: ID!, $purpose: Purpose!, $customerId: ID!, $field: String!, $serviceId: ID, $campaignId: ID) {
  explainAccess(division: $division, purpose: $purpose, customerId: $customerId, field: $field,
                serviceId: $serviceId, campaignId: $campaignId) {
    allowed serviceId policyIds services { allowed serviceId }
  }
}
"""


async def _setup(pool: asyncpg.Pool) -> tuple[list[Made], dict[tuple[str, str], list[str]]]:
    customers: list[Made] = [await make_customer(pool, **profile) for profile in PROFILES]
    campaigns: dict[tuple[str, str], list[str]] = {}
    for division, purpose in PAIRS:
        if purpose in MARKETING:
            campaigns[(division, purpose)] = [
                await approved_campaign(pool, division, purpose, ALL_MARKETING_CATEGORIES),
                await approved_campaign(pool, division, purpose, ["SUBSCRIBER_LIST", "SERVICE", "LOCATION"]),
            ]
    return customers, campaigns


async def _agree(
    gateway: Gateway, pair: tuple[str, str], made: Made, profile: dict[str, Any], field: Field,
    service: str | None, campaign: str | None,
) -> bool:
    """Ask explainAccess and send the query; assert they agree; return `allowed`."""
    division, purpose = pair
    service_ids = [str(sid) for sid in made.service_ids.values()]
    explained = await gateway.query(
        EXPLAIN, division="privacy_office", purpose="compliance_audit",
        variables={"division": division, "purpose": purpose.upper(), "customerId": str(made.id),
                   "field": field.name, "serviceId": service, "campaignId": campaign},
    )
    body = explained.json()
    assert "errors" not in body, body
    explanation = body["data"]["explainAccess"]
    response = await gateway.query(
        f"query($id: ID!) {{ customer(id: $id) {{ {field.selection} }} }}",
        division=division, purpose=purpose, variables={"id": str(made.id)},
        headers={"X-Campaign-Id": campaign} if campaign else {},
    )
    if response.status_code == 403:  # refused before any field: a marketing purpose without its campaign
        assert response.json()["errors"][0]["extensions"]["code"] == "CAMPAIGN_REQUIRED"
        data, errors = None, []
    else:
        assert response.status_code == 200, response.text
        result = response.json()
        data, errors = result["data"]["customer"], result.get("errors", [])
        assert {e["extensions"]["code"] for e in errors} <= {"FORBIDDEN"}
    context = (division, purpose, profile, field.name, service, campaign, explanation, response.text)
    if field.per_service and service is None and service_ids:
        got_each = {s: field.got(data, errors, s) for s in service_ids}
        assert {e["serviceId"]: e["allowed"] for e in explanation["services"]} == got_each, context
        assert explanation["allowed"] is all(got_each.values()), context
    else:
        assert explanation["allowed"] is field.got(data, errors, service), context
        assert explanation["services"] == [], context
    allowed: bool = explanation["allowed"]
    return allowed


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_explain_access_agrees_with_what_a_query_gets(gateway: Gateway, pool: asyncpg.Pool) -> None:
    customers, campaigns = await _setup(pool)
    loop = asyncio.get_running_loop()
    seen: list[bool] = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        pair=st.sampled_from(PAIRS),
        which=st.integers(0, len(PROFILES) - 1),
        field=st.sampled_from(FIELDS),
        service_pick=st.integers(-1, 3),
        campaign_pick=st.integers(-1, 1),
    )
    def check(pair: tuple[str, str], which: int, field: Field, service_pick: int, campaign_pick: int) -> None:
        made = customers[which]
        service_ids = [str(sid) for sid in made.service_ids.values()]
        if field.name.split(".")[0] != "Customer" and not service_ids:
            return  # no service: nothing of this field to get
        service = None
        if field.per_service and service_ids and service_pick >= 0:
            service = service_ids[service_pick % len(service_ids)]
        campaign = campaigns[pair][campaign_pick] if pair in campaigns and campaign_pick >= 0 else None
        coroutine = _agree(gateway, pair, made, PROFILES[which], field, service, campaign)
        seen.append(asyncio.run_coroutine_threadsafe(coroutine, loop).result())

    await asyncio.to_thread(check)
    assert True in seen and False in seen


@pytest.mark.slow
async def test_explain_access_agrees_everywhere(gateway: Gateway, pool: asyncpg.Pool) -> None:
    """Brute force over every pair, customer, field, service and campaign choice."""
    customers, campaigns = await _setup(pool)
    for pair in PAIRS:
        for made, profile in zip(customers, PROFILES, strict=True):
            service_ids = [str(sid) for sid in made.service_ids.values()]
            for field in FIELDS:
                if field.name.split(".")[0] != "Customer" and not service_ids:
                    continue
                for service in [None, *service_ids] if field.per_service else [None]:
                    for campaign in [None, *campaigns.get(pair, [])]:
                        await _agree(gateway, pair, made, profile, field, service, campaign)
