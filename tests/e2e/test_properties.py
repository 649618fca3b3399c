"""Property: whatever the query, division and purpose, no denied value ever appears.

hypothesis-graphql writes random valid selections on Customer; every customer
carries a distinct marker string per category (and per service), so a leak
shows up as a marker in the response text, whatever aliases or fragments
the query used. The oracle is the plain reading of SPEC 6.2 in oracle.py.
"""

from __future__ import annotations

import asyncio
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import graphql
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from bench.workload import FULL_PROFILE
from gateway.schema import build_schema
from tests.e2e.conftest import Gateway
from tests.e2e.helpers import approved_campaign
from tests.e2e.oracle import CustomerFacts, allowed
from tests.factories import next_id

REGISTRY = tomllib.loads((Path(__file__).parents[2] / "policies" / "divisions.toml").read_text())["divisions"]
PAIRS = sorted((d, p) for d, entry in REGISTRY.items() for p in entry["purposes"])

PROFILES = [
    # (services, status, approval, notice days ago, location approval)
    (("LOCAL", "WIRELESS"), "ACTIVE", "OPT_IN", None, True),
    (("WIRELESS",), "ACTIVE", None, None, False),
    (("LOCAL",), "ACTIVE", None, 45, False),
    (("LONG_DISTANCE", "INTERNET"), "TERMINATED", "OPT_IN", None, True),
    (("INTERNET",), "ACTIVE", "OPT_OUT", 45, False),
    (("VIDEO", "LOCAL", "WIRELESS"), "ACTIVE", "OPT_IN", None, False),
]


def markers(cid: int, services: tuple[str, ...]) -> dict[tuple[str, str | None], str]:
    """The marker strings stored for one customer, by (category, service category)."""
    found: dict[tuple[str, str | None], str] = {
        ("SUBSCRIBER_LIST", None): f"NAME{cid}Z",
        ("CONTACT", None): f"MAIL{cid}Z",
        ("BILLING", None): f"PERIOD{cid}Z",
        ("CONSENT", None): f"CHANNEL{cid}Z",
    }
    for s in services:
        found[("SERVICE", s)] = f"PLAN{cid}{s}Z"
        found[("CONFIGURATION", s)] = f"EQUIP{cid}{s}Z"
        found[("USAGE", s)] = f"PEER{cid}{s}Z"
        found[("LOCATION", s)] = f"CELL{cid}{s}Z"
    return found


async def make_marked_customer(pool: asyncpg.Pool, profile: tuple) -> tuple[int, CustomerFacts, dict]:  # type: ignore[type-arg]
    services, status, approval, notice_days, location = profile
    cid = next_id()
    mark = markers(cid, services)
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO customers VALUES ($1, $2, 'RESIDENTIAL', $3, $4, $5)",
            cid, f"ACC-{cid}", status, mark[("SUBSCRIBER_LIST", None)], "+1555" + str(cid),
        )
        await conn.execute("INSERT INTO customer_contacts VALUES ($1, $2, $3)", cid, mark[("CONTACT", None)], "+1666" + str(cid))
        await conn.execute("INSERT INTO addresses VALUES ($1, 'BILLING', $2, 'Denver', 'CO', '80202')", cid, mark[("CONTACT", None)])
        await conn.execute("INSERT INTO invoices VALUES ($1, $2, $3, $4, 100, 'USD', 'PAID')", cid, cid, mark[("BILLING", None)], now)
        await conn.execute("INSERT INTO cpni_approvals (customer_id, scope, status, channel, recorded_by) VALUES ($1, 'CPNI', $2, $3, 't')", cid, approval or "NONE", mark[("CONSENT", None)])
        if location:
            await conn.execute("INSERT INTO cpni_approvals (customer_id, scope, status, channel, recorded_by) VALUES ($1, 'LOCATION', 'OPT_IN', $2, 't')", cid, mark[("CONSENT", None)])
        if notice_days is not None:
            await conn.execute("INSERT INTO cpni_notices (customer_id, sent_at, method, recorded_by) VALUES ($1, $2, 'MAIL', 't')", cid, now - timedelta(days=notice_days))
        for n, s in enumerate(services):
            sid = cid * 10 + n
            await conn.execute("INSERT INTO services VALUES ($1, $2, $3, $4, 'ACTIVE', $5)", sid, cid, s, mark[("SERVICE", s)], now)
            await conn.execute("INSERT INTO service_configurations VALUES ($1, $2, '{}', $3, 10, NULL)", sid, cid, mark[("CONFIGURATION", s)])
            await conn.execute(
                "INSERT INTO usage_records VALUES ($1, $2, $3, 60, 'OUTBOUND', $4, 10, $5)",
                cid, sid, now - timedelta(hours=1), mark[("USAGE", s)], mark[("LOCATION", s)],
            )
    facts = CustomerFacts(
        subscribed=frozenset(services),
        terminated=status == "TERMINATED",
        # An explicit NONE record counts as no approval.
        approval=approval or "NONE",
        notice_in_window=notice_days is not None and 30 <= notice_days < 730,
        location_approved=location,
    )
    return cid, facts, mark


