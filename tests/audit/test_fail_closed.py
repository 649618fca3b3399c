"""No disclosure without its record: an audit store that fails gives 503 and no data.

Each test runs a gateway of its own on a database of its own (tests/audit/
conftest.py), so revoking a privilege or locking the table touches no other test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from gateway.audit.writer import APPEND_SIGNATURE
from gateway.config import Limits, Settings
from gateway.db import DatabaseError
from tests.audit.conftest import FreshDatabase
from tests.e2e.conftest import Gateway, _started
from tests.factories import make_customer

QUERY = "query($id: ID!) { customer(id: $id) { name email } }"
# Short waits, so a locked audit table fails fast instead of after 5 s.
FAST = Limits(statement_timeout_s=0.5, pool_acquire_timeout_s=1.0)


@asynccontextmanager
async def gateway_on(url: str) -> AsyncIterator[tuple[Gateway, asyncpg.Pool]]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        async for gw in _started(Settings(database_url=url, limits=FAST), url):
            yield gw, pool
    finally:
        await pool.close()


def assert_unavailable(response: httpx.Response, *secrets: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    for secret in secrets:
        assert secret not in response.text
    for leak in ("audit_append", "permission", "lock", "asyncpg", "SELECT"):
        assert leak not in response.text


async def test_revoked_write_privilege_gives_503_and_no_data(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    async with gateway_on(url) as (gw, pool):
        made = await make_customer(pool)
        ok = await gw.query(QUERY, division="customer_care", variables={"id": str(made.id)})
        assert ok.status_code == 200
        await pool.execute(
            f"REVOKE EXECUTE ON FUNCTION {APPEND_SIGNATURE} FROM cpni_gateway_app"
        )
        refused = await gw.query(QUERY, division="customer_care", variables={"id": str(made.id)})
        assert_unavailable(refused, f"Test Customer {made.id}", f"c{made.id}@example.test")
        # Requests that disclose nothing need no record and still work.
        assert (await gw.query("{ me { division } }", division="customer_care")).status_code == 200


async def test_a_locked_audit_table_gives_503_after_the_lock_timeout(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    async with gateway_on(url) as (gw, pool):
        made = await make_customer(pool)
        before = await pool.fetchval("SELECT count(*) FROM audit_events")
        holder = await asyncpg.connect(url)
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE")
            refused = await gw.query(QUERY, division="customer_care", variables={"id": str(made.id)})
            assert_unavailable(refused, f"Test Customer {made.id}")
            await transaction.rollback()
        finally:
            await holder.close()
        assert await pool.fetchval("SELECT count(*) FROM audit_events") == before
        again = await gw.query(QUERY, division="customer_care", variables={"id": str(made.id)})
        assert again.status_code == 200
        assert await pool.fetchval("SELECT count(*) FROM audit_events") == before + 1


async def test_the_gateway_does_not_start_without_the_audit_role(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    admin = await asyncpg.connect(url)
    await admin.execute("CREATE ROLE cpni_test_login LOGIN")
    try:
        await admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO cpni_test_login")
        # A login that is not a member of cpni_gateway_app cannot write the trail.
        parts = urlsplit(url)
        login_url = urlunsplit(parts._replace(netloc="cpni_test_login@" + parts.netloc.rpartition("@")[2]))
        try:
            await (await asyncpg.connect(login_url)).close()
        except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError):
            pytest.skip("this server does not let a new role log in without a password")
        started = _started(Settings(database_url=login_url), login_url)
        with pytest.raises(DatabaseError, match="cpni_gateway_app"):
            await anext(started)
    finally:
        await admin.execute("DROP OWNED BY cpni_test_login")
        await admin.execute("DROP ROLE cpni_test_login")
        await admin.close()


async def test_the_gateway_does_not_start_when_the_audit_role_may_not_append(fresh_database: FreshDatabase) -> None:
    url = await fresh_database()
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(
            f"REVOKE EXECUTE ON FUNCTION {APPEND_SIGNATURE} FROM cpni_gateway_app"
        )
    finally:
        await admin.close()
    with pytest.raises(DatabaseError, match="may not call audit_append"):
        await anext(_started(Settings(database_url=url), url))
