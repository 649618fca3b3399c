"""Subscriber list data only when published (CPNI.md case 9) and the paper-notice wait (CPNI.md 64.2008).

Over HTTP against the embedded PostgreSQL. A customer with a non-published
number (listed_phone NULL) has no subscriber list data: the directory
publisher and third parties get none of its name, number or address. An
opt-out notice's 30-day wait runs from sentAt for EMAIL and from the 3rd day
after mailing for MAIL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import read_customer
from tests.factories import make_customer

LISTING = "name listedPhone serviceAddress { city }"
ALL_THREE_DENIED = {"name": "SUBSCRIBER_LIST", "listedPhone": "SUBSCRIBER_LIST", "serviceAddress": "SUBSCRIBER_LIST"}


async def test_directory_publisher_gets_nothing_of_a_non_published_customer(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    unlisted = await make_customer(pool, listed=False)
    read = await read_customer(
        gateway, pool, division="dex_directory", purpose="directory_publishing",
        customer_id=unlisted.id, selection=LISTING,
    )
    assert read.status == 200
    assert read.data == {"name": None, "listedPhone": None, "serviceAddress": None}
    assert read.denied == ALL_THREE_DENIED
    listed = await make_customer(pool, listed=True)
    read = await read_customer(
        gateway, pool, division="dex_directory", purpose="directory_publishing",
        customer_id=listed.id, selection=LISTING,
    )
    assert read.denied == {}
    assert read.data == {"name": f"Test Customer {listed.id}", "listedPhone": listed.phone, "serviceAddress": {"city": "Denver"}}


async def test_strict_mode_refuses_the_whole_read_of_a_non_published_customer(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    unlisted = await make_customer(pool, listed=False)
    response = await gateway.query(
        f"query($id: ID!) {{ customer(id: $id) {{ id {LISTING} }} }}",
        division="dex_directory", purpose="directory_publishing",
        variables={"id": str(unlisted.id)}, headers={"X-Authz-Mode": "strict"},
    )
    assert response.status_code == 403
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert f"Test Customer {unlisted.id}" not in response.text


async def test_third_party_with_opt_in_gets_only_published_listings(gateway: Gateway, pool: asyncpg.Pool) -> None:
    unlisted = await make_customer(pool, listed=False, approval="OPT_IN")
    listed = await make_customer(pool, listed=True, approval="OPT_IN")
    read = await read_customer(
        gateway, pool, division="partner", purpose="third_party_marketing", customer_id=unlisted.id,
        selection=LISTING,
    )
    assert read.denied == ALL_THREE_DENIED
    read = await read_customer(
        gateway, pool, division="partner", purpose="third_party_marketing", customer_id=listed.id,
        selection=LISTING,
    )
    assert read.denied == {} and read.data is not None and read.data["listedPhone"] == listed.phone


@pytest.mark.parametrize(
    ("division", "purpose"),
    [
        ("network_ops", "provisioning"),
        ("network_ops", "emergency"),
        ("billing_collections", "billing_collection"),
        ("customer_care", "customer_care"),
        ("privacy_office", "compliance_audit"),
    ],
)
async def test_the_carriers_own_uses_still_read_the_name_and_address(
    gateway: Gateway, pool: asyncpg.Pool, division: str, purpose: str
) -> None:
    unlisted = await make_customer(pool, listed=False)
    read = await read_customer(
        gateway, pool, division=division, purpose=purpose, customer_id=unlisted.id, selection=LISTING
    )
    assert read.denied == {}
    # No published number to show: null without an error.
    assert read.data == {"name": f"Test Customer {unlisted.id}", "listedPhone": None, "serviceAddress": {"city": "Denver"}}


async def test_a_name_filter_never_matches_a_non_published_customer_for_the_publisher(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    prefix = f"Unlisted Filter {datetime.now(UTC).timestamp():.0f}"
    unlisted = await make_customer(pool, listed=False, name=f"{prefix} A")
    listed = await make_customer(pool, listed=True, name=f"{prefix} B")
    query = "query($p: String!) { customers(first: 10, filter: {namePrefix: $p}) { edges { node { id name } } } }"
    response = await gateway.query(
        query, division="dex_directory", purpose="directory_publishing", variables={"p": prefix}
    )
    assert response.status_code == 200, response.text
    ids = [e["node"]["id"] for e in response.json()["data"]["customers"]["edges"]]
    assert ids == [str(listed.id)]
    assert str(unlisted.id) not in response.text
    response = await gateway.query(query, division="network_ops", purpose="provisioning", variables={"p": prefix})
    assert [e["node"]["id"] for e in response.json()["data"]["customers"]["edges"]] == [str(unlisted.id), str(listed.id)]


# -- the opt-out notice window ------------------------------------------------

USAGE = "services { usage { durationSeconds } }"


async def _noticed(pool: asyncpg.Pool, days_ago: int, method: str) -> int:
    """A LOCAL customer with no approval and one notice sent `days_ago` days ago."""
    made = await make_customer(pool, services=("LOCAL",))
    await pool.execute(
        "INSERT INTO cpni_notices (customer_id, sent_at, method, recorded_by) VALUES ($1, $2, $3, 'test')",
        made.id, datetime.now(UTC) - timedelta(days=days_ago, minutes=1), method,
    )
    return made.id


@pytest.mark.parametrize(
    ("method", "days_ago", "allowed"),
    [
        # SPEC 6.1: 30 days from the 3rd day after mailing.
        ("MAIL", 29, False),
        ("MAIL", 30, False),
        ("MAIL", 32, False),
        ("MAIL", 33, True),
        # An email notice waits 30 days from sentAt.
        ("EMAIL", 29, False),
        ("EMAIL", 30, True),
    ],
)
async def test_the_opt_out_wait_of_a_notice(
    gateway: Gateway, pool: asyncpg.Pool, method: str, days_ago: int, allowed: bool
) -> None:
    cid = await _noticed(pool, days_ago, method)
    read = await read_customer(
        gateway, pool, division="marketing", purpose="marketing_cross_category", customer_id=cid, selection=USAGE
    )
    assert read.status == 200
    if allowed:
        assert read.denied == {}
    else:
        assert read.denied == {"services": "SERVICE"}


async def test_a_mailed_notice_under_the_opt_in_regime_is_not_enough(
    opt_in_gateway: Gateway, pool: asyncpg.Pool
) -> None:
    cid = await _noticed(pool, 40, "MAIL")
    read = await read_customer(
        opt_in_gateway, pool, division="marketing", purpose="marketing_cross_category", customer_id=cid,
        selection=USAGE,
    )
    assert read.denied == {"services": "SERVICE"}
