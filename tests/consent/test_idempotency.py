"""An Idempotency-Key makes a mutation safe to retry: the first result comes back, one write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.consent.calls import (
    APPROVE_CAMPAIGN,
    CREATE_CAMPAIGN,
    count,
    ok,
    record_approval,
    record_notice,
    refused,
    token_for,
)
from tests.e2e.conftest import Gateway
from tests.factories import make_customer


async def test_a_retried_approval_writes_once_and_answers_the_same(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    key = {"Idempotency-Key": f"approval-{made.id}"}
    answers = [ok(await record_approval(gateway, made.id, "OPT_OUT", headers=key)) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert await count(pool, "cpni_approvals", made.id) == 1
    # Another key is another request.
    ok(await record_approval(gateway, made.id, "OPT_OUT", headers={"Idempotency-Key": f"other-{made.id}"}))
    assert await count(pool, "cpni_approvals", made.id) == 2


async def test_a_retry_may_select_other_fields_of_the_first_result(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    key = {"Idempotency-Key": f"fields-{made.id}"}
    first = ok(await record_approval(gateway, made.id, "OPT_IN", channel="WEB", headers=key))
    retry = await gateway.query(
        "mutation($i: CpniApprovalInput!) { recordCpniApproval(input: $i) { channel recordedAt } }",
        division="customer_care",
        variables={"i": {"customerId": str(made.id), "status": "OPT_IN", "channel": "WEB"}},
        headers=key,
    )
    assert ok(retry)["recordCpniApproval"] == {
        "channel": "WEB",
        "recordedAt": first["recordCpniApproval"]["recordedAt"],
    }
    assert await count(pool, "cpni_approvals", made.id) == 1


async def test_a_key_reused_for_another_request_is_bad_input(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    key = {"Idempotency-Key": f"reused-{made.id}"}
    ok(await record_approval(gateway, made.id, "OPT_OUT", headers=key))
    message = refused(await record_approval(gateway, made.id, "OPT_IN", headers=key), 400, "BAD_USER_INPUT")
    assert message == "`Idempotency-Key` was already used for a different request"
    # The same key on another mutation is another request too.
    notice = await record_notice(gateway, made.id, datetime.now(UTC), headers=key)
    refused(notice, 400, "BAD_USER_INPUT")
    assert await count(pool, "cpni_approvals", made.id) == 1
    assert await count(pool, "cpni_notices", made.id) == 0


async def test_keys_belong_to_one_client(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    key = {"Idempotency-Key": f"shared-{made.id}"}
    for client in ("care-desk-1", "care-desk-2"):
        token = token_for(gateway, "customer_care", client)
        ok(await record_approval(gateway, made.id, "OPT_IN", headers=key, token=token))
    assert await count(pool, "cpni_approvals", made.id) == 2


async def test_concurrent_retries_write_once(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    key = {"Idempotency-Key": f"burst-{made.id}"}
    responses = await asyncio.gather(
        *(record_approval(gateway, made.id, "OPT_IN", headers=key) for _ in range(10))
    )
    answers = [ok(r) for r in responses]
    assert all(a == answers[0] for a in answers)
    assert await count(pool, "cpni_approvals", made.id) == 1


async def test_a_retried_notice_writes_once(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    sent = datetime.now(UTC) - timedelta(days=3)
    key = {"Idempotency-Key": f"notice-{made.id}"}
    first = ok(await record_notice(gateway, made.id, sent, headers=key))
    assert ok(await record_notice(gateway, made.id, sent, headers=key)) == first
    assert await count(pool, "cpni_notices", made.id) == 1


async def test_a_retried_campaign_is_created_once(gateway: Gateway, pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    data = {
        "name": "Retried campaign",
        "description": "Created once however often the request is sent.",
        "purpose": "MARKETING_SAME_CATEGORY",
        "categories": ["CONTACT"],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(days=7)).isoformat(),
    }
    key = {"Idempotency-Key": f"campaign-{now.timestamp()}"}
    sends = [
        await gateway.query(
            CREATE_CAMPAIGN, division="wireless", purpose="marketing_same_category",
            variables={"input": data}, headers=key,
        )
        for _ in range(2)
    ]
    first, second = (ok(r)["createCampaign"] for r in sends)
    assert first == second
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE name = 'Retried campaign'") == 1

    approvals = [
        await gateway.query(
            APPROVE_CAMPAIGN, division="privacy_office", variables={"id": first["id"]}, headers=key
        )
        for _ in range(2)
    ]
    assert ok(approvals[0]) == ok(approvals[1])
    assert ok(approvals[0])["approveCampaign"]["status"] == "APPROVED"


@pytest.mark.parametrize("key", ["", "   ", "k" * 201, "tab\there"])
async def test_a_malformed_key_is_bad_input(gateway: Gateway, pool: asyncpg.Pool, key: str) -> None:
    made = await make_customer(pool)
    response = await record_approval(gateway, made.id, "OPT_IN", headers={"Idempotency-Key": key})
    assert refused(response, 400, "BAD_USER_INPUT").startswith("`Idempotency-Key` must be")
    assert await count(pool, "cpni_approvals", made.id) == 0
