"""Campaigns: created by a marketing division, approved by the privacy office, then usable (64.2009)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.consent.calls import APPROVE_CAMPAIGN, CREATE_CAMPAIGN, USAGE, ok, read, record_approval, refused
from tests.e2e.conftest import Gateway
from tests.factories import make_campaign, make_customer

NOW = datetime.now(UTC)


def campaign_input(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Long distance for local customers",
        "description": "Offer the 500-minute long distance plan to local-only customers.",
        "purpose": "MARKETING_CROSS_CATEGORY",
        "categories": ["USAGE", "SERVICE"],
        "targetCategories": ["LONG_DISTANCE"],
        "startsAt": (NOW - timedelta(minutes=5)).isoformat(),
        "endsAt": (NOW + timedelta(days=30)).isoformat(),
    }
    data.update(changes)
    return data


async def create(
    gateway: Gateway, data: dict[str, Any], division: str = "marketing", purpose: str = "marketing_cross_category"
) -> httpx.Response:
    return await gateway.query(CREATE_CAMPAIGN, division=division, purpose=purpose, variables={"input": data})


async def approve(gateway: Gateway, campaign_id: str, division: str = "privacy_office") -> httpx.Response:
    purpose = "compliance_audit" if division == "privacy_office" else None
    return await gateway.query(APPROVE_CAMPAIGN, division=division, purpose=purpose, variables={"id": campaign_id})


async def test_created_by_marketing_approved_by_the_privacy_office_then_usable(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    await record_approval(gateway, made.id, "OPT_IN")

    # Creating a campaign needs no campaign: it is how a division gets one.
    created = ok(await create(gateway, campaign_input()))["createCampaign"]
    assert created["status"] == "PENDING" and created["division"] == "marketing"
    assert created["purpose"] == "MARKETING_CROSS_CATEGORY"
    assert created["categories"] == ["SERVICE", "USAGE"] and created["targetCategories"] == ["LONG_DISTANCE"]
    campaign = created["id"]

    async def under_campaign() -> httpx.Response:
        return await gateway.query(
            f"query($id: ID!) {{ customer(id: $id) {{ {USAGE} }} }}",
            division="marketing", purpose="marketing_cross_category",
            variables={"id": str(made.id)}, headers={"X-Campaign-Id": campaign},
        )

    refused(await under_campaign(), 403, "CAMPAIGN_REQUIRED")  # not yet reviewed

    approved = ok(await approve(gateway, campaign))["approveCampaign"]
    assert approved == {key: created[key] for key in approved} | {"status": "APPROVED"}
    row = await pool.fetchrow("SELECT created_by, approved_by, approved_at FROM campaigns WHERE id = $1", campaign)
    assert row is not None and row["created_by"] == "marketing-client" and row["approved_by"] == "privacy_office-client"

    result = await read(
        gateway, made.id, "email " + USAGE, division="marketing", purpose="marketing_cross_category", campaign=campaign
    )
    assert result.denied == {"email": "CONTACT"}  # not a category of this campaign
    assert result.customer is not None and result.customer["services"][0]["usage"][0]["durationSeconds"] == 120

    # Approving again changes nothing: the first review stands.
    again = ok(await approve(gateway, campaign))["approveCampaign"]
    assert again == approved
    row_again = await pool.fetchrow("SELECT approved_at FROM campaigns WHERE id = $1", campaign)
    assert row_again is not None and row_again["approved_at"] == row["approved_at"]


@pytest.mark.parametrize(
    ("division", "purpose"),
    [("customer_care", "customer_care"), ("network_ops", "provisioning"), ("privacy_office", "compliance_audit")],
)
async def test_only_marketing_purposes_create_campaigns(
    gateway: Gateway, pool: asyncpg.Pool, division: str, purpose: str
) -> None:
    before = await _campaigns(pool)
    refused(await create(gateway, campaign_input(), division=division, purpose=purpose), 200, "FORBIDDEN")
    assert await _campaigns(pool) == before


@pytest.mark.parametrize("division", ["marketing", "customer_care", "long_distance"])
async def test_only_the_privacy_office_approves(gateway: Gateway, pool: asyncpg.Pool, division: str) -> None:
    campaign = await make_campaign(
        pool, division="marketing", purpose="marketing_cross_category", categories=["USAGE"], status="PENDING"
    )
    response = await gateway.query(
        APPROVE_CAMPAIGN, division=division, purpose=None if division != "long_distance" else "provisioning",
        variables={"id": campaign},
    )
    refused(response, 200, "FORBIDDEN")
    assert await pool.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign) == "PENDING"


INVALID = {
    "empty name": ({"name": "  "}, "`input.name`"),
    "empty description": ({"description": ""}, "`input.description`"),
    "no categories": ({"categories": []}, "`input.categories`"),
    "payment": ({"categories": ["USAGE", "PAYMENT"]}, "`input.categories`: PAYMENT"),
    "consent": ({"categories": ["CONSENT"]}, "`input.categories`: CONSENT"),
    "public": ({"categories": ["PUBLIC"]}, "`input.categories`: PUBLIC"),
    "ends before it starts": ({"endsAt": (NOW - timedelta(minutes=6)).isoformat()}, "`input.endsAt`"),
    "ends when it starts": ({"endsAt": (NOW - timedelta(minutes=5)).isoformat()}, "`input.endsAt`"),
    "already over": (
        {"startsAt": (NOW - timedelta(days=9)).isoformat(), "endsAt": (NOW - timedelta(days=1)).isoformat()},
        "`input.endsAt`",
    ),
    "no time zone": ({"startsAt": "2026-03-01T09:00:00"}, "`input.startsAt`"),
    "purpose of another division": ({"purpose": "MARKETING_NON_COMM"}, "`input.purpose`"),
    "not a marketing purpose": ({"purpose": "CUSTOMER_CARE"}, "`input.purpose`"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
async def test_invalid_campaigns_are_refused_naming_the_field(
    gateway: Gateway, pool: asyncpg.Pool, case: str
) -> None:
    changes, named = INVALID[case]
    before = await _campaigns(pool)
    message = refused(await create(gateway, campaign_input(**changes)), 400, "BAD_USER_INPUT")
    assert message.startswith(named), message
    assert await _campaigns(pool) == before


async def test_approving_an_unknown_or_ended_campaign_is_bad_input(gateway: Gateway, pool: asyncpg.Pool) -> None:
    assert refused(await approve(gateway, "no-such-campaign"), 400, "BAD_USER_INPUT") == "`id` names no campaign"
    ended = await make_campaign(
        pool, division="marketing", purpose="marketing_cross_category", categories=["USAGE"], status="PENDING",
        starts_at=NOW - timedelta(days=40), ends_at=NOW - timedelta(days=10),
    )
    assert refused(await approve(gateway, ended), 400, "BAD_USER_INPUT") == "`id` names a campaign that has already ended"


async def _campaigns(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM campaigns"))