def customer_selections() -> st.SearchStrategy[str]:
    """Random valid selections on Customer, wrapped in customer(id: $id)."""
    sdl = build_schema().as_str().replace("customer(id: ID!): Customer", "customer: Customer")
    scalars = {
        "DateTime": st.just("2020-01-01T00:00:00Z").map(nodes.String),
        "BigInt": st.integers(0, 10).map(nodes.Int),
        "JSON": st.just("{}").map(nodes.String),
    }
    return hypothesis_graphql.queries(sdl, fields=["customer"], custom_scalars=scalars, print_ast=lambda d: d)  # type: ignore[return-value]


def with_customer_id(document: graphql.DocumentNode) -> str:
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    fields = []
    for selection in operation.selection_set.selections:
        assert isinstance(selection, graphql.FieldNode)
        argument = graphql.ArgumentNode(
            name=graphql.NameNode(value="id"), value=graphql.VariableNode(name=graphql.NameNode(value="id"))
        )
        fields.append(graphql.FieldNode(alias=selection.alias, name=selection.name, arguments=(argument,), directives=selection.directives, selection_set=selection.selection_set))
    new_operation = graphql.OperationDefinitionNode(
        operation=graphql.OperationType.QUERY,
        variable_definitions=(
            graphql.VariableDefinitionNode(
                variable=graphql.VariableNode(name=graphql.NameNode(value="id")),
                type=graphql.NonNullTypeNode(type=graphql.NamedTypeNode(name=graphql.NameNode(value="ID"))),
            ),
        ),
        selection_set=graphql.SelectionSetNode(selections=tuple(fields)),
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(new_operation, *document.definitions[1:])))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_no_denied_value_ever_appears(gateway: Gateway, pool: asyncpg.Pool) -> None:
    customers = [await make_marked_customer(pool, p) for p in PROFILES]
    campaigns = {
        (d, p): await approved_campaign(pool, d, p)
        for d, p in PAIRS
        if p in {"marketing_same_category", "marketing_cross_category", "marketing_non_comm", "third_party_marketing"}
    }
    checked: list[int] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        document=customer_selections(),
        pair=st.sampled_from(PAIRS),
        which=st.integers(0, len(PROFILES) - 1),
    )
    def check(document: graphql.DocumentNode, pair: tuple[str, str], which: int) -> None:
        division, purpose = pair
        cid, facts, mark = customers[which]
        query = with_customer_id(document)
        headers = {"X-Campaign-Id": campaigns[pair]} if pair in campaigns else {}
        response = asyncio.run_coroutine_threadsafe(
            gateway.query(query, division=division, purpose=purpose, variables={"id": str(cid)}, headers=headers),
            loop,
        ).result()
        assert response.status_code in (200, 400), response.text
        own = REGISTRY[division].get("own_category")
        for (category, service_category), marker in mark.items():
            if not allowed(purpose=purpose, own_category=own, category=category, facts=facts, service_category=service_category):
                assert marker not in response.text, (division, purpose, category, service_category, query)
        checked.append(response.status_code)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(check)
    assert checked.count(200) > 10




def reached_through(category: str, service_category: str | None) -> list[tuple[str, str | None]]:
    """The categories a value's path needs: service data sits under `services`, cell sites under `usage`."""
    path: list[tuple[str, str | None]] = [(category, service_category)]
    if service_category is not None:
        path += [("SERVICE", None), ("SERVICE", service_category)]
    if category == "LOCATION":
        path.append(("USAGE", service_category))
    return path


async def test_every_division_purpose_and_customer_matches_the_oracle(gateway: Gateway, pool: asyncpg.Pool) -> None:
    """Brute force: the full profile of each kind of customer, for every (division, purpose)."""
    customers = [await make_marked_customer(pool, p) for p in PROFILES]
    for division, purpose in PAIRS:
        headers = {}
        if purpose in {"marketing_same_category", "marketing_cross_category", "marketing_non_comm", "third_party_marketing"}:
            headers["X-Campaign-Id"] = await approved_campaign(pool, division, purpose)
        own = REGISTRY[division].get("own_category")
        for cid, facts, mark in customers:
            response = await gateway.query(
                FULL_PROFILE, division=division, purpose=purpose, variables={"id": str(cid)}, headers=headers
            )
            assert response.status_code == 200, response.text
            for (category, service_category), marker in mark.items():
                expected = all(
                    allowed(purpose=purpose, own_category=own, category=c, facts=facts, service_category=sc)
                    for c, sc in reached_through(category, service_category)
                )
                assert (marker in response.text) is expected, (division, purpose, category, service_category, facts)
