"""Read replicas never serve stale consent (docs/SCALING.md).

A real primary and a real streaming hot standby on this machine. The
standby's replay is paused, an approval is revoked on the primary: the next
marketing request is denied, although the standby still holds the approval.
Then the standby stops and requests keep succeeding from the primary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import asyncpg
import pytest
import pytest_asyncio

from gateway.config import Settings
from gateway.db import gateway_login_url, migrate, with_user
from gateway.resolvers.database import Replicas
from tests.consent.calls import USAGE, marketing_read, ok, record_approval
from tests.e2e.conftest import Gateway, _started
from tests.factories import make_customer
from tests.scale.cluster import Cluster

pytestmark = pytest.mark.slow


@dataclass
class Replicated:
    cluster: Cluster
    primary: asyncpg.Pool  # as the owner
    standby: asyncpg.Connection  # as the superuser, to pause and resume replay
    gateway: Gateway
    replicas: Replicas


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(loop_scope="session")
async def replicated(settings: Settings) -> AsyncIterator[Replicated]:
    cluster = Cluster()
    try:
        await asyncio.to_thread(cluster.start)
        admin = await asyncpg.connect(cluster.primary.url())
        await admin.execute("CREATE DATABASE cpni")
        await admin.close()
        owner_url = cluster.primary.url("cpni")
        conn = await asyncpg.connect(owner_url)
        await migrate(conn)
        await conn.close()
        login_url = await gateway_login_url(owner_url)  # roles are cluster-wide: the clone has it too
        await asyncio.to_thread(cluster.start_standby)
        replica_url = with_user(cluster.standby.url("cpni"), "cpni_gateway")
        primary = await asyncpg.create_pool(owner_url, min_size=1, max_size=4)
        standby = await asyncpg.connect(cluster.standby.url("cpni"))
        configured = replace(settings, database_url=login_url, replica_urls=(replica_url,))
        async for gateway in _started(configured, login_url):
            assert gateway.app is not None
            replicas = gateway.app.state.runtime.endpoint.replicas
            assert isinstance(replicas, Replicas)
            replicas.behind_s = 0.0  # probe the standby on every request: the test watches each one
            yield Replicated(cluster, primary, standby, gateway, replicas)
        await standby.close()
        await primary.close()
    finally:
        await asyncio.to_thread(cluster.close)


async def caught_up(r: Replicated) -> bool:
    position = await r.primary.fetchval("SELECT pg_current_wal_insert_lsn()")
    return bool(await r.standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", position))


async def latest_approval_on_standby(r: Replicated, customer_id: int) -> str | None:
    status: str | None = await r.standby.fetchval(
        "SELECT status FROM cpni_approvals WHERE customer_id = $1 AND scope = 'CPNI'"
        " ORDER BY recorded_at DESC, id DESC LIMIT 1",
        customer_id,
    )
    return status


async def test_a_paused_replica_never_serves_a_revoked_approval_and_a_stopped_one_is_skipped(
    replicated: Replicated,
) -> None:
    r = replicated
    gateway = r.gateway
    made = await make_customer(r.primary, services=("LOCAL",))
    ok(await record_approval(gateway, made.id, "OPT_IN"))
    await eventually(lambda: caught_up(r))

    # Caught up: the marketing read is served by the standby, and allowed.
    before = dict(r.replicas.served)
    allowed = await marketing_read(gateway, r.primary, made.id)
    assert allowed.denied == {}
    assert allowed.customer is not None and allowed.customer["services"][0]["usage"][0]["durationSeconds"] == 120
    assert r.replicas.served["replica"] == before["replica"] + 1

    # Replay paused, then the approval revoked on the primary.
    await r.standby.execute("SELECT pg_wal_replay_pause()")
    await eventually(lambda: r.standby.fetchval("SELECT pg_get_wal_replay_pause_state() = 'paused'"))
    ok(await record_approval(gateway, made.id, "OPT_OUT", channel="WEB"))
    assert await latest_approval_on_standby(r, made.id) == "OPT_IN"  # the standby still holds the old approval

    before = dict(r.replicas.served)
    denied = await marketing_read(gateway, r.primary, made.id, "email " + USAGE)
    assert denied.customer == {"email": None, "services": None}
    assert denied.denied == {"email": "CONTACT", "services": "SERVICE"}
    assert r.replicas.served == {"replica": before["replica"], "primary": before["primary"] + 1}
    assert await latest_approval_on_standby(r, made.id) == "OPT_IN"

    # Replay resumed: once caught up, the standby serves again, with the revocation.
    await r.standby.execute("SELECT pg_wal_replay_resume()")
    await eventually(lambda: caught_up(r))
    before = dict(r.replicas.served)
    again = await marketing_read(gateway, r.primary, made.id)
    assert again.denied == {"services": "SERVICE"}
    assert r.replicas.served["replica"] == before["replica"] + 1

    # The standby stops: requests keep succeeding, from the primary, without an error.
    await r.standby.close()
    await asyncio.to_thread(r.cluster.standby.stop)
    ok(await record_approval(gateway, made.id, "OPT_IN"))
    before = dict(r.replicas.served)
    for _ in range(3):
        after_stop = await marketing_read(gateway, r.primary, made.id)
        assert after_stop.denied == {}
        assert after_stop.customer is not None and after_stop.customer["services"][0]["usage"][0]["durationSeconds"] == 120
    assert r.replicas.served == {"replica": before["replica"], "primary": before["primary"] + 3}
    metrics = (await gateway.client.get("/metrics")).text
    assert f'cpni_gateway_reads_total{{server="replica"}} {float(r.replicas.served["replica"])}' in metrics
    assert f'cpni_gateway_reads_total{{server="primary"}} {float(r.replicas.served["primary"])}' in metrics
