"""Audit integrity (issue 9; SPEC 6.4): the attacks on the trail itself.

- No committed change without its record: a mutation's write and its audit
  event commit in one transaction; when the audit store fails, the write is
  rolled back and the answer is 503 with no data (never a 503 after a write
  that stayed).
- A request refused for bad input still records the denials it decided.
- Every route and root field that discloses customer data is audited; the
  others are listed here with the reason they need no record.
- The event id is covered by the hash chain: `audit verify` names a changed id.
- Least privilege: the gateway serves requests as a login that is no
  superuser and owns nothing, so it cannot switch the audit triggers off.

Tests that break the database run on a throwaway database of their own
(tests/databases.py) with a gateway of their own, logged in as the gateway
role, as the embedded demo and production run it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from gateway.app import Runtime, create_app
from gateway.audit.chain import EventContent
from gateway.audit.writer import APPEND_SIGNATURE, AuditWriter
from gateway.config import Limits, Settings
from gateway.db import GATEWAY_LOGIN_ROLE, gateway_login_url, load_migrations, migrate
from tests.audit.conftest import Cli
from tests.audit.test_verify import tamper
from tests.consent.calls import RECORD_APPROVAL, RECORD_NOTICE
from tests.databases import create_database, drop_database, throwaway_database
from tests.e2e.conftest import Gateway
from tests.factories import make_customer
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET

APPEND = APPEND_SIGNATURE  # the signature the gateway calls
FAST = Limits(statement_timeout_s=1.0, pool_acquire_timeout_s=1.0)
# Words that would tell a caller how the store failed.
DRIVER_TEXT = ("asyncpg", "audit_append", "permission", "trigger", "postgres", "SELECT", "INSERT", "Traceback")


@dataclass
class Isolated:
    """A gateway of its own on a throwaway database, and the owner's pool on that database."""

    gateway: Gateway
    owner: asyncpg.Pool
    runtime: Runtime
    url: str


@asynccontextmanager
async def isolated(server_url: str) -> AsyncIterator[Isolated]:
    async with throwaway_database(server_url, "cpni_sec_audit") as url:
        login = await gateway_login_url(url)
        settings = Settings(
            database_url=login, limits=FAST, jwt_secret=TEST_JWT_SECRET, cursor_key=TEST_CURSOR_KEY, trusted_documents="off"
        )
        app: Starlette = create_app(settings, database_url=login)
        owner = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                    yield Isolated(Gateway(client, settings), owner, app.state.runtime, url)
        finally:
            await owner.close()


def approval(customer_id: int) -> dict[str, Any]:
    return {"input": {"customerId": str(customer_id), "status": "OPT_OUT", "channel": "PHONE"}}


async def events_of(pool: asyncpg.Pool, response: httpx.Response) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT * FROM audit_events WHERE request_id = $1 ORDER BY customer_id NULLS LAST",
            response.headers["X-Request-Id"],
        )
    )


def assert_unavailable_without_data(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]
    for word in DRIVER_TEXT:
        assert word.lower() not in response.text.lower()


# -- a mutation and its audit event: one transaction ---------------------------

REVOKE_APPEND = f"REVOKE EXECUTE ON FUNCTION {APPEND} FROM cpni_gateway_app"
GRANT_APPEND = f"GRANT EXECUTE ON FUNCTION {APPEND} TO cpni_gateway_app"
RAISING_TRIGGER = (
    "CREATE FUNCTION audit_store_down() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'audit store down'; END $$",
    "CREATE TRIGGER audit_store_down BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_store_down()",
)
DROP_RAISING_TRIGGER = ("DROP TRIGGER audit_store_down ON audit_events", "DROP FUNCTION audit_store_down()")
AUDIT_FAULTS = {
    "audit_append not executable": ((REVOKE_APPEND,), (GRANT_APPEND,)),
    "audit insert raises": (RAISING_TRIGGER, DROP_RAISING_TRIGGER),
}


