"""Customer.lastKnownLocation (SPEC 5, CPNI.md case 10): location without SERVICE or USAGE.

The newest cell site of each of the customer's services. `emergency` may
read it for any customer without approval; marketing only with express
location approval; a provisioning division with a service category of its
own sees only its own category's devices. Over HTTP, real PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import read_customer
from tests.factories import make_customer, record_approval

LOCATION = "lastKnownLocation { serviceId serviceCategory cellSite seenAt }"


async def test_emergency_reads_the_last_known_location_of_any_customer(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS", "LOCAL"))
    read = await read_customer(
        gateway, pool, division="network_ops", purpose="emergency",
        customer_id=made.id, selection="lastKnownLocation { cellSite seenAt serviceCategory }",
    )
    assert read.status == 200 and read.denied == {}
    assert read.data is not None
    items = read.data["lastKnownLocation"]
    assert sorted(i["serviceCategory"] for i in items) == ["LOCAL", "WIRELESS"]
    assert {i["cellSite"] for i in items} == {"CELL-42"}
    # The newest record of each service (the factory writes them 1, 2, 3 hours ago).
    for item in items:
        seen = datetime.fromisoformat(item["seenAt"])
        assert datetime.now(UTC) - timedelta(hours=1, minutes=5) < seen < datetime.now(UTC)


async def test_emergency_gets_location_while_services_and_usage_stay_denied(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("WIRELESS",))
    read = await read_customer(
        gateway, pool, division="fraud_security", purpose="emergency",
        customer_id=made.id, selection=f"name {LOCATION} services {{ id }}",
    )
    assert read.denied == {"services": "SERVICE"}
    assert read.data is not None
    assert read.data["lastKnownLocation"] == [
        {
            "serviceId": str(made.service_ids["WIRELESS"]),
            "serviceCategory": "WIRELESS",
            "cellSite": "CELL-42",
            "seenAt": read.data["lastKnownLocation"][0]["seenAt"],
        }
    ]


async def test_marketing_without_express_approval_never_reads_location(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS",), approval="OPT_IN", location_approval="OPT_OUT")
    for division, purpose in (
        ("wireless", "marketing_same_category"),
        ("marketing", "marketing_cross_category"),
        ("video", "marketing_non_comm"),
        ("partner", "third_party_marketing"),
    ):
        read = await read_customer(
            gateway, pool, division=division, purpose=purpose, customer_id=made.id, selection=LOCATION
        )
        assert read.data == {"lastKnownLocation": None}, (division, purpose)
        assert read.denied == {"lastKnownLocation": "LOCATION"}, (division, purpose)
    # Express approval (the latest LOCATION-scope record is OPT_IN) opens it.
    await record_approval(pool, made.id, "OPT_IN", scope="LOCATION")
    read = await read_customer(
        gateway, pool, division="wireless", purpose="marketing_same_category", customer_id=made.id, selection=LOCATION
    )
    assert read.denied == {}
    assert read.data is not None and [i["cellSite"] for i in read.data["lastKnownLocation"]] == ["CELL-42"]


async def test_provisioning_sees_only_its_own_categorys_devices(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS", "INTERNET"))
    for division, expected in (("wireless", ["WIRELESS"]), ("consumer_local", ["LOCAL"]), ("long_distance", [])):
        read = await read_customer(
            gateway, pool, division=division, purpose="provisioning",
            customer_id=made.id, selection="lastKnownLocation { serviceCategory }",
        )
        # Left out of the list without an error, like services.
        assert read.denied == {}, division
        assert read.data is not None
        assert [i["serviceCategory"] for i in read.data["lastKnownLocation"]] == expected, division
    read = await read_customer(
        gateway, pool, division="network_ops", purpose="provisioning",
        customer_id=made.id, selection="lastKnownLocation { serviceCategory }",
    )
    assert read.data is not None
    assert sorted(i["serviceCategory"] for i in read.data["lastKnownLocation"]) == ["INTERNET", "LOCAL", "WIRELESS"]


async def test_a_service_without_a_cell_site_has_no_item(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS", "INTERNET"), usage_per_service=0)
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO usage_records VALUES ($1, $2, $3, 60, 'OUTBOUND', NULL, 10, 'CELL-OLD'),"
        " ($1, $2, $4, 60, 'OUTBOUND', NULL, 10, 'CELL-NEW'), ($1, $2, $5, 60, 'DATA', NULL, 10, NULL),"
        " ($1, $6, $5, 60, 'DATA', NULL, 10, NULL)",
        made.id, made.service_ids["WIRELESS"], now - timedelta(days=2), now - timedelta(days=1),
        now - timedelta(hours=1), made.service_ids["INTERNET"],
    )
    read = await read_customer(
        gateway, pool, division="network_ops", purpose="emergency", customer_id=made.id, selection=LOCATION
    )
    assert read.data is not None
    # The newest record *with* a cell site; the INTERNET service never had one.
    assert [(i["serviceCategory"], i["cellSite"]) for i in read.data["lastKnownLocation"]] == [("WIRELESS", "CELL-NEW")]


async def test_denied_location_is_never_read(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS",))
    read = await read_customer(
        gateway, pool, division="billing_collections", purpose="billing_collection",
        customer_id=made.id, selection=LOCATION,
    )
    assert read.data == {"lastKnownLocation": None} and read.denied == {"lastKnownLocation": "LOCATION"}


PAGE = """
query Page($first: Int!) {
  customers(first: $first) { edges { node { id lastKnownLocation { serviceCategory cellSite seenAt } } } }
}
"""


def _round_trips(response: httpx.Response) -> int:
    found = re.search(r"dur=(\d+)", response.headers["server-timing"])
    assert found is not None
    return int(found.group(1))


async def test_one_round_trip_for_every_customer_of_the_request(gateway: Gateway, pool: asyncpg.Pool) -> None:
    for _ in range(30):
        await make_customer(pool, services=("LOCAL", "WIRELESS"))
    trips = {}
    for first in (3, 30):
        response = await gateway.query(PAGE, division="network_ops", purpose="emergency", variables={"first": first})
        assert response.status_code == 200, response.text
        edges = response.json()["data"]["customers"]["edges"]
        assert len(edges) == first
        trips[first] = _round_trips(response)
    assert trips[3] == trips[30]


async def test_the_disclosure_is_audited_as_location(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS",))
    read = await read_customer(
        gateway, pool, division="network_ops", purpose="emergency", customer_id=made.id, selection=LOCATION
    )
    assert read.denied == {}
    row = await pool.fetchrow(
        "SELECT division, purpose, disclosed, denied, policy_ids FROM audit_events WHERE customer_id = $1", made.id
    )
    assert row is not None
    assert (row["division"], row["purpose"]) == ("network_ops", "emergency")
    assert "LOCATION" in row["disclosed"] and row["denied"] == []
    assert "emergency-reads-contact-and-location" in row["policy_ids"]
