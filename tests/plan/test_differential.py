"""The planned path answers exactly as the reference path (graphql-core), audit included.

Two gateways on the same database: the shipped one (planner on) and the
reference (`planner=False`). Every request goes to both; the responses must
be equal (status, data, errors, their order) up to the cursor bytes (random
nonces), and so must the audit events each request wrote. Documents come
from hypothesis-graphql over the real schema, in several forms (plain, in a
fragment spread twice under aliases, behind `@include`/`@skip` with a
variable), for every (division, purpose) and customer profile; hand-written
documents cover pages, phone lookups and `me`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import graphql
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.workload import FULL_PROFILE
from bench.workload import PAGE as PAGE_OF_THE_BENCHMARK
from gateway.config import Settings
from tests.e2e.conftest import Gateway, _started
from tests.e2e.helpers import approved_campaign
from tests.e2e.test_properties import PAIRS, PROFILES, customer_selections, make_marked_customer, with_customer_id
from tests.factories import make_customer

MARKETING = {"marketing_same_category", "marketing_cross_category", "marketing_non_comm", "third_party_marketing"}
CURSORS = frozenset({"cursor", "endCursor"})
EXAMPLES = 150


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def reference(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """The same gateway with the planner off: every answer comes from graphql-core."""
    async for gw in _started(replace(settings, planner=False), database_url):
        yield gw


def planner_counts(gw: Gateway) -> dict[str, int]:
    assert gw.app is not None
    planner = gw.app.state.runtime.endpoint.planner
    assert planner is not None
    counts: dict[str, int] = planner.counts
    return counts


async def events(pool: asyncpg.Pool, request_id: str) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT customer_id, customer_ids, disclosed, denied, policy_ids, operation_name, purpose, campaign_id"
        " FROM audit_events WHERE request_id = $1"
        " ORDER BY coalesce(customer_id, customer_ids[1]) NULLS LAST, cardinality(customer_ids) NULLS FIRST",
        request_id,
    )
    return [tuple(r) for r in rows]


def _in_order(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """A JSON object as its members in order (equal only in the same order), a cursor as its length
    (its bytes are a random nonce). Whitespace between tokens is no part of the answer."""
    return [(k, f"<{len(v)}>" if k in CURSORS and isinstance(v, str) else v) for k, v in pairs]


async def both(
    planned: Gateway, reference: Gateway, pool: asyncpg.Pool, query: str, **kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    answers = []
    for gw in (planned, reference):
        response = await gw.query(query, **kwargs)
        answers.append(
            {
                "status": response.status_code,
                "body": json.loads(response.text, object_pairs_hook=_in_order),
                "audit": await events(pool, response.headers["X-Request-Id"]),
            }
        )
    return answers[0], answers[1]


def fragment_form(query: str) -> str:
    """The operation's customer selection moved into a fragment, spread twice (once under an alias)."""
    document = graphql.parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    (root,) = operation.selection_set.selections
    assert isinstance(root, graphql.FieldNode) and root.selection_set is not None
    body = graphql.print_ast(root.selection_set)
    head = query.split("{", 1)[0]
    extra = "\n".join(graphql.print_ast(d) for d in document.definitions[1:])
    return (
        f"{head}{{ customer(id: $id) {{ ...Picked }} again: customer(id: $id) {{ id ...Picked }} }}\n"
        f"fragment Picked on Customer {body}\n{extra}"
    )