@pytest.mark.parametrize("fault", list(AUDIT_FAULTS))
async def test_a_mutation_whose_audit_append_fails_commits_nothing_and_answers_503(
    server_url: str, fault: str
) -> None:
    break_it, repair_it = AUDIT_FAULTS[fault]
    async with isolated(server_url) as env:
        made = await make_customer(env.owner)
        for sql in break_it:
            await env.owner.execute(sql)
        retry = {"Idempotency-Key": "audit-fault-1"}
        refused = await env.gateway.query(
            RECORD_APPROVAL, division="customer_care", variables=approval(made.id), headers=retry
        )
        assert_unavailable_without_data(refused)
        # Nothing of the write stayed: no approval, no idempotency record, no event.
        assert await env.owner.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", made.id) == 0
        assert await env.owner.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'audit-fault-1'") == 0
        assert await events_of(env.owner, refused) == []

        for sql in repair_it:
            await env.owner.execute(sql)
        # The retry (same key) now writes once, with its record.
        done = await env.gateway.query(
            RECORD_APPROVAL, division="customer_care", variables=approval(made.id), headers=retry
        )
        assert done.status_code == 200, done.text
        assert done.json()["data"]["recordCpniApproval"]["status"] == "OPT_OUT"
        assert await env.owner.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", made.id) == 1
        assert len(await events_of(env.owner, done)) == 1


async def test_a_committed_mutation_has_exactly_one_event_naming_what_it_disclosed(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool)
    response = await gateway.query(RECORD_APPROVAL, division="customer_care", variables=approval(made.id))
    assert response.status_code == 200, response.text
    [event] = await events_of(pool, response)  # written with the change; the endpoint added no second one
    assert event["customer_id"] == made.id
    assert event["operation_name"] == "Record"
    assert event["division"] == "customer_care"
    assert "CONSENT" in event["disclosed"]
    assert event["denied"] == []
    assert await pool.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", made.id) == 1


