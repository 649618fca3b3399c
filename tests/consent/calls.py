"""Calls the consent and campaign tests make: the mutations, marketing reads, row counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from gateway.auth import issue_token
from gateway.authz.policy import load_policy
from tests.e2e.conftest import Gateway
from tests.factories import make_campaign

RECORD_APPROVAL = """
mutation Record($input: CpniApprovalInput!) {
  recordCpniApproval(input: $input) { status scope channel recordedAt }
}
"""

RECORD_NOTICE = """
mutation Notice($input: CpniNoticeInput!) {
  recordCpniNotice(input: $input) { id sentAt method }
}
"""

CREATE_CAMPAIGN = """
mutation Create($input: CampaignInput!) {
  createCampaign(input: $input) {
    id name description division purpose status categories targetCategories startsAt endsAt
  }
}
"""

APPROVE_CAMPAIGN = """
mutation Approve($id: ID!) {
  approveCampaign(id: $id) { id division purpose status categories startsAt endsAt }
}
"""

USAGE = "services { category usage(first: 1) { durationSeconds } }"
CAMPAIGN_CATEGORIES = ["SUBSCRIBER_LIST", "CONTACT", "SERVICE", "CONFIGURATION", "USAGE", "LOCATION", "BILLING"]


def token_for(gateway: Gateway, division: str, client: str) -> str:
    """A token for ``division`` naming a chosen client (``sub``)."""
    found = load_policy(gateway.settings.policy_dir).divisions[division]
    return issue_token(gateway.settings, division=found, purposes=found.purposes, ttl_seconds=600, client=client)


async def record_approval(
    gateway: Gateway,
    customer_id: int,
    status: str,
    *,
    scope: str | None = None,
    channel: str = "PHONE",
    division: str = "customer_care",
    purpose: str | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
) -> httpx.Response:
    """Customer care records an approval through the gateway (``recordCpniApproval``)."""
    data: dict[str, Any] = {"customerId": str(customer_id), "status": status, "channel": channel}
    if scope is not None:
        data["scope"] = scope
    return await gateway.query(
        RECORD_APPROVAL, division=division, purpose=purpose, variables={"input": data}, headers=headers, token=token
    )


async def record_notice(
    gateway: Gateway, customer_id: int, sent_at: datetime, *, method: str = "MAIL",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Customer care records an opt-out notice (``recordCpniNotice``)."""
    variables = {"input": {"customerId": str(customer_id), "sentAt": sent_at.isoformat(), "method": method}}
    return await gateway.query(RECORD_NOTICE, division="customer_care", variables=variables, headers=headers)


def ok(response: httpx.Response) -> dict[str, Any]:
    """The ``data`` of a response that has no errors."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def refused(response: httpx.Response, status: int, code: str) -> str:
    """The message of a response refused with one error of ``code`` (no data)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    message: str = body["errors"][0]["message"]
    return message


@dataclass
class Read:
    """One customer read: its data and the categories denied, by top-level field."""

    status: int
    customer: dict[str, Any] | None
    denied: dict[str, str]


async def read(
    gateway: Gateway,
    customer_id: int,
    selection: str,
    *,
    division: str,
    purpose: str,
    campaign: str | None = None,
) -> Read:
    """``customer(id) { selection }`` as ``division`` for ``purpose`` (under ``campaign`` if given)."""
    headers = {"X-Campaign-Id": campaign} if campaign is not None else {}
    response = await gateway.query(
        f"query Read($id: ID!) {{ customer(id: $id) {{ {selection} }} }}",
        division=division,
        purpose=purpose,
        variables={"id": str(customer_id)},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    denied = {}
    for error in body.get("errors", []):
        assert error["extensions"]["code"] == "FORBIDDEN", body
        denied[".".join(str(p) for p in error["path"][1:])] = error["extensions"]["category"]
    return Read(response.status_code, body["data"]["customer"], denied)


async def marketing_read(
    gateway: Gateway,
    pool: asyncpg.Pool,
    customer_id: int,
    selection: str = USAGE,
    *,
    division: str = "long_distance",
    purpose: str = "marketing_cross_category",
    categories: list[str] | None = None,
) -> Read:
    """A marketing read under a fresh approved campaign of the division."""
    campaign = await make_campaign(
        pool, division=division, purpose=purpose, categories=categories or CAMPAIGN_CATEGORIES
    )
    return await read(gateway, customer_id, selection, division=division, purpose=purpose, campaign=campaign)


async def count(pool: asyncpg.Pool, table: str, customer_id: int) -> int:
    """Rows of a consent history (``cpni_approvals`` or ``cpni_notices``) for one customer."""
    assert table in ("cpni_approvals", "cpni_notices")
    value = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE customer_id = $1", customer_id)
    return int(value)