def directive_form(query: str, include: bool) -> str:
    """Every field of the customer behind `@include(if: $on)`/`@skip(if: $on)` alternately."""
    document = graphql.parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    (root,) = operation.selection_set.selections
    assert isinstance(root, graphql.FieldNode) and root.selection_set is not None
    parts = []
    for index, selection in enumerate(root.selection_set.selections):
        directive = "include" if index % 2 == 0 else "skip"
        parts.append(f"{graphql.print_ast(selection)} @{directive}(if: $on)" if isinstance(selection, graphql.FieldNode) else graphql.print_ast(selection))
    extra = "\n".join(graphql.print_ast(d) for d in document.definitions[1:])
    return f"query($id: ID!, $on: Boolean!) {{ customer(id: $id) {{ id {' '.join(parts)} }} }}\n{extra}"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_generated_documents_answer_alike_on_both_paths(
    gateway: Gateway, reference: Gateway, pool: asyncpg.Pool
) -> None:
    customers = [await make_marked_customer(pool, p) for p in PROFILES]
    campaigns = {(d, p): await approved_campaign(pool, d, p) for d, p in PAIRS if p in MARKETING}
    compared: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        document=customer_selections(),
        pair=st.sampled_from(PAIRS),
        which=st.integers(0, len(PROFILES) - 1),
        form=st.sampled_from(["plain", "fragment", "include", "skip"]),
    )
    def check(document: graphql.DocumentNode, pair: tuple[str, str], which: int, form: str) -> None:
        division, purpose = pair
        cid = customers[which][0]
        query = with_customer_id(document)
        variables: dict[str, Any] = {"id": str(cid)}
        if form == "fragment":
            query = fragment_form(query)
        elif form in ("include", "skip"):
            query = directive_form(query, form == "include")
            variables["on"] = form == "include"
        headers = {"X-Campaign-Id": campaigns[pair]} if pair in campaigns else {}
        planned, expected = asyncio.run_coroutine_threadsafe(
            both(gateway, reference, pool, query, division=division, purpose=purpose, variables=variables, headers=headers),
            loop,
        ).result()
        assert planned == expected, query
        compared.append(planned["status"])

    counts = planner_counts(gateway)
    before = dict(counts)
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(check)
    assert len(compared) == EXAMPLES
    assert compared.count(200) > EXAMPLES // 2
    # The comparison means something only if the planner answered most of them.
    reached = counts["planned"] + counts["reference"] - before["planned"] - before["reference"]
    planned = counts["planned"] - before["planned"] - (counts["fallback"] - before["fallback"])
    assert reached > EXAMPLES // 2 and planned >= reached * 0.9, counts


