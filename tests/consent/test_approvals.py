"""Approvals and notices recorded through the gateway decide the very next request (SPEC 6.2, 6.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.consent.calls import USAGE, marketing_read, ok, read, record_approval, record_notice
from tests.e2e.conftest import Gateway
from tests.factories import make_customer

CROSS_CATEGORY = [("long_distance", "marketing_cross_category"), ("marketing", "marketing_cross_category")]


@pytest.mark.parametrize(("division", "purpose"), CROSS_CATEGORY)
async def test_opt_out_then_opt_in_decide_the_next_marketing_request(
    gateway: Gateway, pool: asyncpg.Pool, division: str, purpose: str
) -> None:
    # Deemed approval: notified 45 days ago, no objection yet.
    made = await make_customer(pool, services=("LOCAL",), notice_days_ago=45)
    before = await marketing_read(gateway, pool, made.id, division=division, purpose=purpose)
    assert before.denied == {}
    assert before.customer is not None and before.customer["services"][0]["usage"][0]["durationSeconds"] == 120

    ok(await record_approval(gateway, made.id, "OPT_OUT"))
    opted_out = await marketing_read(gateway, pool, made.id, division=division, purpose=purpose)
    assert opted_out.customer == {"services": None}
    assert opted_out.denied == {"services": "SERVICE"}

    ok(await record_approval(gateway, made.id, "OPT_IN"))
    opted_in = await marketing_read(gateway, pool, made.id, division=division, purpose=purpose)
    assert opted_in.denied == {}
    assert opted_in.customer is not None and opted_in.customer["services"][0]["usage"][0]["durationSeconds"] == 120


async def test_case_8_approval_revoked_between_two_requests(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    ok(await record_approval(gateway, made.id, "OPT_IN"))
    first = await marketing_read(gateway, pool, made.id, "email " + USAGE)
    assert first.denied == {}
    ok(await record_approval(gateway, made.id, "OPT_OUT", channel="WEB"))
    second = await marketing_read(gateway, pool, made.id, "email " + USAGE)
    assert second.customer == {"email": None, "services": None}
    assert second.denied == {"email": "CONTACT", "services": "SERVICE"}


async def test_a_change_applies_to_the_next_request_on_every_worker(
    gateway: Gateway, other_worker: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    # Both workers have decided for this customer before: nothing they remember may survive.
    for worker in (gateway, other_worker):
        assert (await marketing_read(worker, pool, made.id)).denied == {"services": "SERVICE"}
    ok(await record_approval(gateway, made.id, "OPT_IN"))
    for worker in (other_worker, gateway):
        assert (await marketing_read(worker, pool, made.id)).denied == {}
    ok(await record_approval(other_worker, made.id, "OPT_OUT"))
    for worker in (gateway, other_worker):
        assert (await marketing_read(worker, pool, made.id)).denied == {"services": "SERVICE"}


# An emailed notice's 30 days run from sentAt; a mailed one's from the 3rd
# day after mailing (SPEC 6.1, 64.2008(d)(1)).
@pytest.mark.parametrize(
    ("method", "age", "allowed"),
    [
        ("EMAIL", timedelta(days=29), False),
        ("EMAIL", timedelta(days=30, minutes=1), True),
        ("MAIL", timedelta(days=30, minutes=1), False),
        ("MAIL", timedelta(days=32, minutes=1), False),
        ("MAIL", timedelta(days=33, minutes=1), True),
    ],
)
async def test_a_notice_starts_the_30_day_wait(
    gateway: Gateway, pool: asyncpg.Pool, method: str, age: timedelta, allowed: bool
) -> None:
    made = await make_customer(pool, services=("LOCAL",))  # no approval record at all
    ok(await record_notice(gateway, made.id, datetime.now(UTC) - age, method=method))
    result = await marketing_read(gateway, pool, made.id)
    assert result.denied == ({} if allowed else {"services": "SERVICE"})


async def test_under_the_opt_in_regime_only_an_opt_in_opens_marketing(
    gateway: Gateway, opt_in_gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    ok(await record_notice(gateway, made.id, datetime.now(UTC) - timedelta(days=45)))
    # The same notice that is deemed approval under the FCC rules ...
    assert (await marketing_read(gateway, pool, made.id)).denied == {}
    # ... is not enough under the attorneys general's position.
    assert (await marketing_read(opt_in_gateway, pool, made.id)).denied == {"services": "SERVICE"}
    ok(await record_approval(opt_in_gateway, made.id, "OPT_IN"))
    assert (await marketing_read(opt_in_gateway, pool, made.id)).denied == {}
    ok(await record_approval(opt_in_gateway, made.id, "NONE"))
    assert (await marketing_read(opt_in_gateway, pool, made.id)).denied == {"services": "SERVICE"}


async def test_express_location_approval_is_an_approval_of_scope_location(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool, services=("WIRELESS",))
    selection = "services { usage(first: 1) { durationSeconds cellSite } }"
    kwargs = {"division": "wireless", "purpose": "marketing_same_category"}
    before = await marketing_read(gateway, pool, made.id, selection, **kwargs)
    assert before.denied == {"services.0.usage.0.cellSite": "LOCATION"}

    answer = ok(await record_approval(gateway, made.id, "OPT_IN", scope="LOCATION", channel="APP"))
    assert answer["recordCpniApproval"]["scope"] == "LOCATION"
    after = await marketing_read(gateway, pool, made.id, selection, **kwargs)
    assert after.denied == {}
    assert after.customer is not None and after.customer["services"][0]["usage"][0]["cellSite"] == "CELL-42"

    care = await read(
        gateway, made.id, "cpniApproval { status } locationApproval { status scope channel }",
        division="customer_care", purpose="customer_care",
    )
    # A location approval says nothing about CPNI approval.
    assert care.customer == {
        "cpniApproval": None,
        "locationApproval": {"status": "OPT_IN", "scope": "LOCATION", "channel": "APP"},
    }


async def test_the_answer_is_the_record_and_the_latest_wins(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    first = ok(await record_approval(gateway, made.id, "OPT_OUT", channel="  MAIL "))["recordCpniApproval"]
    assert first["status"] == "OPT_OUT" and first["scope"] == "CPNI" and first["channel"] == "MAIL"
    second = ok(await record_approval(gateway, made.id, "OPT_IN", channel="PHONE"))["recordCpniApproval"]
    assert datetime.fromisoformat(second["recordedAt"]) > datetime.fromisoformat(first["recordedAt"])
    sent = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
    notice = ok(await record_notice(gateway, made.id, sent, method="EMAIL"))["recordCpniNotice"]
    assert datetime.fromisoformat(notice["sentAt"]) == sent and notice["method"] == "EMAIL"

    care = await read(
        gateway, made.id, "cpniApproval { status channel recordedAt } cpniNotices { id sentAt method }",
        division="customer_care", purpose="customer_care",
    )
    assert care.customer == {
        "cpniApproval": {"status": "OPT_IN", "channel": "PHONE", "recordedAt": second["recordedAt"]},
        "cpniNotices": [notice],
    }
    rows = await pool.fetch(
        "SELECT status, recorded_by FROM cpni_approvals WHERE customer_id = $1 ORDER BY id", made.id
    )
    # Append-only: both records kept, each naming the client that recorded it.
    assert [(r["status"], r["recorded_by"]) for r in rows] == [
        ("OPT_OUT", "customer_care-client"),
        ("OPT_IN", "customer_care-client"),
    ]
    notices = await pool.fetch("SELECT recorded_by FROM cpni_notices WHERE customer_id = $1", made.id)
    assert [r["recorded_by"] for r in notices] == ["customer_care-client"]
