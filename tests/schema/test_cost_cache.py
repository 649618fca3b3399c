"""The cost check is computed once per document and shape of its variables, and still refuses."""

from __future__ import annotations

import hashlib

import pytest
from graphql import OperationDefinitionNode, parse

from gateway.schema import build_schema, graphql_schema
from gateway.schema.errors import BadUserInputError, QueryTooComplexError
from gateway.schema.limits import CostCheck, coerce_variables

SCHEMA = graphql_schema(build_schema())
QUERY = "query($n: Int, $id: ID!) { customer(id: $id) { services { usage(first: $n) { startedAt } } } }"


def check(cost: CostCheck, variables: dict[str, object]) -> None:
    document = parse(QUERY)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerced = coerce_variables(SCHEMA, operation, variables).coerced
    cost(hashlib.sha256(QUERY.encode()).digest(), document, operation, coerced)


def test_a_page_size_over_its_limit_is_refused_every_time_even_after_a_good_one() -> None:
    cost = CostCheck(SCHEMA, max_cost=100_000, max_page_size=100, max_usage_page=500)
    check(cost, {"n": 50, "id": "1"})
    check(cost, {"n": 50, "id": "2"})  # another id: the same shape, the cached verdict
    for _ in range(2):
        with pytest.raises(QueryTooComplexError):
            check(cost, {"n": 501, "id": "1"})
    with pytest.raises(BadUserInputError):
        check(cost, {"n": -1, "id": "3"})
    check(cost, {"n": 500, "id": "3"})


def test_a_cost_over_the_limit_is_refused_from_the_cache_too() -> None:
    cost = CostCheck(SCHEMA, max_cost=10, max_page_size=100, max_usage_page=500)
    for customer in ("1", "2"):
        with pytest.raises(QueryTooComplexError) as refused:
            check(cost, {"n": 50, "id": customer})
        assert (refused.value.extensions or {}).get("code") == "QUERY_TOO_COMPLEX"
