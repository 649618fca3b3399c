"""The facts code: one definition in SQL, decoded in Python, equal to the facts of each customer."""

from __future__ import annotations

import asyncpg

from gateway.authz.model import ApprovalStatus, Facts, ServiceCategory
from gateway.authz.space import CEDAR_ATTRIBUTE, every_facts
from gateway.resolvers.database import Database
from gateway.resolvers.facts import decode, encode, facts_by_customer
from tests.factories import make_customer


def test_every_combination_of_facts_survives_its_code() -> None:
    every = list(every_facts(frozenset(CEDAR_ATTRIBUTE)))
    assert len(every) == 2**5 * 2 * 2 * 3 * 2 * 2 * 2
    assert {decode(encode(f)) for f in every} == set(every)
    assert len({encode(f) for f in every}) == len(every)


async def test_the_database_computes_each_customers_facts(pool: asyncpg.Pool) -> None:
    plain = await make_customer(pool, services=("LOCAL",))
    rich = await make_customer(
        pool,
        services=("WIRELESS", "INTERNET"),
        status="TERMINATED",
        segment="BUSINESS",
        approval="OPT_OUT",
        location_approval="OPT_IN",
        notice_days_ago=60,
        listed=False,
    )
    opted_in = await make_customer(pool, services=(), approval="OPT_IN", notice_days_ago=800)
    found = await facts_by_customer(Database(pool), [plain.id, rich.id, opted_in.id, -1])
    assert found == [
        Facts(frozenset({ServiceCategory.LOCAL}), False, False, ApprovalStatus.NONE, False, False, True),
        Facts(
            frozenset({ServiceCategory.WIRELESS, ServiceCategory.INTERNET}),
            True, True, ApprovalStatus.OPT_OUT, True, True, False,
        ),
        Facts(frozenset(), False, False, ApprovalStatus.OPT_IN, False, False, True),
        None,
    ]
