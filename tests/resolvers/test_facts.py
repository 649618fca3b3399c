"""The facts code: one definition in SQL, decoded in Python, equal to the facts of each customer."""

from __future__ import annotations

import asyncpg

from gateway.authz.model import ApprovalStatus, Facts, ServiceCategory
from gateway.authz.space import CEDAR_ATTRIBUTE, every_facts
from gateway.resolvers.database import Database
from gateway.resolvers.facts import (
    ALL_FACTS,
    FACTS_CODE_SQL,
    FIELD_MASKS,
    codes_under,
    decode,
    encode,
    facts_by_customer,
    facts_code_sql,
    facts_lateral_sql,
)
from tests.factories import make_customer


def test_every_combination_of_facts_survives_its_code() -> None:
    every = list(every_facts(frozenset(CEDAR_ATTRIBUTE)))
    assert len(every) == 2**5 * 2 * 2 * 3 * 2 * 2 * 2
    assert {decode(encode(f)) for f in every} == set(every)
    assert len({encode(f) for f in every}) == len(every)


def test_the_codes_over_some_bits_are_every_combination_of_those_facts_and_nothing_else() -> None:
    every = {encode(f) for f in every_facts(frozenset(CEDAR_ATTRIBUTE))}
    assert codes_under(ALL_FACTS) == sorted(every)
    mask = FIELD_MASKS["terminated"] | FIELD_MASKS["cpni_approval"] | FIELD_MASKS["notice_in_window"]
    codes = codes_under(mask)
    assert len(codes) == 2 * 3 * 2 and codes == sorted(set(codes))
    assert {code & mask for code in every} == set(codes)
    assert codes_under(0) == [0]


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


async def test_a_masked_facts_code_is_the_full_code_with_only_those_bits(pool: asyncpg.Pool) -> None:
    made = [
        await make_customer(pool, services=("LOCAL",)),
        await make_customer(
            pool, services=("WIRELESS", "INTERNET"), status="TERMINATED", segment="BUSINESS",
            approval="OPT_OUT", location_approval="OPT_IN", notice_days_ago=60, listed=False,
        ),
        await make_customer(pool, services=(), approval="OPT_IN", notice_days_ago=800),
    ]  # fmt: skip
    ids = [m.id for m in made]
    masks = [0, ALL_FACTS, *FIELD_MASKS.values(), FIELD_MASKS["cpni_approval"] | FIELD_MASKS["notice_in_window"]]

    async def codes(mask: int) -> list[int]:
        rows = await pool.fetch(
            f"SELECT f.facts_code FROM customers c {facts_lateral_sql(mask)}"
            " WHERE c.id = ANY($1::bigint[]) ORDER BY c.id",
            ids,
        )
        return [r["facts_code"] for r in rows]

    full = await codes(ALL_FACTS)
    assert full == [encode(f) for f in await facts_by_customer(Database(pool), ids) if f is not None]
    for mask in masks:
        assert await codes(mask) == [code & mask for code in full], mask


def test_a_facts_code_reads_only_the_tables_its_bits_come_from() -> None:
    assert facts_code_sql(0) == "0"
    cheap = facts_code_sql(FIELD_MASKS["terminated"] | FIELD_MASKS["business"] | FIELD_MASKS["listing_published"])
    assert not any(table in cheap for table in ("services", "cpni_approvals", "cpni_notices"))
    consent = facts_code_sql(FIELD_MASKS["cpni_approval"] | FIELD_MASKS["notice_in_window"])
    assert "cpni_approvals" in consent and "cpni_notices" in consent and "services" not in consent
    assert facts_code_sql() == FACTS_CODE_SQL
