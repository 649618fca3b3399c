"""Bad input is 400 `BAD_USER_INPUT` (or the SPEC's code for a limit), never a 5xx, never partial data.

NUL characters anywhere, dates PostgreSQL or Python cannot hold, invalid
months, negative or over-limit page sizes. An invalid argument refuses the
whole operation however many objects it touched.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Gateway
from tests.factories import make_customer
from tests.security.leaks import assert_refused

CARE = "customer_care"


@pytest.fixture
async def customer(pool: asyncpg.Pool) -> int:
    return (await make_customer(pool, services=("LOCAL", "WIRELESS"))).id


# -- NUL characters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($p: String) { customers(filter: {namePrefix: $p}) { edges { cursor } } }", {"p": "Ab\u0000"}),
        ("query($id: ID!) { customer(id: $id) { id } }", {"id": "1\u0000"}),
        ("query($phone: String!) { customerByPhone(phone: $phone) { id } }", {"phone": "+1303\u00005550000"}),
        ("query($f: CustomerFilter) { customers(filter: $f) { edges { cursor } } }", {"f": {"state": "C\u0000"}}),
        ("query($m: String) { customer(id: 1) { services { usageSummary(month: $m) { calls } } } }",
         {"m": "2026-01\u0000"}),
        ("query($x: String) { me { client } }", {"x": "unused \u0000 variable"}),
        ("query { me { client } }", {"key\u0000": "a NUL in a variable's name"}),
    ],
    ids=["filter", "id", "phone", "input-object", "month", "unused-variable", "variable-name"],
)
async def test_a_nul_in_a_variable_is_bad_input(
    gateway: Gateway, customer: int, query: str, variables: dict[str, Any]
) -> None:
    assert_refused(await gateway.query(query, division=CARE, variables=variables), 400, "BAD_USER_INPUT")


@pytest.mark.parametrize(
    "query",
    [
        '{ customers(filter: {namePrefix: "Ab\\u0000"}) { edges { cursor } } }',
        '{ customerByPhone(phone: "\\u0000") { id } }',
        '{ customer(id: "1\\u0000") { id } }',
        '{ customer(id: 1) { services { usageSummary(month: """2026-01\u0000""") { calls } } } }',
        "{ me { client } } # a raw NUL in a comment \u0000",
    ],
    ids=["escaped-in-filter", "escaped-phone", "escaped-id", "block-string", "raw-in-comment"],
)
async def test_a_nul_in_the_document_is_bad_input(gateway: Gateway, query: str) -> None:
    assert_refused(await gateway.query(query, division=CARE), 400, "BAD_USER_INPUT")


async def test_a_nul_in_a_mutation_input_is_bad_input_and_writes_nothing(
    gateway: Gateway, pool: asyncpg.Pool, customer: int
) -> None:
    before = await pool.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", customer)
    response = await gateway.query(
        "mutation($in: CpniApprovalInput!) { recordCpniApproval(input: $in) { status } }",
        division=CARE,
        variables={"in": {"customerId": str(customer), "status": "OPT_IN", "channel": "PHONE\u0000"}},
    )
    assert_refused(response, 400, "BAD_USER_INPUT")
    assert await pool.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", customer) == before


@pytest.mark.parametrize("header", ["X-Purpose", "X-Campaign-Id", "Idempotency-Key", "X-Authz-Mode"])
async def test_a_nul_in_a_header_is_bad_input(gateway: Gateway, header: str) -> None:
    value = {"X-Purpose": "customer_care\u0000"}.get(header, "abc\u0000def")
    response = await gateway.query("{ me { client } }", division=CARE, headers={header: value})
    assert_refused(response, 400, "BAD_USER_INPUT")


# -- dates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T25:00:00Z",
        "2026-01-01T00:00:00+25:00",
        "not a date",
        "",
    ],
)
async def test_an_out_of_range_or_invalid_date_is_bad_input(gateway: Gateway, customer: int, moment: str) -> None:
    query = "query($id: ID!, $t: DateTime) { customer(id: $id) { services { usage(from: $t) { startedAt } } } }"
    response = await gateway.query(query, division=CARE, variables={"id": str(customer), "t": moment})
    assert_refused(response, 400, "BAD_USER_INPUT")
    literal = f'{{ customer(id: {customer}) {{ services {{ usage(to: "{moment}") {{ startedAt }} }} }} }}'
    response = await gateway.query(literal, division=CARE)
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] in (
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",  # a literal is checked against the scalar while validating
    ), response.text
    assert "data" not in response.json()


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_out_of_range_dates_in_filters_and_mutations_are_bad_input(gateway: Gateway, moment: str) -> None:
    response = await gateway.query(
        "query($t: DateTime) { auditEvents(filter: {since: $t}) { edges { cursor } } }",
        division="privacy_office",
        variables={"t": moment},
    )
    assert_refused(response, 400, "BAD_USER_INPUT")
    response = await gateway.query(
        "mutation($in: CpniNoticeInput!) { recordCpniNotice(input: $in) { id } }",
        division=CARE,
        variables={"in": {"customerId": "1", "sentAt": moment, "method": "MAIL"}},
    )
    assert_refused(response, 400, "BAD_USER_INPUT")


async def test_a_date_in_range_is_accepted(gateway: Gateway, customer: int) -> None:
    query = "query($id: ID!, $t: DateTime) { customer(id: $id) { services { usage(from: $t) { startedAt } } } }"
    for moment in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.123456-07:00"):
        response = await gateway.query(query, division=CARE, variables={"id": str(customer), "t": moment})
        assert response.status_code == 200, response.text


# -- months -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "0000-01", "2026-1", "26-01", "abcd-ef", "2026-01-01", "", "2026/01"])
async def test_an_invalid_month_is_bad_input(gateway: Gateway, customer: int, month: str) -> None:
    query = "query($id: ID!, $m: String) { customer(id: $id) { services { usageSummary(month: $m) { calls } } } }"
    response = await gateway.query(query, division=CARE, variables={"id": str(customer), "m": month})
    assert_refused(response, 400, "BAD_USER_INPUT")


async def test_a_valid_month_is_accepted(gateway: Gateway, customer: int) -> None:
    query = "query($id: ID!) { customer(id: $id) { services { usageSummary(month: \"2026-01\") { calls } } } }"
    response = await gateway.query(query, division=CARE, variables={"id": str(customer)})
    assert response.status_code == 200, response.text


# -- page sizes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "{ customers(first: -1) { edges { cursor } } }",
        "{ customer(id: 1) { services { usage(first: -1) { startedAt } } } }",
        "{ customer(id: 1) { invoices(last: -1) { id } } }",
        "query($n: Int) { customers(first: $n) { edges { cursor } } }",
        "query($n: Int = -5) { customers(first: $n) { edges { cursor } } }",
    ],
    ids=["customers", "usage", "invoices", "variable", "default"],
)
async def test_a_negative_page_size_is_bad_input(gateway: Gateway, query: str) -> None:
    variables = {"n": -1.0} if "$n: Int)" in query else None
    assert_refused(await gateway.query(query, division=CARE, variables=variables), 400, "BAD_USER_INPUT")


async def test_a_negative_audit_page_is_bad_input(gateway: Gateway) -> None:
    response = await gateway.query("{ auditEvents(first: -1) { edges { cursor } } }", division="privacy_office")
    assert_refused(response, 400, "BAD_USER_INPUT")


@pytest.mark.parametrize(
    "query",
    [
        "{ customers(first: 101) { edges { cursor } } }",
        "{ customer(id: 1) { services { usage(first: 501) { startedAt } } } }",
        "{ customer(id: 1) { invoices(last: 101) { id } } }",
        "{ customers(first: 2147483647) { edges { cursor } } }",
    ],
    ids=["customers", "usage", "invoices", "int-max"],
)
async def test_an_over_limit_page_size_is_400_query_too_complex(gateway: Gateway, query: str) -> None:
    assert_refused(await gateway.query(query, division=CARE), 400, "QUERY_TOO_COMPLEX")


async def test_a_page_size_beyond_int_is_bad_input(gateway: Gateway) -> None:
    response = await gateway.query("{ customers(first: 99999999999) { edges { cursor } } }", division=CARE)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")


# -- an invalid argument refuses the whole operation ---------------------------------------------------


async def test_an_invalid_argument_on_many_objects_refuses_the_whole_operation(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = [await make_customer(pool, services=("LOCAL", "WIRELESS", "INTERNET")) for _ in range(3)]
    selection = 'services { id usageSummary(month: "2026-13") { calls } }'
    query = "{ " + " ".join(f"c{m.id}: customer(id: {m.id}) {{ name {selection} }}" for m in made) + " }"
    response = await gateway.query(query, division=CARE)
    assert_refused(response, 400, "BAD_USER_INPUT")
    assert len(response.json()["errors"]) == 1
    for m in made:
        assert f"Test Customer {m.id}" not in response.text


async def test_one_invalid_argument_among_valid_fields_refuses_the_whole_operation(
    gateway: Gateway, customer: int
) -> None:
    query = (
        f'{{ a: customer(id: {customer}) {{ name email }} '
        f'b: customer(id: {customer}) {{ services {{ usageSummary(month: "2026-99") {{ calls }} }} }} }}'
    )
    response = await gateway.query(query, division=CARE)
    assert_refused(response, 400, "BAD_USER_INPUT")
    assert f"Test Customer {customer}" not in response.text
