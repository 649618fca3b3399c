"""Audit by group commit: concurrent reads share a commit, and none is answered before its record.

The tests share one database and gateway of this module; the one that
revokes a privilege has a database of its own (tests/audit/conftest.py). To make
requests meet in one group deterministically, a test holds every chain
head from another transaction: the group in flight waits for its head, the
requests arriving meanwhile queue for the next group.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from gateway.audit.chain import EventContent
from gateway.audit.group import Append, append_group
from gateway.audit.writer import APPEND_SIGNATURE, AuditUnavailable, AuditWriter
from gateway.config import Settings
from tests.audit.conftest import Cli, FreshDatabase
from tests.e2e.conftest import Gateway, _started
from tests.factories import make_customer

QUERY = "query($id: ID!) { customer(id: $id) { name email } }"
N = 40


Started = tuple[Gateway, AuditWriter, asyncpg.Pool]


@asynccontextmanager
async def gateway_on(url: str) -> AsyncIterator[Started]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        async for gw in _started(Settings(database_url=url), url):
            assert gw.app is not None
            yield gw, gw.app.state.runtime.endpoint.audit, pool
    finally:
        await pool.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def started(module_database: str) -> AsyncIterator[Started]:
    """A gateway on this module's database, its audit writer and an owner pool."""
    async with gateway_on(module_database) as found:
        yield found


async def verified(url: str) -> str:
    result = await Cli(url)("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 64 chains"), result.output
    return result.output


