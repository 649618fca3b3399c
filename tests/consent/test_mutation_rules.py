"""Who may record consent, and which inputs are refused (each naming the field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.consent.calls import RECORD_APPROVAL, count, record_approval, record_notice, refused
from tests.e2e.conftest import Gateway
from tests.factories import make_customer

NOT_CARE = [
    ("marketing", "marketing_cross_category"),
    ("long_distance", "marketing_same_category"),
    ("billing_collections", "billing_collection"),
    ("fraud_security", "fraud_protection"),
    ("privacy_office", "compliance_audit"),
]


@pytest.mark.parametrize(("division", "purpose"), NOT_CARE)
async def test_only_customer_care_records_approvals_and_notices(
    gateway: Gateway, pool: asyncpg.Pool, division: str, purpose: str
) -> None:
    made = await make_customer(pool)
    response = await record_approval(gateway, made.id, "OPT_IN", division=division, purpose=purpose)
    message = refused(response, 200, "FORBIDDEN")
    assert message == "Not authorized for this operation"  # no reason, no policy id
    notice = await gateway.query(
        "mutation($i: CpniNoticeInput!) { recordCpniNotice(input: $i) { id } }",
        division=division,
        purpose=purpose,
        variables={"i": {"customerId": str(made.id), "sentAt": datetime.now(UTC).isoformat(), "method": "MAIL"}},
    )
    refused(notice, 200, "FORBIDDEN")
    assert await count(pool, "cpni_approvals", made.id) == 0
    assert await count(pool, "cpni_notices", made.id) == 0


@pytest.mark.parametrize(
    ("customer_id", "channel", "named"),
    [
        ("999999999999", "PHONE", "`input.customerId` names no customer"),
        ("not-a-number", "PHONE", "`input.customerId` names no customer"),
        ("-5", "PHONE", "`input.customerId` names no customer"),
        (None, "   ", "`input.channel` must be 1 to 64 characters"),
        (None, "x" * 65, "`input.channel` must be 1 to 64 characters"),
    ],
)
async def test_bad_approval_input_is_refused_naming_the_field(
    gateway: Gateway, pool: asyncpg.Pool, customer_id: str | None, channel: str, named: str
) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        RECORD_APPROVAL,
        division="customer_care",
        variables={"input": {"customerId": customer_id or str(made.id), "status": "OPT_IN", "channel": channel}},
    )
    assert refused(response, 400, "BAD_USER_INPUT") == named
    assert await count(pool, "cpni_approvals", made.id) == 0


async def test_an_unknown_status_is_bad_input(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    refused(await record_approval(gateway, made.id, "MAYBE"), 400, "BAD_USER_INPUT")


@pytest.mark.parametrize(
    ("sent_at", "named"),
    [
        ((datetime.now(UTC) + timedelta(days=1)).isoformat(), "`input.sentAt` must not be in the future"),
        ("2026-01-05T10:00:00", "`input.sentAt` needs a time zone offset, e.g. 2026-03-01T09:00:00Z"),
    ],
)
async def test_bad_notice_input_is_refused_naming_the_field(
    gateway: Gateway, pool: asyncpg.Pool, sent_at: str, named: str
) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        "mutation($i: CpniNoticeInput!) { recordCpniNotice(input: $i) { id } }",
        division="customer_care",
        variables={"i": {"customerId": str(made.id), "sentAt": sent_at, "method": "MAIL"}},
    )
    assert refused(response, 400, "BAD_USER_INPUT") == named
    assert await count(pool, "cpni_notices", made.id) == 0


async def test_a_notice_with_an_offset_is_kept_as_that_instant(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    await record_notice(gateway, made.id, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    response = await gateway.query(
        "mutation($i: CpniNoticeInput!) { recordCpniNotice(input: $i) { sentAt } }",
        division="customer_care",
        variables={"i": {"customerId": str(made.id), "sentAt": "2025-01-01T22:04:05-05:00", "method": "EMAIL"}},
    )
    assert response.json()["data"]["recordCpniNotice"]["sentAt"] == "2025-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    "document",
    [
        """mutation($a: CpniApprovalInput!, $b: CpniApprovalInput!) {
             first: recordCpniApproval(input: $a) { status } second: recordCpniApproval(input: $b) { status } }""",
        """mutation($a: CpniApprovalInput!, $b: CpniApprovalInput!) {
             ...A ... on Mutation { second: recordCpniApproval(input: $b) { status } } }
           fragment A on Mutation { first: recordCpniApproval(input: $a) { status } }""",
    ],
    ids=["aliases", "fragments"],
)
async def test_one_mutation_per_request(gateway: Gateway, pool: asyncpg.Pool, document: str) -> None:
    made = await make_customer(pool)
    approval = {"customerId": str(made.id), "status": "OPT_IN", "channel": "PHONE"}
    response = await gateway.query(
        document, division="customer_care", variables={"a": approval, "b": {**approval, "status": "OPT_OUT"}}
    )
    assert refused(response, 400, "BAD_USER_INPUT") == "Send one mutation per request"
    assert await count(pool, "cpni_approvals", made.id) == 0


async def test_typename_beside_a_mutation_is_fine(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        "mutation($a: CpniApprovalInput!) { __typename recordCpniApproval(input: $a) { status } }",
        division="customer_care",
        variables={"a": {"customerId": str(made.id), "status": "OPT_IN", "channel": "PHONE"}},
    )
    assert response.json() == {"data": {"__typename": "Mutation", "recordCpniApproval": {"status": "OPT_IN"}}}


async def test_a_recorded_approval_is_in_the_audit_trail(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    await record_approval(gateway, made.id, "OPT_OUT")
    rows = await pool.fetch(
        "SELECT division, operation_name, disclosed FROM audit_events WHERE customer_id = $1", made.id
    )
    assert [(r["division"], r["operation_name"], r["disclosed"]) for r in rows] == [
        ("customer_care", "Record", ["CONSENT"])
    ]
