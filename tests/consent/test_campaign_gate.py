"""Marketing purposes run under an approved, current campaign of the division (SPEC 4, 6.3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from gateway.authz.model import Category, Purpose
from gateway.authz.policy import load_policy
from tests.consent.calls import USAGE, read, record_approval, refused
from tests.e2e.conftest import Gateway
from tests.factories import make_campaign, make_customer

NOW = datetime.now(UTC)
# (division, purpose) of every marketing purpose a division of the registry may declare.
MARKETING = sorted(
    (division.id, purpose.value)
    for division in load_policy().divisions.values()
    for purpose in division.purposes
    if purpose.is_marketing
)


async def _opted_in(gateway: Gateway, pool: asyncpg.Pool) -> int:
    made = await make_customer(pool, services=("LOCAL", "LONG_DISTANCE"))
    await record_approval(gateway, made.id, "OPT_IN")
    return made.id


async def _query(
    gateway: Gateway, customer_id: int, headers: dict[str, str], *, division: str, purpose: str
) -> httpx.Response:
    return await gateway.query(
        f"query($id: ID!) {{ customer(id: $id) {{ id {USAGE} }} }}",
        division=division,
        purpose=purpose,
        variables={"id": str(customer_id)},
        headers=headers,
    )


CAMPAIGNS_NOT_USABLE = {
    "pending": {"status": "PENDING"},
    "expired": {"starts_at": NOW - timedelta(days=60), "ends_at": NOW - timedelta(seconds=1)},
    "not started": {"starts_at": NOW + timedelta(days=1), "ends_at": NOW + timedelta(days=30)},
    "other division": {"division": "marketing"},
    "other purpose": {"purpose": "marketing_same_category"},
}


@pytest.mark.parametrize("case", sorted(CAMPAIGNS_NOT_USABLE))
async def test_a_campaign_that_is_not_approved_current_and_ours_is_refused(
    gateway: Gateway, pool: asyncpg.Pool, case: str
) -> None:
    customer_id = await _opted_in(gateway, pool)
    options = {"division": "long_distance", "purpose": "marketing_cross_category", **CAMPAIGNS_NOT_USABLE[case]}
    campaign = await make_campaign(pool, categories=["SERVICE", "USAGE"], **options)  # type: ignore[arg-type]
    response = await _query(
        gateway, customer_id, {"X-Campaign-Id": campaign}, division="long_distance", purpose="marketing_cross_category"
    )
    message = refused(response, 403, "CAMPAIGN_REQUIRED")
    # One message for every case: it does not say which check failed.
    assert message == (
        "This purpose needs X-Campaign-Id naming a current, approved campaign of your division for this purpose"
    )


@pytest.mark.parametrize("header", [None, "", "   ", "no-such-campaign", "x" * 500, "' OR 1=1 --"])
async def test_a_missing_or_unknown_campaign_id_is_refused(
    gateway: Gateway, pool: asyncpg.Pool, header: str | None
) -> None:
    customer_id = await _opted_in(gateway, pool)
    headers = {} if header is None else {"X-Campaign-Id": header}
    response = await _query(gateway, customer_id, headers, division="marketing", purpose="marketing_cross_category")
    refused(response, 403, "CAMPAIGN_REQUIRED")


@pytest.mark.parametrize(("division", "purpose"), MARKETING)
async def test_case_12_marketing_without_an_approved_campaign_is_refused(
    gateway: Gateway, pool: asyncpg.Pool, division: str, purpose: str
) -> None:
    customer_id = await _opted_in(gateway, pool)
    refused(await _query(gateway, customer_id, {}, division=division, purpose=purpose), 403, "CAMPAIGN_REQUIRED")
    pending = await make_campaign(pool, division=division, purpose=purpose, categories=["USAGE"], status="PENDING")
    response = await _query(gateway, customer_id, {"X-Campaign-Id": pending}, division=division, purpose=purpose)
    refused(response, 403, "CAMPAIGN_REQUIRED")
    approved = await make_campaign(pool, division=division, purpose=purpose, categories=["USAGE"])
    response = await _query(gateway, customer_id, {"X-Campaign-Id": approved}, division=division, purpose=purpose)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["id"] == str(customer_id)


async def test_the_campaign_categories_bound_what_a_request_reads(gateway: Gateway, pool: asyncpg.Pool) -> None:
    customer_id = await _opted_in(gateway, pool)
    campaign = await make_campaign(
        pool, division="long_distance", purpose="marketing_cross_category", categories=["SERVICE", "USAGE"]
    )
    result = await read(
        gateway, customer_id, f"id name email invoices {{ period }} {USAGE}",
        division="long_distance", purpose="marketing_cross_category", campaign=campaign,
    )
    # The customer opted in: only the campaign's record limits the read.
    assert result.denied == {"name": "SUBSCRIBER_LIST", "email": "CONTACT", "invoices": "BILLING"}
    assert result.customer is not None
    assert [s["usage"][0]["durationSeconds"] for s in result.customer["services"]] == [120, 120]


async def test_other_purposes_ignore_the_header(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await _query(
        gateway, made.id, {"X-Campaign-Id": "no-such-campaign"}, division="customer_care", purpose="customer_care"
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


async def test_audit_events_carry_the_campaign(gateway: Gateway, pool: asyncpg.Pool) -> None:
    customer_id = await _opted_in(gateway, pool)
    campaign = await make_campaign(
        pool, division="long_distance", purpose="marketing_cross_category", categories=["SERVICE", "USAGE"]
    )
    await read(
        gateway, customer_id, USAGE, division="long_distance", purpose="marketing_cross_category", campaign=campaign
    )
    rows = await pool.fetch(
        "SELECT campaign_id FROM audit_events WHERE customer_id = $1 AND purpose = 'marketing_cross_category'",
        customer_id,
    )
    assert [r["campaign_id"] for r in rows] == [campaign]


# One request in each of the ways a request runs: planned with its customers'
# statement, planned with none (a customer not found, `me`), on the reference path.
SHAPES: dict[str, tuple[str, bool]] = {
    "a customer by id": ("query($id: ID!) { customer(id: $id) { id services { category } } }", True),
    "a page": ("{ customers(first: 5) { edges { node { id services { category } } } } }", False),
    "nobody by id": ("query($id: ID!) { customer(id: $id) { id } }", True),
    "me": ("{ me { division purpose } }", False),
    "the reference path": ('query($id: ID!) { customer(id: $id) { id } __type(name: "Customer") { name } }', True),
}


async def _under_campaign(
    gateway: Gateway, pool: asyncpg.Pool, shape: str
) -> tuple[str, Callable[[], Awaitable[httpx.Response]]]:
    customer_id = await _opted_in(gateway, pool)
    campaign = await make_campaign(
        pool, division="long_distance", purpose="marketing_cross_category", categories=["SERVICE"]
    )
    query, by_id = SHAPES[shape]
    variables = {"id": str(-1 if shape == "nobody by id" else customer_id)} if by_id else None

    async def send() -> httpx.Response:
        return await gateway.query(
            query, division="long_distance", purpose="marketing_cross_category",
            headers={"X-Campaign-Id": campaign}, variables=variables,
        )  # fmt: skip

    return campaign, send


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_a_campaign_that_ends_refuses_the_very_next_request_however_it_runs(
    gateway: Gateway, pool: asyncpg.Pool, shape: str
) -> None:
    campaign, send = await _under_campaign(gateway, pool, shape)
    first = await send()
    assert first.status_code == 200, first.text
    assert (await send()).status_code == 200  # the gateway now knows the campaign
    await pool.execute("UPDATE campaigns SET ends_at = now() WHERE id = $1", campaign)
    after = await send()
    refused(after, 403, "CAMPAIGN_REQUIRED")
    # Nothing of the run under the ended campaign was disclosed, or recorded as if it had been.
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE request_id = $1", after.headers["X-Request-Id"]) == 0


async def test_a_known_campaign_is_confirmed_by_the_statement_that_reads_the_customers(
    gateway: Gateway, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert gateway.app is not None
    gate = gateway.app.state.runtime.endpoint.campaigns
    reads: list[str] = []
    read_campaign = gate._read

    async def recording(key: tuple[str, str, Purpose]) -> frozenset[Category] | None:
        reads.append(key[0])
        return await read_campaign(key)

    monkeypatch.setattr(gate, "_read", recording)
    campaign, by_id = await _under_campaign(gateway, pool, "a customer by id")
    for _ in range(3):
        assert (await by_id()).status_code == 200
    assert reads == [campaign]  # read once; then confirmed with the customer, in the same statement
    _, nobody = await _under_campaign(gateway, pool, "nobody by id")
    reads.clear()
    assert (await nobody()).status_code == 200
    assert (await nobody()).status_code == 200
    # Unknown to the gateway at first: read. Then known, but no statement found a customer to confirm it with: read.
    assert len(reads) == 2