@asynccontextmanager
async def heads_held(url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    conn = await asyncpg.connect(url)
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute("SELECT chain FROM audit_chain_heads FOR UPDATE")
    released = False

    async def release() -> None:
        nonlocal released
        if not released:
            released = True
            await transaction.rollback()

    try:
        yield release
    finally:
        await release()
        await conn.close()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def waiting_for_a_head(pool: asyncpg.Pool) -> None:
    """Until a statement of the gateway waits for a lock: the group in flight is running."""
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    async with asyncio.timeout(10.0):
        while not await pool.fetchval(sql):
            await asyncio.sleep(0.005)


async def audit_metrics(gw: Gateway) -> dict[str, float]:
    """The audit group counters of ``/metrics``, by sample name and outcome."""
    text = (await gw.client.get("/metrics")).text
    return {
        f"{sample.name}:{sample.labels['outcome']}": sample.value
        for family in text_string_to_metric_families(text)
        if family.name in ("cpni_gateway_audit_commits", "cpni_gateway_audit_group_requests")
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def events_of(pool: asyncpg.Pool, request_ids: list[str]) -> dict[str, list[asyncpg.Record]]:
    rows = await pool.fetch(
        "SELECT request_id, customer_id, chain, seq FROM audit_events WHERE request_id = ANY($1) ORDER BY chain, seq",
        request_ids,
    )
    found: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["request_id"], []).append(row)
    return found


async def read_customers(gw: Gateway, ids: list[int]) -> list[httpx.Response]:
    return await asyncio.gather(
        *(gw.query(QUERY, division="customer_care", variables={"id": str(i)}) for i in ids)
    )


def event(n: int, operation_name: str | None = "Read", *, test: str = "group") -> EventContent:
    return EventContent(
        request_id=f"{test}-{n}",
        client="group-test",
        division="customer_care",
        purpose="customer_care",
        regime="opt_out",
        campaign_id=None,
        operation_name=operation_name,
        customer_id=n,
        disclosed=("PUBLIC",),
        denied=(),
        policy_ids=("care-reads-cpni",),
    )


async def test_40_concurrent_reads_each_get_their_answer_and_record_in_fewer_commits(
    started: Started, module_database: str
) -> None:
    gw, writer, pool = started
    made = [await make_customer(pool, usage_per_service=0) for _ in range(N)]
    commits, appended = writer.commits, writer.appended_requests
    counted = await audit_metrics(gw)
    responses = await read_customers(gw, [m.id for m in made])
    assert [r.status_code for r in responses] == [200] * N
    for response, customer in zip(responses, made, strict=True):
        assert response.json()["data"]["customer"]["name"] == f"Test Customer {customer.id}"
    assert writer.appended_requests - appended == N
    assert writer.commits - commits < N
    now = await audit_metrics(gw)
    grouped = "cpni_gateway_audit_group_requests_total:committed"
    assert now[grouped] - counted.get(grouped, 0.0) == N
    commits_total = "cpni_gateway_audit_commits_total:committed"
    assert now[commits_total] - counted.get(commits_total, 0.0) == writer.commits - commits
    request_ids = [r.headers["X-Request-Id"] for r in responses]
    recorded = await events_of(pool, request_ids)
    for request_id, customer in zip(request_ids, made, strict=True):
        assert [e["customer_id"] for e in recorded[request_id]] == [customer.id]
    await verified(module_database)


async def test_reads_arriving_during_a_commit_go_together_in_the_next_one(
    started: Started, module_database: str
) -> None:
    gw, writer, pool = started
    made = [await make_customer(pool, usage_per_service=0) for _ in range(N)]
    commits = writer.commits
    async with heads_held(module_database) as release:
        reads = asyncio.ensure_future(read_customers(gw, [m.id for m in made]))
        # The first group waits for a chain head; everyone else queues behind it.
        await until(lambda: writer.group.pending == N)
        assert not reads.done()
        await release()
        responses = await reads
    assert [r.status_code for r in responses] == [200] * N
    assert writer.commits - commits == 2
    recorded = await events_of(pool, [r.headers["X-Request-Id"] for r in responses])
    assert len(recorded) == N
    # A group appends after its first call's chain head: one chain, consecutive positions.
    positions = sorted((e["chain"], e["seq"]) for events in recorded.values() for e in events)
    chains = {chain for chain, _ in positions}
    assert len(chains) <= 2
    await verified(module_database)


async def test_a_group_whose_commit_fails_answers_every_request_in_it_503_with_no_data(
    fresh_database: FreshDatabase,
) -> None:
    url = await fresh_database()
    async with gateway_on(url) as (gw, writer, pool):
        made = [await make_customer(pool, usage_per_service=0) for _ in range(N)]
        commits, failed = writer.commits, writer.group.failed_commits
        async with heads_held(url) as release:
            reads = asyncio.ensure_future(read_customers(gw, [m.id for m in made]))
            await until(lambda: writer.group.pending == N)
            await waiting_for_a_head(pool)
            # The group in flight has passed its privilege check; the next one will not.
            await pool.execute(f"REVOKE EXECUTE ON FUNCTION {APPEND_SIGNATURE} FROM cpni_gateway_app")
            await release()
            responses = await reads
        assert writer.commits - commits == 1
        assert writer.group.failed_commits - failed == 1
        by_status: dict[int, list[tuple[httpx.Response, int]]] = {}
        for response, customer in zip(responses, made, strict=True):
            by_status.setdefault(response.status_code, []).append((response, customer.id))
        assert set(by_status) == {200, 503}
        assert len(by_status[503]) > len(by_status[200])  # the first group is whoever came first
        assert writer.appended_requests >= len(by_status[200])
        for response, customer_id in by_status[503]:
            body = response.json()
            assert "data" not in body
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert f"Test Customer {customer_id}" not in response.text
        answered = await events_of(pool, [r.headers["X-Request-Id"] for r, _ in by_status[200]])
        assert sorted(answered) == sorted(r.headers["X-Request-Id"] for r, _ in by_status[200])
        refused = await events_of(pool, [r.headers["X-Request-Id"] for r, _ in by_status[503]])
        assert refused == {}
    await verified(url)


async def test_an_idle_read_is_written_at_once_in_a_commit_of_its_own(started: Started) -> None:
    gw, writer, pool = started
    made = await make_customer(pool, usage_per_service=0)
    commits, appended = writer.commits, writer.appended_requests
    response = (await read_customers(gw, [made.id]))[0]
    assert response.status_code == 200
    assert (writer.commits - commits, writer.appended_requests - appended) == (1, 1)
    assert writer.group.pending == 0


@pytest.mark.parametrize("bad", ["Read\ud800", "Read\x00"], ids=["lone surrogate", "NUL"])
async def test_an_unencodable_event_fails_only_its_own_request(module_database: str, bad: str) -> None:
    # Over HTTP the body parser already refuses both in an operation name (gateway/http_input.py);
    # whatever reaches the writer anyway is checked per request, before it joins a group.
    url = module_database
    test = f"unencodable-{ord(bad[-1])}"
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        outcomes = await asyncio.gather(
            *(writer.record_refusal(event(n, bad if n == 3 else "Read", test=test)) for n in range(10)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[3], AuditUnavailable)
        assert [o for n, o in enumerate(outcomes) if n != 3] == [1] * 9
        # The nine that were written went together, in one commit.
        assert (writer.commits, writer.appended_requests) == (1, 9)
    finally:
        await writer.close()
    conn = await asyncpg.connect(url)
    try:
        written = await conn.fetch(
            "SELECT request_id FROM audit_events WHERE request_id LIKE $1 || '-%' ORDER BY request_id", test
        )
    finally:
        await conn.close()
    assert [r["request_id"] for r in written] == [f"{test}-{n}" for n in range(10) if n != 3]


async def test_the_queue_is_bounded_and_groups_are_bounded(module_database: str) -> None:
    url = module_database
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        bounded = AuditWriter(writer.pool, writer.regime, group={"max_requests": 2, "max_queued": 4})
        seen: list[int] = []
        async with heads_held(url) as release:
            appends = asyncio.gather(*(bounded.append([event(n, test="bounded")]) for n in range(10)))
            await until(lambda: bounded.group.pending == 4)
            for _ in range(20):
                seen.append(bounded.group.pending)
                await asyncio.sleep(0.005)
            await release()
            assert await appends == [1] * 10
        assert max(seen) == 4  # the other six waited for room
        assert bounded.commits >= 5  # at most two requests per group
        assert bounded.appended_requests == 10
        await bounded.close()
    finally:
        await writer.close()
    await verified(url)


async def test_close_fails_what_cannot_commit_in_time_and_refuses_more(module_database: str) -> None:
    url = module_database
    writer = await AuditWriter.open(Settings(database_url=url), url)
    try:
        async with heads_held(url):
            appends = asyncio.gather(
                *(writer.append([event(n, test="cut")]) for n in range(5)), return_exceptions=True
            )
            await until(lambda: writer.group.pending == 5)
            async with asyncio.timeout(3.0):
                await writer.group.close(timeout_s=0.2)
            outcomes = await appends
        assert all(isinstance(o, AuditUnavailable) for o in outcomes), outcomes
        with pytest.raises(AuditUnavailable):
            await writer.append([event(99, test="cut")])
    finally:
        await writer.close()


async def test_close_commits_what_is_queued(module_database: str) -> None:
    url = module_database
    writer = await AuditWriter.open(Settings(database_url=url), url)
    appends = asyncio.gather(*(writer.append([event(n, test="flushed")]) for n in range(5)))
    await asyncio.sleep(0)  # all five queued
    await writer.close()
    assert await appends == [1] * 5
    assert (writer.commits, writer.appended_requests) == (1, 5)
    await verified(url)


async def test_two_writers_committing_groups_at_once_keep_every_chain_valid(module_database: str) -> None:
    url = module_database
    settings = Settings(database_url=url)
    writers = [await AuditWriter.open(settings, url) for _ in range(2)]
    try:
        written = await asyncio.gather(
            *(
                writers[n % 2].append([event(n, test="two"), event(n, test="two")._replace(customer_id=1000 + n)])
                for n in range(200)
            )
        )
    finally:
        for writer in writers:
            await writer.close()
    assert written == [2] * 200
    assert sum(w.appended_requests for w in writers) == 200
    assert sum(w.commits for w in writers) < 200
    await verified(url)


async def test_one_append_stores_each_request_and_event_exactly_as_given(module_database: str) -> None:
    """One group, one call: every event keeps its own request's fields, its names and its customer."""
    odd = ('care-reads-"cpni"', "back\\slash", "comma,and space", "{braces}", "NULL", "")
    appends = [
        Append.of([event(1, test="exact"), event(1, test="exact")._replace(customer_id=2, policy_ids=odd)]),
        Append.of([event(3, None, test="exact")._replace(customer_id=None, denied=("LOCATION", "USAGE"))]),
        Append.of([event(4, test="exact")._replace(campaign_id="c-1", disclosed=(), policy_ids=())]),
    ]
    conn = await asyncpg.connect(module_database)
    try:
        assert await append_group(conn, appends) == [2, 1, 1]
        rows = await conn.fetch(
            "SELECT request_id, operation_name, campaign_id, customer_id, disclosed, denied, policy_ids"
            " FROM audit_events WHERE request_id LIKE 'exact-%' ORDER BY chain, seq"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        ("exact-1", "Read", None, 1, ["PUBLIC"], [], ["care-reads-cpni"]),
        ("exact-1", "Read", None, 2, ["PUBLIC"], [], list(odd)),
        ("exact-3", None, None, None, ["PUBLIC"], ["LOCATION", "USAGE"], ["care-reads-cpni"]),
        ("exact-4", "Read", "c-1", 4, [], [], []),
    ]
    await verified(module_database)
