"""Database faults under load: statement timeouts, a restarted server, killed backends.

Each test runs a real gateway process (``serve --demo``) on the suite's own
PostgreSQL, sends bounded load while the fault lasts, and checks: no 500,
no driver text, 503/504 as SPEC section 4 says while the fault lasts, full
recovery without restarting the gateway, and no answer carrying data
without its audit events.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.stack import Load, Postgres, assert_invariants, customer_ids, start_gateway, wait_until_ready

pytestmark = pytest.mark.slow

SLOW_CUSTOMERS = (
    "ALTER TABLE customers ENABLE ROW LEVEL SECURITY",
    # Every read of customers by a non-owner (the gateway's login) takes 1 s.
    "CREATE POLICY slow_reads ON customers USING ((SELECT true FROM pg_sleep(1)))",
)
FAST_CUSTOMERS = ("DROP POLICY slow_reads ON customers", "ALTER TABLE customers DISABLE ROW LEVEL SECURITY")
OK = {200: {None}}


async def test_the_demo_serves_requests_as_a_login_that_is_no_superuser(postgres: Postgres) -> None:
    gateway = await start_gateway(postgres)
    try:
        await Load(gateway, await customer_ids(postgres), concurrency=2).run(0.3)  # the pools are in use
        logins = await postgres.fetch(
            "SELECT DISTINCT a.usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename"
            " WHERE a.application_name = 'cpni-gateway'"
        )
        assert [(r["usename"], r["rolsuper"]) for r in logins] == [("cpni_gateway", False)]
    finally:
        gateway.stop()


async def test_a_statement_timeout_answers_504_timeout_and_the_gateway_recovers(postgres: Postgres) -> None:
    gateway = await start_gateway(postgres, statement_timeout="0.3")
    try:
        ids = await customer_ids(postgres)
        await postgres.execute(*SLOW_CUSTOMERS)
        try:
            slow = await Load(gateway, ids, concurrency=4).run(2.0)
        finally:
            await postgres.execute(*FAST_CUSTOMERS)
        assert slow and all(o.status == 504 and o.code == "TIMEOUT" for o in slow), {o.status for o in slow}
        await assert_invariants(postgres, slow, {504: {"TIMEOUT"}})
        after = await Load(gateway, ids, concurrency=4).run(1.0)
        assert after and all(o.status == 200 for o in after)
        await assert_invariants(postgres, after, OK)
    finally:
        gateway.stop()


async def test_a_postgres_restart_under_load_answers_503_then_recovers_without_a_gateway_restart(
    postgres: Postgres,
) -> None:
    gateway = await start_gateway(postgres)
    try:
        ids = await customer_ids(postgres)
        load = Load(gateway, ids, concurrency=6, writes=True)

        async def restart() -> None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(1.5)  # down: every request needs the database
            await asyncio.to_thread(postgres.start)

        outcomes, _ = await asyncio.gather(load.run(5.0), restart())
        statuses = {o.status for o in outcomes}
        assert 503 in statuses and 200 in statuses, statuses
        await wait_until_ready(gateway)
        after = await Load(gateway, ids, concurrency=4, writes=True).run(1.0)
        assert after and all(o.status == 200 for o in after), {(o.status, o.code) for o in after}
        assert gateway.process.poll() is None  # the same process, never restarted
        await assert_invariants(postgres, outcomes + after, {200: {None}, 503: {"SERVICE_UNAVAILABLE"}})
    finally:
        gateway.stop()


async def test_killed_backends_under_load_answer_503_and_the_pools_reconnect(postgres: Postgres) -> None:
    gateway = await start_gateway(postgres)
    try:
        ids = await customer_ids(postgres)
        load = Load(gateway, ids, concurrency=6, writes=True)
        killed = []

        async def kill() -> None:
            for _ in range(4):
                await asyncio.sleep(0.6)
                killed.append(await postgres.terminate_gateway_backends())

        outcomes, _ = await asyncio.gather(load.run(3.5), kill())
        assert sum(killed) > 0
        assert 200 in {o.status for o in outcomes}
        after = await Load(gateway, ids, concurrency=4, writes=True).run(1.0)
        assert after and all(o.status == 200 for o in after), {(o.status, o.code) for o in after}
        await assert_invariants(postgres, outcomes + after, {200: {None}, 503: {"SERVICE_UNAVAILABLE"}})
    finally:
        gateway.stop()
