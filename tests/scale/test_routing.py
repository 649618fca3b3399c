"""Which server answers: replicas only for reads, and only when they can (docs/SCALING.md).

The slow test beside this one runs a real streaming standby; these use
servers that can never qualify as a replica, which is enough to show that
they are passed over without an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
import pytest_asyncio

from gateway.config import ConfigError, Settings, load_settings
from gateway.db import gateway_login_url
from gateway.resolvers.database import Replicas
from tests.consent.calls import marketing_read, ok, record_approval
from tests.e2e.conftest import Gateway, _started
from tests.factories import make_customer

UNREACHABLE = "postgresql://cpni_gateway@/cpni?host=/nonexistent-socket-dir"


def test_replica_urls_are_a_comma_separated_list_of_postgresql_urls() -> None:
    env = {"CPNI_GATEWAY_REPLICA_URLS": "postgresql://r1.example/cpni, postgresql://r2.example/cpni"}
    assert load_settings(env).replica_urls == ("postgresql://r1.example/cpni", "postgresql://r2.example/cpni")
    assert load_settings({}).replica_urls == ()


def test_a_bad_replica_url_stops_startup_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"CPNI_GATEWAY_REPLICA_URLS": "postgresql://r1/cpni,mysql://user:secret@r2/cpni"})
    message = str(raised.value)
    assert message.startswith("CPNI_GATEWAY_REPLICA_URLS: ") and "postgresql://" in message
    assert "secret" not in message and "mysql" not in message


@pytest_asyncio.fixture(loop_scope="session")
async def routed(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """A gateway given two replicas that never qualify: one unreachable, one not in recovery (the primary)."""
    login_url = await gateway_login_url(database_url)
    configured = replace(settings, replica_urls=(UNREACHABLE, login_url))
    async for gateway in _started(configured, login_url):
        yield gateway


def served(gateway: Gateway) -> dict[str, int]:
    assert gateway.app is not None
    replicas = gateway.app.state.runtime.endpoint.replicas
    assert isinstance(replicas, Replicas)
    replicas.down_s = replicas.behind_s = 0.0  # try both on every request
    return dict(replicas.served)


async def test_reads_fall_back_to_the_primary_when_no_replica_qualifies(routed: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",), approval="OPT_IN")
    before = served(routed)
    for _ in range(2):
        read = await marketing_read(routed, pool, made.id)
        assert read.denied == {}
        assert read.customer is not None and read.customer["services"][0]["usage"][0]["durationSeconds"] == 120
    assert served(routed) == {"replica": before["replica"], "primary": before["primary"] + 2}
    metrics = (await routed.client.get("/metrics")).text
    assert 'cpni_gateway_reads_total{server="primary"}' in metrics
    assert 'server="replica"' not in metrics


async def test_mutations_never_consult_a_replica(routed: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",))
    before = served(routed)
    ok(await record_approval(routed, made.id, "OPT_OUT"))
    assert served(routed) == before