PAGE = """
query($after: String, $f: CustomerFilter, $first: Int) {
  me { client division purpose purposes __typename }
  customers(first: $first, after: $after, filter: $f) {
    edges { cursor node { id name services { category plan usage(first: 2) { cellSite counterparty } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
PAGE_NODE = "id accountNumber segment status name services { id category plan status } invoices(last: 1) { id period }"
BY_PHONE = "query($p: String!) { customerByPhone(phone: $p) { id name email listedPhone invoices(last: 1) { period } } }"


async def test_pages_phone_lookups_and_profiles_answer_alike_for_every_division_and_purpose(
    gateway: Gateway, reference: Gateway, pool: asyncpg.Pool
) -> None:
    made = [await make_marked_customer(pool, p) for p in PROFILES]
    counts = planner_counts(gateway)
    before = dict(counts)
    for division, purpose in PAIRS:
        headers = {"X-Campaign-Id": await approved_campaign(pool, division, purpose)} if purpose in MARKETING else {}
        call = {"division": division, "purpose": purpose, "headers": headers}
        for f in ({"status": "ACTIVE"}, {"namePrefix": "NAME"}, {"serviceCategory": "WIRELESS"}, None):
            planned, expected = await both(gateway, reference, pool, PAGE, variables={"f": f, "first": 3}, **call)
            assert planned == expected, (division, purpose, f)
        for cid, _, mark in made:
            planned, expected = await both(gateway, reference, pool, FULL_PROFILE, variables={"id": str(cid)}, **call)
            assert planned == expected, (division, purpose, cid)
        for phone in (f"+1555{made[0][0]}", f"+1666{made[1][0]}", "+10000000000"):
            planned, expected = await both(gateway, reference, pool, BY_PHONE, variables={"p": phone}, **call)
            assert planned == expected, (division, purpose, phone)
    total = len(PAIRS) * (4 + len(made) + 3)
    assert counts["planned"] - before["planned"] == total
    # Only refusals (a filter on a category never readable) fall back to the reference.
    assert counts["fallback"] - before["fallback"] <= total // 10


async def test_the_second_page_answers_alike_with_a_cursor_from_either_path(
    gateway: Gateway, reference: Gateway, pool: asyncpg.Pool
) -> None:
    for _ in range(4):
        await make_marked_customer(pool, PROFILES[0])
    query = "query($a: String) { customers(first: 2, after: $a) { edges { node { id } } pageInfo { endCursor } } }"
    first = (await gateway.query(query, division="customer_care", variables={"a": None})).json()
    cursor = first["data"]["customers"]["pageInfo"]["endCursor"]
    planned, expected = await both(gateway, reference, pool, query, division="customer_care", variables={"a": cursor})
    assert planned == expected


async def test_a_page_billing_may_read_whole_answers_alike_even_where_a_value_looks_like_a_denial(
    gateway: Gateway, reference: Gateway, pool: asyncpg.Pool
) -> None:
    # Billing reads all of the benchmark's page whatever the facts: PostgreSQL's
    # answer goes out as written. A value that looks like a denial ("{}") must not
    # pass as one, nor break the answer.
    prefix = f"Splice {uuid.uuid4().hex[:8]}"
    odd = await make_customer(pool, services=("WIRELESS", "LOCAL"), name=f"{prefix} odd")
    await pool.execute("UPDATE services SET plan = '{}' WHERE customer_id = $1 AND category = 'LOCAL'", odd.id)
    for n in range(3):
        await make_customer(pool, services=("INTERNET",), name=f"{prefix} {n}")
    counts = planner_counts(gateway)
    before = dict(counts)
    call = {"division": "billing_collections", "purpose": "billing_collection"}
    planned, expected = await both(gateway, reference, pool, PAGE_OF_THE_BENCHMARK, variables={"after": None}, **call)
    assert planned == expected
    page = (
        f"query($p: String) {{ customers(first: 10, filter: {{namePrefix: $p}}) {{ edges {{ node {{ {PAGE_NODE} }} }} }} }}"
    )
    planned, expected = await both(gateway, reference, pool, page, variables={"p": prefix}, **call)
    assert planned == expected
    by_id = f"query($id: ID!) {{ customer(id: $id) {{ {PAGE_NODE} }} }}"
    planned, expected = await both(gateway, reference, pool, by_id, variables={"id": str(odd.id)}, **call)
    assert planned == expected
    answer = (await gateway.query(by_id, variables={"id": str(odd.id)}, **call)).json()
    assert [s["plan"] for s in answer["data"]["customer"]["services"]].count("{}") == 1
    assert counts["planned"] - before["planned"] == 4
    # Written final, a denial is null, not {}: the look-alike is data like any other,
    # and nothing falls back to the reference path.
    assert counts["fallback"] == before["fallback"]


SETTLED_PAGE = """
query($after: String) {
  customers(first: 50, after: $after) {
    __typename
    edges { __typename n: node { id name services { id category } invoices(last: 1) { id period } } cursor }
    again: pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_a_settled_page_with_denials_answers_alike_however_its_edges_are_laid_out(
    gateway: Gateway, reference: Gateway, pool: asyncpg.Pool
) -> None:
    # Marketing under a campaign decides per customer at the Customer's own fields: every
    # customer is settled, some with their services and invoices denied (the benchmark's Q3),
    # and the edges are assembled at once, whatever their keys and order.
    made = {str(cid) for cid, *_ in [await make_marked_customer(pool, p) for p in PROFILES]}
    headers = {"X-Campaign-Id": await approved_campaign(pool, "marketing", "marketing_cross_category")}
    call = {"division": "marketing", "purpose": "marketing_cross_category", "headers": headers}
    counts = planner_counts(gateway)
    before = dict(counts)
    after, seen = None, set()
    while made - seen:  # to the pages of the customers made here
        planned, expected = await both(gateway, reference, pool, SETTLED_PAGE, variables={"after": after}, **call)
        assert planned == expected
        lean = SETTLED_PAGE.replace("__typename n: node", "n: node").replace(" cursor }", " }")
        planned_lean, expected_lean = await both(gateway, reference, pool, lean, variables={"after": after}, **call)
        assert planned_lean == expected_lean
        answer = (await gateway.query(SETTLED_PAGE, variables={"after": after}, **call)).json()
        page = answer["data"]["customers"]
        seen |= {edge["n"]["id"] for edge in page["edges"]}
        if made <= seen:
            assert any(e["extensions"]["code"] == "FORBIDDEN" for e in answer["errors"])  # some are denied
        assert page["again"]["hasNextPage"] or made <= seen
        after = page["again"]["endCursor"]
    assert counts["fallback"] == before["fallback"]


async def test_each_usage_record_of_each_service_gets_its_own_cell_site_error_in_document_order(
    gateway: Gateway, reference: Gateway, pool: asyncpg.Pool
) -> None:
    # Customer care without the customer's location approval: every cell site is denied,
    # one FORBIDDEN per usage record, service after service, as the reference orders them.
    cid = (await make_customer(pool, services=("WIRELESS", "LOCAL", "LONG_DISTANCE"), usage_per_service=3)).id
    query = "query($id: ID!) { customer(id: $id) { services { id usage { startedAt cellSite } } name } }"
    counts = planner_counts(gateway)
    before = counts["planned"]
    planned, expected = await both(
        gateway, reference, pool, query, division="customer_care", purpose="customer_care", variables={"id": str(cid)}
    )
    assert planned == expected
    assert counts["planned"] == before + 1
    errors = [dict(e) for e in planned["body"][1][1]]
    assert [e["path"] for e in errors] == [
        ["customer", "services", s, "usage", u, "cellSite"] for s in range(3) for u in range(3)
    ]
    assert {dict(e["extensions"])["code"] for e in errors} == {"FORBIDDEN"}
