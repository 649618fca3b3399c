"""The demo-data seeder: deterministic, realistic mixes, reset, and the CLI.

Each test seeds a database of its own (created on the session's server and
dropped after): the shared session database holds other tests' customers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from asyncpg.pool import PoolConnectionProxy
from click.testing import CliRunner

from gateway.cli import main
from gateway.seed import DatabaseNotEmpty, SeedReport, seed
from gateway.seed.loader import SEEDED_TABLES
from tests.databases import create_database, drop_database

NOW = datetime(2026, 5, 1, tzinfo=UTC)
CUSTOMERS = 300


@pytest_asyncio.fixture
async def conn(server_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh, migrated, empty database."""
    name, url = await create_database(server_url, "seed_test")
    connection = await asyncpg.connect(url)
    yield connection
    await connection.close()
    await drop_database(server_url, name)


@pytest_asyncio.fixture(scope="module")
async def seeded(server_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A database seeded with CUSTOMERS customers, seed 0, shared by the read-only tests."""
    name, url = await create_database(server_url, "seed_test")
    connection = await asyncpg.connect(url)
    await seed(connection, customers=CUSTOMERS, seed=0, now=NOW)
    yield connection
    await connection.close()
    await drop_database(server_url, name)


@pytest.fixture
def database(server_url: str) -> Iterator[str]:
    """URL of a fresh, migrated database, for code that runs its own event loop."""
    name, url = asyncio.run(create_database(server_url, "seed_test"))
    yield url
    asyncio.run(drop_database(server_url, name))


async def fingerprint(conn: asyncpg.Connection | PoolConnectionProxy) -> dict[str, str]:
    """An md5 per seeded table over its rows in a fixed order."""
    return {
        table: await conn.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} AS t"
        )
        for table in SEEDED_TABLES
    }


async def test_same_arguments_give_the_same_rows_however_chunked(
    conn: asyncpg.Connection, server_url: str
) -> None:
    first = await seed(conn, customers=CUSTOMERS, seed=7, now=NOW, chunk_size=1000)
    before = await fingerprint(conn)

    # Again in another database, in small chunks on two connections at once.
    name, url = await create_database(server_url, "seed_test")
    try:
        pool = await asyncpg.create_pool(url, min_size=2, max_size=2)
        try:
            second = await seed(pool, customers=CUSTOMERS, seed=7, now=NOW, chunk_size=37, workers=2)
            async with pool.acquire() as other:
                after = await fingerprint(other)
        finally:
            await pool.close()
    finally:
        await drop_database(server_url, name)

    assert after == before
    assert first.rows() == second.rows()


async def test_another_seed_or_day_gives_other_rows(conn: asyncpg.Connection) -> None:
    await seed(conn, customers=CUSTOMERS, seed=0, now=NOW)
    base = await fingerprint(conn)
    await seed(conn, customers=CUSTOMERS, seed=1, now=NOW, reset=True)
    other_seed = await fingerprint(conn)
    await seed(conn, customers=CUSTOMERS, seed=0, now=NOW + timedelta(days=1), reset=True)
    other_day = await fingerprint(conn)

    assert other_seed["customers"] != base["customers"]
    assert other_seed["usage_records"] != base["usage_records"]
    assert other_day["usage_records"] != base["usage_records"]
    # Same seed again after a reset: the same rows.
    await seed(conn, customers=CUSTOMERS, seed=0, now=NOW, reset=True)
    assert await fingerprint(conn) == base


async def test_report_counts_the_rows_inserted(conn: asyncpg.Connection) -> None:
    report = await seed(conn, customers=CUSTOMERS, seed=0, now=NOW)
    for table, rows in report.rows().items():
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == rows, table
    assert report.customers == CUSTOMERS and report.seconds > 0
    assert re.fullmatch(r"seeded 300 customers, [\d,]+ services, [\d,]+ usage records, 3,600 invoices in [\d.]+ s",
                        report.summary())


async def test_every_customer_has_an_account(seeded: asyncpg.Connection) -> None:
    row = await seeded.fetchrow(
        """
        SELECT count(*) AS customers, min(id) AS first, max(id) AS last,
               count(*) FILTER (WHERE segment = 'BUSINESS') AS business,
               count(*) FILTER (WHERE status = 'TERMINATED') AS terminated,
               count(*) FILTER (WHERE listed_phone IS NULL) AS unlisted,
               count(DISTINCT account_number) AS accounts
        FROM customers
        """
    )
    assert row is not None
    assert (row["customers"], row["first"], row["last"], row["accounts"]) == (300, 1, 300, 300)
    assert 30 <= row["business"] <= 90  # ~20%
    assert 3 <= row["terminated"] <= 36  # ~5%
    assert 45 <= row["unlisted"] <= 110  # ~25%
    assert await seeded.fetchval(
        """
        SELECT count(*) FROM customers c JOIN customer_contacts k ON k.customer_id = c.id
        WHERE k.contact_phone ~ '^\\+1[2-9][0-9]{9}$'
          AND (c.listed_phone IS NULL OR c.listed_phone = k.contact_phone)
        """
    ) == 300
    assert await seeded.fetchval(
        "SELECT count(DISTINCT customer_id) FROM addresses WHERE kind = 'SERVICE'"
    ) == 300
    assert await seeded.fetchval("SELECT count(*) FROM addresses") == 600
    assert await seeded.fetchval("SELECT count(DISTINCT state) FROM addresses") >= 15
    assert await seeded.fetchval(
        "SELECT count(*) FROM payment_methods WHERE (kind = 'INVOICE') = (last4 IS NULL)"
    ) == 300


async def test_services_and_usage(seeded: asyncpg.Connection) -> None:
    per_customer = await seeded.fetch(
        """
        SELECT count(*) AS n, count(DISTINCT category) AS categories,
               bool_and(s.status = 'DISCONNECTED') AS all_disconnected, min(c.status) AS customer_status
        FROM customers c JOIN services s ON s.customer_id = c.id GROUP BY c.id
        """
    )
    assert len(per_customer) == 300
    assert {r["n"] for r in per_customer} <= {1, 2, 3, 4}
    assert {1, 2, 3} <= {r["n"] for r in per_customer}
    assert all(r["n"] == r["categories"] for r in per_customer)
    # Only terminated customers have nothing live.
    assert all(r["all_disconnected"] == (r["customer_status"] == "TERMINATED") for r in per_customer)
    statuses = await seeded.fetchval("SELECT array_agg(DISTINCT status ORDER BY status) FROM services")
    assert statuses == ["ACTIVE", "DISCONNECTED", "SUSPENDED"]
    assert await seeded.fetchval(
        "SELECT count(*) FROM services s JOIN service_configurations g ON g.service_id = s.id"
        " WHERE (s.category = 'INTERNET') = (g.bandwidth_mbps IS NOT NULL AND g.ip_address IS NOT NULL)"
    ) == await seeded.fetchval("SELECT count(*) FROM services")

    usage = await seeded.fetchrow(
        """
        SELECT count(*) AS n,
               count(*) FILTER (WHERE s.customer_id <> u.customer_id) AS foreign_rows,
               count(*) FILTER (WHERE u.started_at < $1::timestamptz - interval '90 days'
                                   OR u.started_at > $1::timestamptz OR u.started_at < s.activated_at) AS outside,
               count(*) FILTER (WHERE (u.direction = 'DATA') <> (u.bytes IS NOT NULL)
                                   OR (u.direction = 'DATA') = (u.counterparty IS NOT NULL)) AS malformed,
               count(*) FILTER (WHERE (s.category = 'WIRELESS') <> (u.cell_site IS NOT NULL)) AS misplaced,
               count(*) FILTER (WHERE s.status = 'DISCONNECTED' OR s.category = 'VIDEO') AS unexpected,
               array_agg(DISTINCT u.direction ORDER BY u.direction) AS directions
        FROM usage_records u JOIN services s ON s.id = u.service_id
        """,
        NOW,
    )
    assert usage is not None
    assert usage["n"] == await seeded.fetchval("SELECT count(*) FROM usage_records")
    assert (usage["foreign_rows"], usage["outside"], usage["malformed"], usage["misplaced"], usage["unexpected"]) == (
        0, 0, 0, 0, 0
    )
    assert usage["directions"] == ["DATA", "INBOUND", "OUTBOUND"]
    heaviest = await seeded.fetchval(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM usage_records GROUP BY service_id) AS x"
    )
    assert heaviest >= 100  # tens to hundreds per service


async def test_twelve_invoices_and_a_balance_each(seeded: asyncpg.Connection) -> None:
    rows = await seeded.fetch(
        "SELECT count(*) AS n, count(DISTINCT period) AS periods, max(period) AS last, max(issued_at) AS issued"
        " FROM invoices GROUP BY customer_id"
    )
    assert len(rows) == 300
    assert all((r["n"], r["periods"], r["last"]) == (12, 12, "2026-04") for r in rows)
    assert all(r["issued"] < NOW for r in rows)
    assert await seeded.fetchval("SELECT count(*) FROM balances") == 300
    statuses = await seeded.fetchval("SELECT array_agg(DISTINCT status ORDER BY status) FROM invoices")
    assert {"OPEN", "OVERDUE", "PAID"} <= set(statuses)


async def test_consent_mixes_cover_every_policy_case(seeded: asyncpg.Connection) -> None:
    latest = await seeded.fetch(
        """
        SELECT c.id, a.status, a.records
        FROM customers c
        LEFT JOIN LATERAL (
            SELECT status, count(*) OVER () AS records FROM cpni_approvals
            WHERE customer_id = c.id AND scope = 'CPNI'
            ORDER BY recorded_at DESC, id DESC LIMIT 1
        ) a ON true
        """
    )
    statuses = {r["status"] for r in latest}
    assert statuses == {None, "OPT_IN", "OPT_OUT", "NONE"}
    # Histories whose latest record overrides an earlier, different one.
    assert await seeded.fetchval(
        """
        SELECT count(DISTINCT customer_id) FROM cpni_approvals a
        WHERE scope = 'CPNI' AND EXISTS (
            SELECT 1 FROM cpni_approvals b
            WHERE b.customer_id = a.customer_id AND b.scope = 'CPNI'
              AND b.recorded_at > a.recorded_at AND b.status <> a.status)
        """
    ) >= 10
    location = await seeded.fetchval(
        "SELECT array_agg(DISTINCT status ORDER BY status) FROM cpni_approvals WHERE scope = 'LOCATION'"
    )
    assert location == ["OPT_IN", "OPT_OUT"]
    assert await seeded.fetchval(
        "SELECT count(*) FROM cpni_approvals a WHERE scope = 'LOCATION' AND NOT EXISTS"
        " (SELECT 1 FROM services s WHERE s.customer_id = a.customer_id AND s.category = 'WIRELESS')"
    ) == 0

    # Nothing happens to a customer before they joined.
    assert await seeded.fetchval(
        """
        SELECT count(*) FROM customers c
        WHERE EXISTS (SELECT 1 FROM cpni_approvals a WHERE a.customer_id = c.id AND a.recorded_at < c.created_at)
           OR EXISTS (SELECT 1 FROM cpni_notices n WHERE n.customer_id = c.id AND n.sent_at < c.created_at)
           OR EXISTS (SELECT 1 FROM services s WHERE s.customer_id = c.id AND s.activated_at < c.created_at)
        """
    ) == 0

    notices = await seeded.fetchrow(
        """
        SELECT count(*) FILTER (WHERE newest IS NULL) AS none,
               count(*) FILTER (WHERE newest > $1::timestamptz - interval '30 days') AS waiting,
               count(*) FILTER (WHERE newest <= $1::timestamptz - interval '30 days'
                                  AND newest > $1::timestamptz - interval '60 days') AS just_past,
               count(*) FILTER (WHERE newest <= $1::timestamptz - interval '2 years') AS stale
        FROM customers c
        LEFT JOIN LATERAL (SELECT max(sent_at) AS newest FROM cpni_notices WHERE customer_id = c.id) n ON true
        """,
        NOW,
    )
    assert notices is not None
    assert all(notices[k] >= 10 for k in ("none", "waiting", "just_past", "stale")), dict(notices)


async def test_campaigns_are_seeded_with_purpose_values(seeded: asyncpg.Connection) -> None:
    rows = await seeded.fetch("SELECT id, purpose, status FROM campaigns ORDER BY id")
    assert {r["status"] for r in rows} == {"APPROVED", "PENDING"}
    assert {r["purpose"] for r in rows} == {
        "marketing_same_category", "marketing_cross_category", "marketing_non_comm", "third_party_marketing"
    }


async def test_consent_ids_do_not_collide_with_later_records(conn: asyncpg.Connection) -> None:
    await seed(conn, customers=20, seed=0, now=NOW)
    await conn.execute(
        "INSERT INTO cpni_approvals (customer_id, scope, status, channel, recorded_by)"
        " VALUES (1, 'CPNI', 'OPT_OUT', 'PHONE', 'test')"
    )
    await conn.execute(
        "INSERT INTO cpni_notices (customer_id, sent_at, method, recorded_by) VALUES (1, now(), 'MAIL', 'test')"
    )


async def test_refuses_a_database_with_customers_unless_reset(conn: asyncpg.Connection) -> None:
    await seed(conn, customers=30, seed=0, now=NOW)
    with pytest.raises(DatabaseNotEmpty):
        await seed(conn, customers=10, seed=0, now=NOW)
    report = await seed(conn, customers=10, seed=0, now=NOW, reset=True)
    assert report.customers == await conn.fetchval("SELECT count(*) FROM customers") == 10
    assert await conn.fetchval("SELECT max(customer_id) FROM cpni_approvals") <= 10
    # The append-only triggers are back on after the reset.
    for sql in ("UPDATE cpni_approvals SET status = 'OPT_IN'", "DELETE FROM cpni_notices",
                "TRUNCATE cpni_approvals"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)


def test_cli_seeds_then_refuses_without_reset(database: str) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": database}
    first = runner.invoke(main, ["db", "seed", "--customers", "40", "--seed", "3"], env=env)
    assert first.exit_code == 0, first.output
    assert re.search(r"^seeded 40 customers, [\d,]+ services, [\d,]+ usage records, 480 invoices in [\d.]+ s$",
                     first.stdout, re.M)

    again = runner.invoke(main, ["db", "seed", "--customers", "40"], env=env)
    assert again.exit_code == 1
    assert "already has customers; use --reset" in again.output

    reset = runner.invoke(main, ["db", "seed", "--customers", "20", "--reset"], env=env)
    assert reset.exit_code == 0, reset.output
    assert "seeded 20 customers" in reset.stdout


def test_report_is_a_frozen_value() -> None:
    report = SeedReport(customers=1, seconds=0.5)
    with pytest.raises(AttributeError):
        report.customers = 2  # type: ignore[misc]