async def test_a_notice_and_its_event_commit_together(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    variables = {"input": {"customerId": str(made.id), "sentAt": "2026-01-05T12:00:00Z", "method": "MAIL"}}
    response = await gateway.query(RECORD_NOTICE, division="customer_care", variables=variables)
    assert response.status_code == 200, response.text
    [event] = await events_of(pool, response)
    assert (event["customer_id"], event["operation_name"]) == (made.id, "Notice")
    assert await pool.fetchval("SELECT count(*) FROM cpni_notices WHERE customer_id = $1", made.id) == 1


async def test_an_idempotent_replay_is_recorded_as_a_disclosure_of_its_own(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool)
    key = {"Idempotency-Key": f"replay-{made.id}"}
    first = await gateway.query(RECORD_APPROVAL, division="customer_care", variables=approval(made.id), headers=key)
    again = await gateway.query(RECORD_APPROVAL, division="customer_care", variables=approval(made.id), headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json()["data"] == again.json()["data"]
    assert await pool.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", made.id) == 1
    assert [e["customer_id"] for e in await events_of(pool, again)] == [made.id]


async def test_a_mutation_refused_by_policy_writes_nothing_but_its_denial(gateway: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await gateway.query(
        RECORD_APPROVAL, division="marketing", purpose="marketing_cross_category", variables=approval(made.id)
    )
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await pool.fetchval("SELECT count(*) FROM cpni_approvals WHERE customer_id = $1", made.id) == 0


# -- a request refused for bad input records the denials it decided -------------

# A month the resolver refuses (a negative page size is refused before execution, deciding nothing).
BAD_USAGE_PAGE = (
    'query Bad($id: ID!) { customer(id: $id) { id services { category usageSummary(month: "2026-13") { calls } } } }'
)


async def test_a_request_refused_for_bad_input_records_its_denials_and_discloses_nothing(
    gateway: Gateway, pool: asyncpg.Pool
) -> None:
    # Wireless provisioning may not see the LOCAL service: that denial is
    # decided before the invalid month refuses the whole operation.
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    response = await gateway.query(
        BAD_USAGE_PAGE, division="wireless", purpose="provisioning", variables={"id": str(made.id)}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    [event] = await events_of(pool, response)
    assert event["customer_id"] == made.id
    assert "SERVICE" in event["denied"]
    assert event["disclosed"] == []  # the refusal showed nothing


# -- every route that discloses customer data is audited ------------------------

# Routes of the app; None: discloses no customer data (why in the comment).
ROUTES: dict[str, str | None] = {
    "/graphql": "POST: the root fields below; GET: the GraphiQL page only",
    "/healthz": None,  # "ok"
    "/readyz": None,  # database and policy status
    "/metrics": None,  # counters by division, purpose, category and outcome: no customer
    "/policy": None,  # the policy matrix, computed from Cedar alone
    "/graphql/schema.graphql": None,  # the SDL
    "/": None,  # a redirect to /graphql
    "/graphiql/{name}": None,  # GraphiQL's static files
}
# Root fields that read customer data: each leaves an event naming the customer.
AUDITED_FIELDS = {"customer", "customerByPhone", "customers", "explainAccess", "recordCpniApproval", "recordCpniNotice"}
# Root fields that read none, and why.
UNAUDITED_FIELDS = {
    "me": "the caller's own token claims",
    "auditEvents": "the audit trail itself (ids and categories, never values), privacy office only",
    "createCampaign": "a campaign record of the caller's division",
    "approveCampaign": "a campaign record, privacy office only",
}


def test_every_route_of_the_app_is_classified() -> None:
    app = create_app(Settings(database_url="postgresql://unused@localhost/unused"))
    paths = {getattr(route, "path", None) for route in app.routes}
    unclassified = paths - set(ROUTES)
    assert not unclassified, f"classify these routes in ROUTES (do they disclose customer data?): {unclassified}"


def test_every_root_field_is_classified(gateway: Gateway) -> None:
    from gateway.schema import build_schema, graphql_schema

    schema = graphql_schema(build_schema())
    roots = set(schema.query_type.fields) | set(schema.mutation_type.fields if schema.mutation_type else {})
    assert roots - {"__typename"} == AUDITED_FIELDS | set(UNAUDITED_FIELDS)


async def _read_field(gateway: Gateway, pool: asyncpg.Pool, root_field: str) -> tuple[httpx.Response, int]:
    made = await make_customer(pool, name=f"Auditable Zq{next(_names)}", listed=True)
    if root_field == "customer":
        query, variables, division = "query($id: ID!) { customer(id: $id) { name } }", {"id": str(made.id)}, None
    elif root_field == "customerByPhone":
        query = "query($p: String!) { customerByPhone(phone: $p) { name } }"
        variables, division = {"p": made.phone}, None
    elif root_field == "customers":
        prefix = f"Auditable Zq{next(_names) - 1}"
        query = "query($p: String!) { customers(filter: {namePrefix: $p}) { edges { node { id name } } } }"
        variables, division = {"p": prefix}, None
    elif root_field == "explainAccess":
        query = (
            'query($id: ID!) { explainAccess(division: "marketing", purpose: MARKETING_CROSS_CATEGORY,'
            ' customerId: $id, field: "Customer.email") { allowed } }'
        )
        variables, division = {"id": str(made.id)}, "privacy_office"
    elif root_field == "recordCpniApproval":
        query, variables = RECORD_APPROVAL, approval(made.id)
        division = None
    else:
        assert root_field == "recordCpniNotice"
        query, division = RECORD_NOTICE, None
        variables = {"input": {"customerId": str(made.id), "sentAt": "2026-01-05T12:00:00Z", "method": "EMAIL"}}
    response = await gateway.query(query, division=division or "customer_care", variables=variables)
    return response, made.id


def _counter() -> Any:
    n = 0
    while True:
        n += 1
        yield n


_names = _counter()


@pytest.mark.parametrize("root_field", sorted(AUDITED_FIELDS))
async def test_each_root_field_that_reads_customer_data_leaves_an_event_naming_the_customer(
    gateway: Gateway, pool: asyncpg.Pool, root_field: str
) -> None:
    response, customer_id = await _read_field(gateway, pool, root_field)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    events = await events_of(pool, response)
    assert customer_id in [e["customer_id"] for e in events]
    [mine] = [e for e in events if e["customer_id"] == customer_id]
    assert mine["disclosed"], "a disclosure is recorded with its categories"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/graphql", "/policy"])
async def test_routes_that_disclose_no_customer_data_carry_none(
    gateway: Gateway, pool: asyncpg.Pool, path: str
) -> None:
    made = await make_customer(pool, name="Unlisted Qx Routes")
    await gateway.query("query($id: ID!) { customer(id: $id) { name } }", division="customer_care",
                        variables={"id": str(made.id)})
    before = await pool.fetchval("SELECT count(*) FROM audit_events")
    token = gateway.token("customer_care")
    response = await gateway.client.get(
        path, params={"query": f'{{ customer(id: "{made.id}") {{ name }} }}'},
        headers={"Authorization": f"Bearer {token}", "Accept": "text/html"},
    )
    assert response.status_code in (200, 503), response.text
    assert "Unlisted Qx Routes" not in response.text
    assert await pool.fetchval("SELECT count(*) FROM audit_events") == before


# -- the event id is covered by the hash chain ----------------------------------


def _event(customer_id: int, request_id: str) -> EventContent:
    return EventContent(
        request_id=request_id, client="sec-test", division="customer_care", purpose="customer_care",
        regime="opt_out", campaign_id=None, operation_name="Read", customer_id=customer_id,
        disclosed=("PUBLIC", "CONTACT"), denied=(), policy_ids=("care-reads-cpni",),
    )


async def _append(url: str, events: list[list[EventContent]]) -> None:
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        for request in events:
            await writer.append(request)
    finally:
        await writer.close()


async def _append_before_0007(url: str, events: list[list[EventContent]]) -> None:
    """As a gateway of before migration 0007 appended (audit_append without the trusted-document check)."""
    conn = await asyncpg.connect(url)
    try:
        for request in events:
            first = request[0]
            rows = [(e.customer_id, list(e.disclosed), list(e.denied), list(e.policy_ids), e.digest()) for e in request]
            await conn.fetchval(
                "SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9::audit_event_in[])",
                0, first.request_id, first.client, first.division, first.purpose, first.regime,
                first.campaign_id, first.operation_name, rows,
            )
    finally:
        await conn.close()


async def test_verify_names_an_event_whose_id_was_changed(server_url: str) -> None:
    async with throwaway_database(server_url, "cpni_sec_chain") as url:
        await _append(url, [[_event(n, f"req-{n}")] for n in range(5)])
        assert (await Cli(url)("audit", "verify")).exit_code == 0
        conn = await asyncpg.connect(url)
        victim = await conn.fetchrow("SELECT id, chain, seq FROM audit_events ORDER BY id LIMIT 1 OFFSET 2")
        await conn.close()
        await tamper(url, f"UPDATE audit_events SET id = {victim['id'] + 1_000_000} WHERE id = {victim['id']}")
        result = await Cli(url)("audit", "verify")
        assert result.exit_code == 1
        assert f"event id {victim['id'] + 1_000_000} (seq {victim['seq']}): contents do not match" in result.output


async def test_lowering_the_link_version_does_not_hide_a_changed_id(server_url: str) -> None:
    async with throwaway_database(server_url, "cpni_sec_chain") as url:
        await _append(url, [[_event(1, "req-a"), _event(2, "req-a")]])
        conn = await asyncpg.connect(url)
        victim = await conn.fetchval("SELECT id FROM audit_events ORDER BY id DESC LIMIT 1")
        await conn.close()
        await tamper(url, f"UPDATE audit_events SET id = {victim + 7}, link_version = 1 WHERE id = {victim}")
        result = await Cli(url)("audit", "verify")
        assert result.exit_code == 1
        assert f"event id {victim + 7}" in result.output


async def test_events_written_before_the_id_was_chained_still_verify(server_url: str) -> None:
    name, url = await create_database(server_url, "cpni_sec_legacy", migrated=False)
    try:
        conn = await asyncpg.connect(url)
        try:
            # Migrate up to 0003 only: the trail as it was written before 0004.
            legacy = [m for m in load_migrations() if m.version <= 3]
            await conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for m in legacy:
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3)", m.version, m.name, m.checksum)
        finally:
            await conn.close()
        await _append_before_0007(url, [[_event(n, "legacy")] for n in range(3)])
        conn = await asyncpg.connect(url)
        try:
            applied = await migrate(conn)
            assert [m.version for m in applied if m.version == 4] == [4]
        finally:
            await conn.close()
        await _append(url, [[_event(n, "chained")] for n in range(3)])
        conn = await asyncpg.connect(url)
        versions = await conn.fetch("SELECT request_id, link_version FROM audit_events ORDER BY id")
        await conn.close()
        assert {(r["request_id"], r["link_version"]) for r in versions} == {("legacy", 1), ("chained", 2)}
        result = await Cli(url)("audit", "verify")
        assert result.exit_code == 0, result.output
        assert "6 events verified" in result.output
    finally:
        await drop_database(server_url, name)


# -- least privilege: the process serving requests cannot switch the audit off --

# What an attacker holding the gateway's connections would try.
SWITCH_OFF = {
    "disable all triggers": "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "disable user triggers": "ALTER TABLE audit_events DISABLE TRIGGER USER",
    "disable a partition's trigger": "ALTER TABLE audit_events_default DISABLE TRIGGER audit_events_append_only",
    "drop the trigger": "DROP TRIGGER audit_events_append_only ON audit_events",
    "replica mode skips triggers": "SET session_replication_role = replica",
    "update an event": "UPDATE audit_events SET disclosed = '{}'",
    "delete events": "DELETE FROM audit_events",
    "truncate": "TRUNCATE audit_events",
    "rewind a chain head": "UPDATE audit_chain_heads SET seq = 0",
    "insert around the chain": "INSERT INTO audit_events (at, chain, seq, request_id, client, division, purpose,"
    " regime, disclosed, denied, policy_ids, prev_hash, hash) VALUES (now(), 0, 99, 'r', 'c', 'd', 'p', 'opt_out',"
    " '{}', '{}', '{}', '\\x00', '\\x00')",
    "replace the guard function": "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN NEW; END $$",
    "become the superuser": "SET ROLE postgres",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def locked_down(server_url: str) -> AsyncIterator[Isolated]:
    """One isolated gateway for the attempts below (each is refused, so they share it)."""
    async with isolated(server_url) as env:
        yield env


@pytest.mark.parametrize("attempt", list(SWITCH_OFF))
async def test_the_request_pool_is_no_superuser_and_cannot_switch_the_audit_off(
    locked_down: Isolated, attempt: str
) -> None:
    env = locked_down
    for pool in (env.runtime.pool, env.runtime.endpoint.audit.pool):
        async with pool.acquire() as conn:
            who = await conn.fetchrow(
                "SELECT session_user AS login, (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) AS su"
            )
            assert (who["login"], who["su"]) == (GATEWAY_LOGIN_ROLE, False)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute(SWITCH_OFF[attempt])
    # The trail still refuses changes, and the gateway still records.
    made = await make_customer(env.owner)
    response = await env.gateway.query(
        "query($id: ID!) { customer(id: $id) { name } }", division="customer_care", variables={"id": str(made.id)}
    )
    assert response.status_code == 200
    assert len(await events_of(env.owner, response)) == 1
    assert await env.owner.fetchval("SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_events_append_only'"
                                    " AND tgenabled = 'O'") >= 1


async def test_the_gateway_login_owns_nothing_and_may_not_create_or_grant(server_url: str) -> None:
    async with isolated(server_url) as env:
        role = await env.owner.fetchrow(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = $1",
            GATEWAY_LOGIN_ROLE,
        )
        assert not any(role.values())
        owned = await env.owner.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1",
            GATEWAY_LOGIN_ROLE,
        )
        assert owned == 0
        # Asking again (another worker starting) changes nothing and still works.
        assert await gateway_login_url(env.url) == await gateway_login_url(env.url)
