"""The cases of CPNI.md the policy must get right, end to end over HTTP against PostgreSQL.

Facts are written straight into the database; each request goes through
authentication, the Cedar policy and the enforcement extension.
Cases 8 and 12 need the consent mutations and the campaign gate (tests/consent).
"""

from __future__ import annotations

import asyncpg
import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import read_customer
from tests.factories import make_customer, record_approval

USAGE = "services { category usage(first: 1) { durationSeconds } }"


async def test_case_1_opted_out_yesterday(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "LONG_DISTANCE"), notice_days_ago=400)
    await record_approval(pool, made.id, "OPT_OUT")
    marketing = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection=USAGE,
    )
    assert marketing.data is not None and marketing.data["services"] is None
    assert marketing.denied == {"services": "SERVICE"}
    billing = await read_customer(
        gateway, pool, division="billing_collections", purpose="billing_collection",
        customer_id=made.id, selection="invoices { amount { amountCents } } " + USAGE,
    )
    assert billing.denied == {}
    assert billing.data is not None and billing.data["invoices"][0]["amount"]["amountCents"] == 4200
    assert billing.data["services"][0]["usage"][0]["durationSeconds"] == 120


# An emailed notice: the wait runs from sentAt (a mailed one from the 3rd day
# after mailing: tests/e2e/test_listing_and_notices.py).
@pytest.mark.parametrize(("days", "allowed"), [(29, False), (30, True), (31, True), (729, True), (731, False)])
async def test_case_2_and_3_the_opt_out_notice_window(
    gateway: Gateway, pool: asyncpg.Pool, days: int, allowed: bool
) -> None:
    made = await make_customer(pool, services=("LOCAL",), notice_days_ago=days, notice_method="EMAIL")
    read = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection="email " + USAGE,
    )
    assert read.allowed("services") is allowed
    assert read.allowed("email") is allowed
    if allowed:
        assert read.data is not None and read.data["services"][0]["usage"][0]["durationSeconds"] == 120


async def test_case_2_under_the_opt_in_regime_a_notice_is_not_enough(
    opt_in_gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("LOCAL",), notice_days_ago=45)
    read = await read_customer(
        opt_in_gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection=USAGE,
    )
    assert read.denied == {"services": "SERVICE"}
    await record_approval(pool, made.id, "OPT_IN")
    read = await read_customer(
        opt_in_gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection=USAGE,
    )
    assert read.denied == {}


async def test_case_4_wireless_only_customer_and_the_long_distance_division(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("WIRELESS",))
    same = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_same_category",
        customer_id=made.id, selection=USAGE,
    )
    assert same.denied == {"services": "SERVICE"}
    cross = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection=USAGE,
    )
    assert cross.denied == {"services": "SERVICE"}  # no approval yet
    await record_approval(pool, made.id, "OPT_IN")
    cross = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection=USAGE,
    )
    assert cross.denied == {}
    assert cross.data is not None and cross.data["services"][0]["category"] == "WIRELESS"


async def test_case_5_local_and_wireless_customer(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    wireless = await read_customer(
        gateway, pool, division="wireless", purpose="marketing_same_category",
        customer_id=made.id, selection=USAGE + " invoices { id }",
    )
    assert wireless.denied == {}
    assert wireless.data is not None
    assert [s["category"] for s in wireless.data["services"]] == ["LOCAL", "WIRELESS"]
    long_distance = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_same_category",
        customer_id=made.id, selection=USAGE + " invoices { id }",
    )
    assert long_distance.denied == {"services": "SERVICE", "invoices": "BILLING"}


