"""The answer PostgreSQL builds (gateway.plan.sql) and how Python finishes it (gateway.plan.walk)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from graphql import OperationDefinitionNode, parse

from bench.workload import FULL_PROFILE
from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Purpose, Regime, ServiceCategory
from gateway.authz.policy import load_policy
from gateway.plan import Planner
from gateway.plan.assemble import path_of
from gateway.plan.compile import Node, NotPlanned
from gateway.plan.sql import MARK, NotCompiled, compile_constant, compile_document, iso
from gateway.plan.walk import Built, walk_of
from gateway.resolvers.customers import FactsCondition
from gateway.resolvers.facts import code_condition
from gateway.schema import build_schema, graphql_schema
from tests.e2e.conftest import Gateway
from tests.factories import make_customer

SCHEMA = graphql_schema(build_schema())
AUTHORIZER = Authorizer(load_policy(), Regime.OPT_OUT)


def customer_nodes(query: str) -> tuple[Node, ...]:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    (root,) = Planner(SCHEMA).compiler.compile(document, operation, {"id": "1"})
    assert root.children is not None
    return root.children


def condition_for(division: str, purpose: str) -> Callable[[Category, str | None], FactsCondition]:
    found = AUTHORIZER.divisions[division]

    def condition(category: Category, scope: str | None) -> FactsCondition:
        cell = AUTHORIZER.readable_facts(
            found, Purpose(purpose), category, service_category=ServiceCategory(scope) if scope else None
        )
        mask, codes = code_condition(cell.fields, cell.allowed)
        return FactsCondition(mask, tuple(codes))

    return condition


def statement_for(division: str, purpose: str, query: str) -> str:
    return compile_document(customer_nodes(query), condition_for(division, purpose)).sql(0)


PAGE_NODE = "query($id: ID!) { customer(id: $id) { id name services { id category plan } invoices(last: 1) { id } } }"


def test_a_selection_its_caller_reads_whole_is_built_with_no_guard_and_no_mark() -> None:
    constant = compile_constant(customer_nodes(PAGE_NODE), condition_for("billing_collections", "billing_collection"))
    assert constant.constant
    sql = constant.sql(0)
    assert "f.facts_code" not in sql and f"'{MARK}'" not in sql and "CASE WHEN" not in sql
    # The same selection for a caller whose decisions depend on the facts is guarded: not constant.
    marketing = condition_for("marketing", "marketing_cross_category")
    with pytest.raises(NotCompiled):
        compile_constant(customer_nodes(PAGE_NODE), marketing)
    guarded = compile_document(customer_nodes(PAGE_NODE), marketing).sql(0)
    assert "f.facts_code" in guarded and f"'{MARK}'" in guarded


def test_a_part_the_caller_may_never_read_is_not_in_the_statement() -> None:
    query = "query($id: ID!) { customer(id: $id) { email invoices { id } paymentMethod { last4 } } }"
    denied = statement_for("dex_directory", "directory_publishing", query)
    allowed = statement_for("customer_care", "customer_care", query)
    for table in ("customer_contacts", "invoices", "payment_methods"):
        assert f"FROM {table}" in allowed
        assert f"FROM {table}" not in denied


def test_the_full_profile_is_one_expression_with_every_kind() -> None:
    sql = statement_for("customer_care", "customer_care", FULL_PROFILE)
    for table in ("addresses", "services", "service_configurations", "usage_records", "balances", "cpni_notices"):
        assert f"FROM {table}" in sql


async def test_timestamps_are_written_as_python_writes_them(pool: asyncpg.Pool) -> None:
    base = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    values = [base, base.replace(microsecond=1), base.replace(microsecond=500000), base + timedelta(days=300, seconds=59),
              datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]  # fmt: skip
    async with pool.acquire() as conn:
        for value in values:
            assert await conn.fetchval(f"SELECT {iso('$1::timestamptz')}", value) == value.isoformat()
        assert await conn.fetchval(f"SELECT {iso('NULL::timestamptz')}") is None


async def test_an_int_beyond_32_bits_is_answered_as_the_reference_answers_it(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",), usage_per_service=0)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        service_id = await conn.fetchval("SELECT id FROM services WHERE customer_id = $1", made.id)
        await conn.executemany(
            "INSERT INTO usage_records (customer_id, service_id, started_at, duration_seconds, direction, bytes)"
            " VALUES ($1, $2, $3, 2147483647, 'OUTBOUND', 0)",
            [(made.id, service_id, now.replace(day=1, hour=0, minute=n // 60, second=n % 60)) for n in range(120)],
        )
    query = "query($id: ID!) { customer(id: $id) { id services { usageSummary { calls minutes } } } }"
    response = await gateway.query(query, division="customer_care", purpose="customer_care", variables={"id": str(made.id)})
    body = response.json()
    assert body["data"] == {"customer": {"id": str(made.id), "services": [{"usageSummary": None}]}}
    assert [e["path"] for e in body["errors"]] == [["customer", "services", 0, "usageSummary", "minutes"]]
    assert "32-bit" in body["errors"][0]["message"]


class Run:
    """What a walk asks of an execution: the decisions, and where denials go."""

    def __init__(self, allowed: dict[tuple[Category, str | None], bool]) -> None:
        self.decided = allowed
        self.asked: list[tuple[Category, str | None]] = []
        self.denials: list[Any] = []

    def allowed(self, customer_id: int, category: Category, scope: str | None) -> bool:
        self.asked.append((category, scope))
        return self.decided[(category, scope)]


SERVICES = "query($id: ID!) { customer(id: $id) { id services { id configuration { equipment } } } }"


def finish(text: str, decided: dict[tuple[Category, str | None], bool]) -> tuple[dict[str, Any], Run]:
    run = Run(decided)
    walk = walk_of("Customer", customer_nodes(SERVICES))
    return Built(7, orjson.loads(text), walk).finish(run, (None, "customer")), run  # type: ignore[arg-type]


def test_items_the_caller_may_not_see_are_left_out_and_each_decision_is_asked_where_reached() -> None:
    text = '{"id": "7", "services": [{"#": "LOCAL", "id": "1", "configuration": {}}, {"#": "VIDEO"}]}'
    decided = {(Category.SERVICE, None): True, (Category.SERVICE, "LOCAL"): True,
               (Category.SERVICE, "VIDEO"): False, (Category.CONFIGURATION, "LOCAL"): False}  # fmt: skip
    out, run = finish(text, decided)
    assert out == {"id": "7", "services": [{"id": "1", "configuration": None}]}
    assert run.asked == [(Category.SERVICE, None), (Category.SERVICE, "LOCAL"), (Category.SERVICE, "VIDEO"),
                         (Category.CONFIGURATION, "LOCAL")]  # fmt: skip
    assert len(run.denials) == 1


@pytest.mark.parametrize(
    "text",
    [
        # PostgreSQL left a part the authorizer denies: never answered
        '{"id": "7", "services": [{"#": "LOCAL", "id": "1", "configuration": {"equipment": "x"}}]}',
        '{"id": "7", "services": [{"#": "VIDEO", "id": "2", "configuration": {}}]}',
        # PostgreSQL withheld a part the authorizer allows
        '{"id": "7", "services": {}}',
    ],
    ids=["denied-field-present", "denied-item-present", "allowed-part-withheld"],
)
def test_where_postgresql_and_the_authorizer_disagree_the_reference_path_answers(text: str) -> None:
    decided = {(Category.SERVICE, None): True, (Category.SERVICE, "LOCAL"): True,
               (Category.SERVICE, "VIDEO"): False, (Category.CONFIGURATION, "LOCAL"): False}  # fmt: skip
    with pytest.raises(NotPlanned):
        finish(text, decided)


USAGE = "query($id: ID!) { customer(id: $id) { services { usage { durationSeconds cellSite } } } }"
USAGE_DECIDED = {(Category.SERVICE, None): True, (Category.SERVICE, "WIRELESS"): True,
                 (Category.USAGE, "WIRELESS"): True, (Category.LOCATION, "WIRELESS"): False}  # fmt: skip


def finish_usage(text: str) -> tuple[dict[str, Any], Run]:
    run = Run(USAGE_DECIDED)
    walk = walk_of("Customer", customer_nodes(USAGE))
    return Built(7, orjson.loads(text), walk).finish(run, (None, "customer")), run  # type: ignore[arg-type]


def test_a_list_of_records_is_decided_once_and_each_denied_leaf_is_one_denial_in_document_order() -> None:
    text = '{"services": [{"#": "WIRELESS", "usage": [{"durationSeconds": 60, "cellSite": {}}, {"durationSeconds": 5, "cellSite": {}}]}]}'
    out, run = finish_usage(text)
    assert out == {"services": [{"usage": [{"durationSeconds": 60, "cellSite": None}, {"durationSeconds": 5, "cellSite": None}]}]}
    assert run.asked == [(Category.SERVICE, None), (Category.SERVICE, "WIRELESS"), (Category.USAGE, "WIRELESS"),
                         (Category.LOCATION, "WIRELESS")]  # fmt: skip
    paths = [path_of((link, key)) for link, (_, key) in run.denials]
    assert paths == [["customer", "services", 0, "usage", 0, "cellSite"], ["customer", "services", 0, "usage", 1, "cellSite"]]


def test_an_empty_list_of_records_asks_nothing_for_its_items() -> None:
    out, run = finish_usage('{"services": [{"#": "WIRELESS", "usage": []}]}')
    assert out == {"services": [{"usage": []}]}
    assert (Category.LOCATION, "WIRELESS") not in run.asked


def test_a_record_whose_denied_leaf_postgresql_left_is_never_answered() -> None:
    text = '{"services": [{"#": "WIRELESS", "usage": [{"durationSeconds": 60, "cellSite": {}}, {"durationSeconds": 5, "cellSite": "CELL-1"}]}]}'
    with pytest.raises(NotPlanned):
        finish_usage(text)
