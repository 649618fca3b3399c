"""A name or listed number the caller may not read is never read from the database."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Purpose, Regime
from gateway.authz.policy import load_policy
from gateway.resolvers.customers import CustomerQuery, FactsCondition, customer_page, customers_with_facts
from gateway.resolvers.database import Database
from gateway.resolvers.facts import code_condition
from tests.factories import make_customer

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"


def directory_publisher_may_read() -> FactsCondition:
    """The customers whose SUBSCRIBER_LIST the directory publisher may read (published listings only)."""
    bundle = load_policy(POLICY_DIR)
    authorizer = Authorizer(bundle, Regime.OPT_OUT)
    cell = authorizer.readable_facts(
        bundle.divisions["dex_directory"], Purpose.DIRECTORY_PUBLISHING, Category.SUBSCRIBER_LIST
    )
    mask, codes = code_condition(cell.fields, cell.allowed)
    return FactsCondition(mask, tuple(codes))


async def test_a_customer_row_carries_no_subscriber_list_columns_the_caller_may_not_read(pool: asyncpg.Pool) -> None:
    unlisted = await make_customer(pool, listed=False, name="Unlisted Person")
    listed = await make_customer(pool, listed=True, name="Listed Person")
    db = Database(pool)
    rows = await customers_with_facts(db, [unlisted.id, listed.id], directory_publisher_may_read())
    (hidden, _), (shown, _) = [row for row in rows if row is not None]
    assert (hidden.name, hidden.listed_phone) == (None, None)
    assert shown.name == "Listed Person" and shown.listed_phone is not None
    assert hidden.account_number and hidden.segment  # the other columns are read as usual

    # Without a condition (the caller decides per field), every column is read.
    rows = await customers_with_facts(db, [unlisted.id])
    assert rows[0] is not None and rows[0][0].name == "Unlisted Person"


async def test_a_page_of_customers_reads_only_the_names_it_may_show(pool: asyncpg.Pool) -> None:
    unlisted = await make_customer(pool, listed=False, name="Unlisted Paged")
    listed = await make_customer(pool, listed=True, name="Listed Paged")
    query = CustomerQuery(after_id=unlisted.id - 1, limit=2, subscriber_list=directory_publisher_may_read())
    found = {row.id: row for row, _ in await customer_page(Database(pool), query)}
    assert found[unlisted.id].name is None
    assert found[listed.id].name == "Listed Paged"