async def test_case_6_fraud_reads_call_detail_of_an_opted_out_customer(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("WIRELESS",), approval="OPT_OUT")
    read = await read_customer(
        gateway, pool, division="fraud_security", purpose="fraud_protection",
        customer_id=made.id, selection="services { usage { counterparty cellSite } }",
    )
    assert read.denied == {}
    assert read.data is not None and read.data["services"][0]["usage"][0]["counterparty"] == "+13035550000"
    token = gateway.token("fraud_security")
    refused = await gateway.query(
        "{ me { division } }", division="fraud_security", purpose="marketing_cross_category", token=token
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_ALLOWED"


async def test_case_7_no_approval_and_no_notice(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    cross = await read_customer(
        gateway, pool, division="long_distance", purpose="marketing_cross_category",
        customer_id=made.id, selection="name email " + USAGE,
    )
    assert cross.denied == {"email": "CONTACT", "services": "SERVICE"}  # O
    assert cross.data is not None and cross.data["name"] is not None  # A
    non_comm = await read_customer(
        gateway, pool, division="video", purpose="marketing_non_comm",
        customer_id=made.id, selection="name email " + USAGE,
    )
    assert non_comm.denied == {"email": "CONTACT", "services": "SERVICE"}  # I
    same = await read_customer(
        gateway, pool, division="wireless", purpose="marketing_same_category",
        customer_id=made.id, selection="name email " + USAGE,
    )
    assert same.denied == {}  # T: unaffected by the missing approval


async def test_case_9_directory_publisher_never_gets_a_non_published_number(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    listed = await make_customer(pool, listed=True)
    unlisted = await make_customer(pool, listed=False)
    read = await read_customer(
        gateway, pool, division="dex_directory", purpose="directory_publishing",
        customer_id=listed.id, selection="name listedPhone serviceAddress { city } contactPhone",
    )
    assert read.data is not None
    assert read.data["name"] and read.data["listedPhone"] == listed.phone
    assert read.data["serviceAddress"] == {"city": "Denver"}
    assert read.denied == {"contactPhone": "CONTACT"}
    read = await read_customer(
        gateway, pool, division="dex_directory", purpose="directory_publishing",
        customer_id=unlisted.id, selection="listedPhone contactPhone",
    )
    assert read.data == {"listedPhone": None, "contactPhone": None}
    by_phone = await gateway.query(
        "query($p: String!) { customerByPhone(phone: $p) { id } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"p": unlisted.contact_phone},
    )
    assert by_phone.json() == {"data": {"customerByPhone": None}}
    by_phone = await gateway.query(
        "query($p: String!) { customerByPhone(phone: $p) { id } }",
        division="dex_directory",
        purpose="directory_publishing",
        variables={"p": listed.phone},
    )
    assert by_phone.json() == {"data": {"customerByPhone": {"id": str(listed.id)}}}


async def test_case_10_call_location_needs_express_approval_except_in_emergencies(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("WIRELESS",), approval="OPT_IN")
    selection = "services { usage { cellSite durationSeconds } }"
    marketing = await read_customer(
        gateway, pool, division="wireless", purpose="marketing_same_category",
        customer_id=made.id, selection=selection,
    )
    assert marketing.denied == {"services.0.usage.0.cellSite": "LOCATION", "services.0.usage.1.cellSite": "LOCATION", "services.0.usage.2.cellSite": "LOCATION"}
    assert marketing.data is not None and marketing.data["services"][0]["usage"][0]["durationSeconds"] == 120
    emergency = await read_customer(
        gateway, pool, division="network_ops", purpose="emergency",
        customer_id=made.id, selection="name listedPhone",
    )
    assert emergency.denied == {}
    await record_approval(pool, made.id, "OPT_IN", scope="LOCATION")
    marketing = await read_customer(
        gateway, pool, division="wireless", purpose="marketing_same_category",
        customer_id=made.id, selection=selection,
    )
    assert marketing.denied == {}
    assert marketing.data is not None and marketing.data["services"][0]["usage"][0]["cellSite"] == "CELL-42"


@pytest.mark.parametrize(
    ("division", "purpose"),
    [
        ("wireless", "marketing_same_category"),
        ("long_distance", "marketing_cross_category"),
        ("video", "marketing_non_comm"),
        ("partner", "third_party_marketing"),
    ],
)
async def test_case_11_terminated_customer(gateway: Gateway, pool: asyncpg.Pool, division: str, purpose: str) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"), status="TERMINATED", approval="OPT_IN")
    marketing = await read_customer(
        gateway, pool, division=division, purpose=purpose,
        customer_id=made.id, selection="name email " + USAGE,
    )
    assert marketing.denied == {"name": "SUBSCRIBER_LIST", "email": "CONTACT", "services": "SERVICE"}
    billing = await read_customer(
        gateway, pool, division="billing_collections", purpose="billing_collection",
        customer_id=made.id, selection="name invoices { id }",
    )
    assert billing.denied == {}
