"""SPEC section 4, other errors: one code per case, no data, nothing leaked."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.databases import create_database, drop_database
from tests.e2e.conftest import Gateway

LEAKS = ("Traceback", "asyncpg", "SELECT", "/work/", ".py", "Did you mean", "psycopg", "postgres")


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code
    for leak in LEAKS:
        assert leak not in response.text


async def test_an_unparsable_document(gateway: Gateway) -> None:
    response = await gateway.query("{ customer(id: ", division="customer_care")
    assert_refused(response, 400, "GRAPHQL_PARSE_FAILED")


async def test_a_document_invalid_against_the_schema_gives_no_suggestions(gateway: Gateway) -> None:
    response = await gateway.query("{ customer(id: 1) { emial } }", division="customer_care")
    assert_refused(response, 400, "GRAPHQL_VALIDATION_FAILED")
    assert "email" not in response.text


def test_documents_deeper_than_the_limit_are_refused() -> None:
    from graphql import parse, specified_rules, validate  # noqa: PLC0415

    from gateway.schema import build_schema, graphql_schema  # noqa: PLC0415
    from gateway.schema.limits import limit_rules  # noqa: PLC0415

    schema = graphql_schema(build_schema())
    rules = [*specified_rules, *limit_rules(max_depth=4, max_aliases=30)]
    ok = parse("{ customer(id: 1) { services { usage { startedAt } } } }")
    deep = parse("{ customers { edges { node { services { usage { startedAt } } } } } }")
    via_fragment = parse("{ customers { ...C } } fragment C on CustomerConnection { edges { node { services { id } } } }")
    assert validate(schema, ok, rules) == []
    for document in (deep, via_fragment):
        errors = validate(schema, document, rules)
        assert [e.extensions for e in errors] == [{"code": "QUERY_TOO_COMPLEX"}]


async def test_more_aliases_than_allowed(gateway: Gateway) -> None:
    query = "{ " + " ".join(f"a{i}: me {{ client }}" for i in range(31)) + " }"
    assert_refused(await gateway.query(query, division="customer_care"), 400, "QUERY_TOO_COMPLEX")
    query = "{ " + " ".join(f"a{i}: me {{ client }}" for i in range(30)) + " }"
    assert (await gateway.query(query, division="customer_care")).status_code == 200


async def test_more_tokens_than_allowed(gateway: Gateway) -> None:
    query = "{ " + "me { client } " * 1300 + "}"
    assert_refused(await gateway.query(query, division="customer_care"), 400, "QUERY_TOO_COMPLEX")


@pytest.mark.parametrize(
    "query",
    [
        "{ customers(first: 101) { edges { cursor } } }",
        "{ customer(id: 1) { invoices(last: 101) { id } } }",
        "{ customer(id: 1) { services { usage(first: 501) { startedAt } } } }",
    ],
)
async def test_page_sizes_over_the_limit(gateway: Gateway, query: str) -> None:
    assert_refused(await gateway.query(query, division="customer_care"), 400, "QUERY_TOO_COMPLEX")


async def test_a_page_size_over_the_limit_in_a_variable(gateway: Gateway) -> None:
    response = await gateway.query(
        "query($n: Int) { customers(first: $n) { edges { cursor } } }", division="customer_care", variables={"n": 1000}
    )
    assert_refused(response, 400, "QUERY_TOO_COMPLEX")


async def test_a_costly_query(gateway: Gateway) -> None:
    query = "{ customers(first: 100) { edges { node { services { usage(first: 500) { startedAt durationSeconds counterparty } } } } } }"
    assert_refused(await gateway.query(query, division="customer_care"), 400, "QUERY_TOO_COMPLEX")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($id: ID!) { customer(id: $id) { id } }", {}),
        ("query($n: Int) { customers(first: $n) { edges { cursor } } }", {"n": "many"}),
        ("query($f: CustomerFilter) { customers(filter: $f) { edges { cursor } } }", {"f": {"segment": "GALACTIC"}}),
    ],
)
async def test_bad_variable_values(gateway: Gateway, query: str, variables: dict[str, object]) -> None:
    assert_refused(await gateway.query(query, division="customer_care", variables=variables), 400, "BAD_USER_INPUT")


async def test_a_bad_cursor(gateway: Gateway) -> None:
    response = await gateway.query('{ customers(after: "bm90LWEtY3Vyc29y") { edges { cursor } } }', division="customer_care")
    assert_refused(response, 400, "BAD_USER_INPUT")


async def test_a_body_over_the_size_limit(gateway: Gateway) -> None:
    token = gateway.token("customer_care")
    response = await gateway.client.post(
        "/graphql",
        content=b'{"query": "' + b" " * (1024 * 1024 + 10) + b'{ me { client } }"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert_refused(response, 413, "PAYLOAD_TOO_LARGE")


async def test_batched_operations_are_refused(gateway: Gateway) -> None:
    token = gateway.token("customer_care")
    response = await gateway.client.post(
        "/graphql", json=[{"query": "{ me { client } }"}] * 2, headers={"Authorization": f"Bearer {token}"}
    )
    assert_refused(response, 400, "BAD_REQUEST")


async def test_graphiql_is_served_to_browsers(gateway: Gateway) -> None:
    response = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_and_readiness(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).status_code == 200
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"policy": "ok", "database": "ok"}}
    metrics = await gateway.client.get("/metrics")
    assert "cpni_gateway_requests_total" in metrics.text


async def test_database_unavailable_is_503_with_no_data(server_url: str, settings: Settings) -> None:
    """Fail closed: with the database gone, no protected data leaves."""
    name, url = await create_database(server_url, "cpni_down")
    admin = await asyncpg.connect(server_url)
    app = create_app(settings, database_url=url)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                gw = Gateway(client, settings)
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
                )
                response = await gw.query("{ customer(id: 1) { name email } }", division="customer_care")
                assert_refused(response, 503, "SERVICE_UNAVAILABLE")
                ready = await client.get("/readyz")
                assert ready.status_code == 503
    finally:
        await admin.close()
        await drop_database(server_url, name)
