"""What the planner covers, and what its cache keeps."""

from __future__ import annotations

import pytest
from graphql import OperationDefinitionNode, parse

from bench.workload import FULL_PROFILE
from gateway.plan import PLAN_CACHE_BYTES, Planner
from gateway.schema import build_schema, graphql_schema

SCHEMA = graphql_schema(build_schema())


def planned(planner: Planner, query: str, variables: dict[str, object] | None = None) -> bool:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return planner.plan(query, document, operation, variables or {}) is not None


@pytest.mark.parametrize(
    "query",
    [
        FULL_PROFILE,
        "{ me { client division purpose purposes } }",
        "{ customers(first: 5, filter: {segment: BUSINESS}) { edges { cursor node { id name } } pageInfo { hasNextPage } } }",
        '{ customerByPhone(phone: "+1") { id __typename } }',
        "query { a: customer(id: 1) { ...F } } fragment F on Customer { id services { id ... on Service { plan } } }",
        "{ customer(id: 1) { lastKnownLocation { serviceId serviceCategory cellSite seenAt } } }",
    ],
)
def test_the_traffic_of_divisions_is_planned(query: str) -> None:
    assert planned(Planner(SCHEMA), query, {"id": "1"})


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { name } } }",
        '{ customer(id: 1) { id __type(name: "Customer") { name } } }',
        "{ auditEvents { edges { cursor } } }",
        '{ explainAccess(division: "x", purpose: EMERGENCY, customerId: "1", field: "Customer.name") { allowed } }',
        'mutation { approveCampaign(id: "x") { id } }',
    ],
)
def test_everything_else_runs_on_the_reference_path(query: str) -> None:
    assert not planned(Planner(SCHEMA), query)


def test_bad_variables_go_to_the_reference_path_which_reports_them() -> None:
    query = "query($id: ID!) { customer(id: $id) { id } }"
    assert not planned(Planner(SCHEMA), query, {})
    assert not planned(Planner(SCHEMA), query, {"id": {"not": "an id"}})


def test_include_and_skip_are_resolved_per_value_of_their_variables() -> None:
    planner = Planner(SCHEMA)
    query = "query($on: Boolean!) { customer(id: 1) { id name @include(if: $on) email @skip(if: $on) } }"
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    on = planner.plan(query, document, operation, {"on": True})
    off = planner.plan(query, document, operation, {"on": False})
    assert on is not None and off is not None
    assert [n.key for n in on.roots[0].children or ()] == ["id", "name"]
    assert [n.key for n in off.roots[0].children or ()] == ["id", "email"]


def test_the_cache_is_bounded_by_the_text_it_holds_not_by_its_count() -> None:
    planner = Planner(SCHEMA)
    comment = "#" + "x" * (1024 * 1024) + "\n"
    query = "{ customer(id: 1) { id } }"
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    for n in range(80):  # 80 MB of distinct texts (the comment is all the lexer would keep of them)
        assert planner.plan(f"{comment}#{n}\n{query}", document, operation, {}) is not None
    assert planner._cache.bytes <= PLAN_CACHE_BYTES
    assert len(planner._cache) <= PLAN_CACHE_BYTES // (1024 * 1024)
