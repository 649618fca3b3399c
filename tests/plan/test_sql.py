"""The answer PostgreSQL builds (gateway.plan.sql) and how Python finishes it (gateway.plan.walk)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
import pytest
from graphql import OperationDefinitionNode, parse

from bench.workload import FULL_PROFILE
from gateway.authz.decide import Authorizer
from gateway.authz.model import ApprovalStatus, Category, Facts, Purpose, Regime, ServiceCategory
from gateway.authz.policy import load_policy
from gateway.config import Settings
from gateway.db import create_pool
from gateway.plan import Planner
from gateway.plan.assemble import path_of
from gateway.plan.compile import Node, NotPlanned
from gateway.plan.sql import MARK, compile_document, iso
from gateway.plan.walk import Built, Outcome, outcomes_of, walk_of
from gateway.resolvers.customers import FactsCondition
from gateway.resolvers.database import Database
from gateway.resolvers.facts import code_condition, encode
from gateway.resolvers.loaders import Loaders
from gateway.schema import build_schema, graphql_schema
from gateway.schema.context import Decisions, Shape
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


def condition_for(
    division: str, purpose: str, campaign: frozenset[Category] | None = None
) -> Callable[[Category, str | None], FactsCondition]:
    found = AUTHORIZER.divisions[division]

    def condition(category: Category, scope: str | None) -> FactsCondition:
        cell = AUTHORIZER.readable_facts(
            found, Purpose(purpose), category, service_category=ServiceCategory(scope) if scope else None,
            campaign_categories=campaign,
        )  # fmt: skip
        mask, codes = code_condition(cell.fields, cell.allowed)
        return FactsCondition(mask, tuple(codes))

    return condition


def statement_for(division: str, purpose: str, query: str) -> str:
    return compile_document(customer_nodes(query), condition_for(division, purpose)).sql(0)


PAGE_NODE = "query($id: ID!) { customer(id: $id) { id name services { id category plan } invoices(last: 1) { id } } }"


EVERY_CUSTOMER = FactsCondition(0, (0,))


def test_a_selection_its_caller_reads_whole_is_built_with_no_guard_and_no_mark() -> None:
    billing = compile_document(
        customer_nodes(PAGE_NODE), condition_for("billing_collections", "billing_collection"), settled=EVERY_CUSTOMER
    )
    assert billing.settles
    sql = billing.sql(0)
    assert "f.facts_code" not in sql and f"'{MARK}'" not in sql and "CASE WHEN" not in sql


def test_a_settled_answer_is_written_final_and_the_others_are_marked_for_the_walk() -> None:
    marketing = condition_for("marketing", "marketing_cross_category")
    nodes = customer_nodes(PAGE_NODE)
    # Settled: each part guarded by the facts code, a denial written null, no item marked.
    final = compile_document(nodes, marketing, settled=EVERY_CUSTOMER)
    assert final.settles
    assert "f.facts_code" in final.sql(0) and "NULL::json" in final.sql(0)
    assert f"'{MARK}'" not in final.sql(0) and "'{}'" not in final.sql(0)
    # Walked: a denial is {} and every item carries its service category.
    marked = compile_document(nodes, marketing)
    assert not marked.settles and f"'{MARK}'" in marked.sql(0) and "'{}'" in marked.sql(0)
    # Some of each: the settled codes choose the form.
    both = compile_document(nodes, marketing, settled=FactsCondition(0b110, (2, 4)))
    assert both.settles
    assert both.sql(0).startswith("CASE WHEN ((f.facts_code & 6) = ANY('{2,4}'::int[])) THEN json_build_object(")
    assert f"'{MARK}'" in both.sql(0) and "NULL::json" in both.sql(0)


def test_the_facts_that_settle_a_page_are_those_whose_decisions_no_service_changes() -> None:
    # A wireless affiliate marketing its own category (total service approach): a
    # customer of wireless alone may see only its wireless services, item by item
    # (walked); one of two categories sees every service, one without wireless none.
    campaign = frozenset({Category.SUBSCRIBER_LIST, Category.SERVICE, Category.BILLING})
    nodes = customer_nodes(PAGE_NODE)
    condition = condition_for("wireless", "marketing_same_category", campaign)
    found = outcomes_of(nodes, AUTHORIZER, AUTHORIZER.divisions["wireless"], Purpose("marketing_same_category"), campaign, condition)
    assert found is not None
    mask, outcomes, settled = found

    def code(*subscribed: ServiceCategory, terminated: bool = False) -> int:
        facts = Facts(frozenset(subscribed), terminated, False, ApprovalStatus.NONE, False, False, True)
        return encode(facts) & mask

    W, L = ServiceCategory.WIRELESS, ServiceCategory.LOCAL
    assert code(W) not in outcomes
    both = outcomes[code(W, L)]
    assert both.denials == ()
    assert both.decisions.disclosed == {Category.SUBSCRIBER_LIST, Category.SERVICE, Category.BILLING}
    assert not both.decisions.denied
    other = outcomes[code(L)]
    assert [key for _, key in other.denials] == ["services", "invoices"]  # in document order
    assert other.decisions.denied == {Category.SERVICE, Category.BILLING}
    terminated = outcomes[code(W, L, terminated=True)]  # no marketing purpose at all (SPEC 6.2)
    assert [key for _, key in terminated.denials] == ["name", "services", "invoices"]
    # PostgreSQL finds the settled customers by the same codes.
    assert settled == FactsCondition(mask, tuple(sorted(outcomes)))


def test_deeper_decisions_settle_when_every_service_is_decided_alike_and_lie_where_the_answer_holds_them() -> None:
    # Customer care decides a usage record's cell site by the location approval alone,
    # the same for every service: each code settles, and the answer PostgreSQL wrote
    # final says where the decisions were made and the denials fall.
    nodes = customer_nodes("query($id: ID!) { customer(id: $id) { id services { id usage { bytes cellSite } } } }")
    care, purpose = AUTHORIZER.divisions["customer_care"], Purpose("customer_care")
    found = outcomes_of(nodes, AUTHORIZER, care, purpose, None, condition_for("customer_care", "customer_care"))
    assert found is not None
    mask, outcomes, settled = found
    assert settled == FactsCondition(0, (0,))  # every customer

    def outcome(location_approved: bool) -> Outcome:
        facts = Facts(frozenset({ServiceCategory.WIRELESS}), False, False, ApprovalStatus.NONE, False, location_approved, True)
        return outcomes[encode(facts) & mask]

    def applied(outcome: Outcome, answer: dict[str, Any]) -> tuple[list[list[str | int]], Shape]:
        run: Any = SimpleNamespace(decisions=Decisions(AUTHORIZER, care, purpose, Loaders(Database(None))), denials=[])
        outcome.apply(run, 7, orjson.dumps(answer).decode(), (None, "customer"))
        ((_, shape),) = run.decisions.shapes()
        return [path_of((link, key)) for link, (_, key) in run.denials], shape

    two = {"id": "7", "services": [{"id": "70", "usage": [{"bytes": 1, "cellSite": None}, {"bytes": 2, "cellSite": None}]},
                                   {"id": "71", "usage": []}]}  # fmt: skip
    errors, shape = applied(outcome(False), two)
    assert errors == [["customer", "services", 0, "usage", i, "cellSite"] for i in (0, 1)]
    assert shape.disclosed == {Category.SERVICE, Category.USAGE} and shape.denied == {Category.LOCATION}
    # Without a service, neither usage nor a cell site was ever decided: neither is recorded.
    errors, shape = applied(outcome(False), {"id": "7", "services": []})
    assert errors == [] and shape.disclosed == {Category.SERVICE} and not shape.denied
    # Usage records without one: the location decision was not made either.
    errors, shape = applied(outcome(False), {"id": "7", "services": [{"id": "71", "usage": []}]})
    assert errors == [] and shape.disclosed == {Category.SERVICE, Category.USAGE} and not shape.denied
    errors, shape = applied(outcome(True), two)
    assert errors == [] and shape.disclosed == {Category.SERVICE, Category.USAGE, Category.LOCATION}


def test_a_selection_some_service_decides_otherwise_deeper_is_walked() -> None:
    # A wireless affiliate may see a wireless service's usage only: usage differs by service.
    campaign = frozenset({Category.SUBSCRIBER_LIST, Category.SERVICE, Category.USAGE})
    nodes = customer_nodes("query($id: ID!) { customer(id: $id) { services { id usage { bytes } } } }")
    condition = condition_for("wireless", "marketing_same_category", campaign)
    found = outcomes_of(nodes, AUTHORIZER, AUTHORIZER.divisions["wireless"], Purpose("marketing_same_category"), campaign, condition)
    assert found is None or found[2] != FactsCondition(0, (0,))  # some customers are walked


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
    async with pool.acquire() as conn:  # a gateway session (gateway.db.create_pool: in UTC)
        for value in values:
            assert orjson.loads(await conn.fetchval(f"SELECT {iso('$1::timestamptz')}", value)) == value.isoformat()
        assert await conn.fetchval(f"SELECT {iso('NULL::timestamptz')}") is None


async def test_a_gateway_session_runs_in_utc_whatever_the_servers_default(database_url: str, settings: Settings) -> None:
    admin = await asyncpg.connect(database_url, server_settings={"TimeZone": "America/Denver"})
    try:
        assert await admin.fetchval("SELECT to_json('2026-03-01 12:00:00+00'::timestamptz)::text") != '"2026-03-01T12:00:00+00:00"'
    finally:
        await admin.close()
    gateway_pool = await create_pool(settings, database_url, min_size=1, max_size=1)
    try:
        assert await gateway_pool.fetchval("SELECT to_json('2026-03-01 12:00:00+00'::timestamptz)::text") == '"2026-03-01T12:00:00+00:00"'
    finally:
        await gateway_pool.close()


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
