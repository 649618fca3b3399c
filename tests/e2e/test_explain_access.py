"""explainAccess (SPEC 5): per service, per campaign, as enforcement decides. Over HTTP.

The property test beside this one (test_explain_agrees.py) checks agreement
at random; these are the shapes a privacy officer relies on.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import read_customer
from tests.factories import make_campaign, make_customer

EXPLAIN = """
query($division: ID!, $purpose: Purpose!, $customerId: ID!, $field: String!, $serviceId: ID, $campaignId: ID) {
  explainAccess(division: $division, purpose: $purpose, customerId: $customerId, field: $field,
                serviceId: $serviceId, campaignId: $campaignId) {
    allowed serviceId serviceCategory policyIds cites facts category summary
    services { allowed serviceId serviceCategory policyIds cites facts summary services { allowed } }
  }
}
"""


async def explain(gateway: Gateway, **variables: Any) -> Any:
    variables["customerId"] = str(variables["customerId"])
    response = await gateway.query(EXPLAIN, division="privacy_office", purpose="compliance_audit", variables=variables)
    return response.json()


async def test_a_provisioning_division_is_explained_per_service(gateway: Gateway, pool: asyncpg.Pool) -> None:
    """The issue's case: 3 of 4 services denied to wireless provisioning."""
    made = await make_customer(pool, services=("LOCAL", "LONG_DISTANCE", "WIRELESS", "INTERNET"))
    body = await explain(gateway, division="wireless", purpose="PROVISIONING", customerId=made.id, field="Service.usage")
    assert "errors" not in body, body
    result = body["data"]["explainAccess"]
    assert result["allowed"] is False
    assert result["serviceId"] is None and result["category"] == "USAGE"
    per_service = {s["serviceCategory"]: s for s in result["services"]}
    assert {c: s["allowed"] for c, s in per_service.items()} == {
        "LOCAL": False, "LONG_DISTANCE": False, "WIRELESS": True, "INTERNET": False,
    }
    assert [s["serviceId"] for s in result["services"]] == [str(made.service_ids[c]) for c in per_service]
    assert per_service["LOCAL"]["policyIds"] == ["provisioning-own-services-only"]
    assert per_service["WIRELESS"]["policyIds"] == ["provisioning-reads-service-data"]
    assert all(s["services"] == [] for s in result["services"])
    assert result["policyIds"] == ["provisioning-own-services-only"] and len(result["cites"]) == 1
    assert "denied for 3 of 4 services" in result["summary"]
    # What the division actually gets: the wireless service and its usage, nothing else.
    read = await read_customer(
        gateway, pool, division="wireless", purpose="provisioning", customer_id=made.id,
        selection="services { category usage { durationSeconds } }",
    )
    assert read.data is not None and [s["category"] for s in read.data["services"]] == ["WIRELESS"]


async def test_one_service_asked_about(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    for category, allowed in (("WIRELESS", True), ("LOCAL", False)):
        body = await explain(
            gateway, division="wireless", purpose="PROVISIONING", customerId=made.id, field="UsageRecord.cellSite",
            serviceId=str(made.service_ids[category]),
        )
        result = body["data"]["explainAccess"]
        assert (result["allowed"], result["serviceId"], result["serviceCategory"]) == (
            allowed, str(made.service_ids[category]), category,
        )
        assert result["services"] == []
        assert result["facts"]["serviceCategory"] == category
        assert result["facts"]["path"] == ["SERVICE", "USAGE", "LOCATION"]


async def test_customer_level_fields_have_no_service_breakdown(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"), listed=False)
    body = await explain(gateway, division="dex_directory", purpose="DIRECTORY_PUBLISHING", customerId=made.id,
                         field="Customer.name")
    result = body["data"]["explainAccess"]
    assert (result["allowed"], result["services"], result["serviceId"]) == (False, [], None)
    assert result["facts"]["listingPublished"] is False
    assert result["summary"] == "denied: no policy permits it (Cedar's default deny)"
    # Whether the listing is published is itself shown: the explanation's audit row says so.
    row = await pool.fetchrow("SELECT division, disclosed FROM audit_events WHERE customer_id = $1", made.id)
    assert row is not None and row["division"] == "privacy_office"
    assert {"SUBSCRIBER_LIST", "SERVICE", "CONSENT"} <= set(row["disclosed"])


async def test_the_campaign_decides_for_marketing_purposes(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",), approval="OPT_IN")
    narrow = await make_campaign(pool, division="marketing", purpose="marketing_cross_category", categories=["CONTACT"])
    wide = await make_campaign(
        pool, division="marketing", purpose="marketing_cross_category", categories=["CONTACT", "SERVICE"]
    )
    other = await make_campaign(pool, division="wireless", purpose="marketing_cross_category", categories=["SERVICE"])
    asked = {"division": "marketing", "purpose": "MARKETING_CROSS_CATEGORY", "customerId": made.id,
             "field": "Service.plan"}

    allowed = (await explain(gateway, **asked, campaignId=wide))["data"]["explainAccess"]
    assert allowed["allowed"] is True and allowed["facts"]["campaignId"] == wide
    assert allowed["facts"]["campaignCategories"] == ["CONTACT", "SERVICE"]

    scoped = (await explain(gateway, **asked, campaignId=narrow))["data"]["explainAccess"]
    assert scoped["allowed"] is False
    assert scoped["services"][0]["policyIds"] == ["campaign-scope"]

    # Without a campaign, or with one the division may not run, the request itself is refused.
    for campaign in (None, other, "no-such-campaign"):
        refused = (await explain(gateway, **asked, campaignId=campaign))["data"]["explainAccess"]
        assert refused["allowed"] is False and refused["policyIds"] == [], campaign
        assert refused["summary"].startswith("refused: a marketing purpose reads only under a current approved campaign")
        assert refused["facts"]["campaignRefused"] is True
    response = await gateway.query(
        "query($id: ID!) { customer(id: $id) { services { plan } } }", division="marketing",
        purpose="marketing_cross_category", variables={"id": str(made.id)}, headers={"X-Campaign-Id": other},
    )
    assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "CAMPAIGN_REQUIRED"


async def test_bad_service_ids_are_bad_user_input(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    stranger = await make_customer(pool, services=("LOCAL",))
    cases = [
        ("Service.usage", str(stranger.service_ids["LOCAL"]), "`serviceId` names no service of this customer"),
        ("Service.usage", "not-a-service", "`serviceId` names no service of this customer"),
        ("Customer.email", str(made.service_ids["LOCAL"]), "`serviceId`: Customer.email is not decided per service"),
    ]
    for field, service, message in cases:
        body = await explain(gateway, division="network_ops", purpose="PROVISIONING", customerId=made.id,
                             field=field, serviceId=service)
        assert body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert body["errors"][0]["message"] == message


async def test_emergency_location_is_explained_as_allowed(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS", "LOCAL"))
    result = (await explain(gateway, division="network_ops", purpose="EMERGENCY", customerId=made.id,
                            field="Customer.lastKnownLocation"))["data"]["explainAccess"]
    assert result["allowed"] is True
    assert {s["serviceCategory"] for s in result["services"] if s["allowed"]} == {"WIRELESS", "LOCAL"}
    assert result["policyIds"] == ["emergency-reads-contact-and-location"]
    # Through usage records, the same location is out of reach: emergency may not read services.
    cell = (await explain(gateway, division="network_ops", purpose="EMERGENCY", customerId=made.id,
                          field="UsageRecord.cellSite"))["data"]["explainAccess"]
    assert cell["allowed"] is False
    assert all(s["facts"]["deniedAt"] == "SERVICE" for s in cell["services"])
