"""Information leak and operations: what leaves the gateway in responses, logs and metrics.

Every request leaves one JSON log line (request id, division, purpose,
status, outcome, duration) and returns its id in ``X-Request-Id``. No
response and no log line of any error path carries SQL, a driver name, a
traceback, a file path, a token, a denied value or a consent status.
``/metrics`` counts requests, decisions, audit writes and pool use, with
totals that hold across ``--workers N``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from gateway.auth import issue_token
from gateway.config import Settings
from gateway.logs import JsonFormatter
from tests.databases import create_database, drop_database
from tests.e2e.conftest import Gateway, _divisions, _started
from tests.e2e.helpers import approved_campaign, bug_in
from tests.factories import make_customer
from tests.security.leaks import assert_refused, leaks_in
from tests.security.live import free_port

CARE = "customer_care"
REQUEST_ID = re.compile(r"[0-9a-f]{16}")
CONSENT_WORDS = ("OPT_OUT", "OPT_IN", "opted", "notice", "consent")


def written(caplog: pytest.LogCaptureFixture) -> str:
    """The log as production writes it: one JSON object per line."""
    return "\n".join(JsonFormatter().format(record) for record in caplog.records)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        orjson.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "cpni_gateway.request"
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def fresh(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """A gateway of its own, so its metrics count only this test's requests."""
    async for gateway in _started(settings, database_url):
        yield gateway


# -- one JSON line per request, its id in X-Request-Id --------------------------------------------------


async def test_each_request_logs_one_json_line_without_values_or_token(
    gateway: Gateway, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    made = await make_customer(pool, name="Quentin Privateperson")
    token = gateway.token(CARE)
    with caplog.at_level(logging.INFO):
        response = await gateway.query(
            "query($id: ID!) { customer(id: $id) { name email contactPhone } }",
            division=CARE,
            token=token,
            variables={"id": str(made.id)},
        )
    assert response.status_code == 200 and "Quentin Privateperson" in response.text
    lines = request_lines(caplog)
    assert len(lines) == 1
    (line,) = lines
    assert line["request_id"] == response.headers["x-request-id"]
    assert REQUEST_ID.fullmatch(line["request_id"])
    assert (line["division"], line["purpose"], line["status"], line["outcome"]) == (CARE, CARE, 200, "OK")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    text = written(caplog)
    for value in ("Quentin", f"c{made.id}@example.test", made.contact_phone, token):
        assert value not in text
    assert leaks_in(text, token) == []


@pytest.mark.parametrize(
    ("kind", "status"),
    [("ok", 200), ("unauthenticated", 401), ("parse", 400), ("purpose", 403), ("media", 415), ("get", 405),
     ("large", 413)],
)
async def test_every_answer_carries_a_request_id(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, kind: str, status: int
) -> None:
    token = gateway.token(CARE)
    auth = {"Authorization": f"Bearer {token}"}
    client = gateway.client
    with caplog.at_level(logging.INFO):
        if kind == "ok":
            response = await gateway.query("{ me { client } }", division=CARE)
        elif kind == "unauthenticated":
            response = await client.post("/graphql", json={"query": "{ me { client } }"})
        elif kind == "parse":
            response = await gateway.query("{ me {", division=CARE)
        elif kind == "purpose":
            response = await gateway.query("{ me { client } }", division=CARE, purpose="billing_collection")
        elif kind == "media":
            response = await client.post("/graphql", content=b"{}", headers={**auth, "Content-Type": "text/plain"})
        elif kind == "get":
            response = await client.get("/graphql", params={"query": "{ me { client } }"}, headers=auth)
        else:
            response = await client.post(
                "/graphql", content=b" " * (2 * 1024 * 1024), headers={**auth, "Content-Type": "application/json"}
            )
    assert response.status_code == status
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.fullmatch(request_id)
    assert [line["request_id"] for line in request_lines(caplog)] == [request_id]


# -- error paths leak nothing ----------------------------------------------------------------------------


async def test_a_database_outage_leaks_nothing(
    server_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    name, url = await create_database(server_url, "cpni_leak")
    admin = await asyncpg.connect(server_url)
    try:
        async for gateway in _started(settings, url):
            token = gateway.token(CARE)
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            with caplog.at_level(logging.DEBUG):
                response = await gateway.query("{ customer(id: 1) { name email } }", division=CARE, token=token)
                ready = await gateway.client.get("/readyz")
            assert_refused(response, 503, "SERVICE_UNAVAILABLE", token)
            assert ready.status_code == 503 and leaks_in(ready.text) == []
            assert leaks_in(written(caplog), token) == [], written(caplog)
            assert [line["cause"] for line in request_lines(caplog)] == ["database"]
    finally:
        await admin.close()
        await drop_database(server_url, name)


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("query($id: ID!) { customer(id: $id) { name } }", {"id": "DROP TABLE customers; --"}, None),
        ("query($n: Int) { customers(first: $n) { edges { cursor } } }", {"n": "many"}, "BAD_USER_INPUT"),
        ('query($id: ID!) { customer(id: $id) { services { usageSummary(month: "2026-13") { calls } } } }',
         {}, "BAD_USER_INPUT"),
        ("{ customer(id: 1) { services { usage(first: -1) { startedAt } } } }", None, "BAD_USER_INPUT"),
        ('query($id: ID!, $t: DateTime) { customer(id: $id) { services { usage(from: $t) { startedAt } } } }',
         {"t": "0001-01-01T00:00:00+14:00"}, "BAD_USER_INPUT"),
        ('{ customerByPhone(phone: "\\u0000") { id } }', None, "BAD_USER_INPUT"),
        ("{ customer(id: 1) { emial } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ customer(id: 1) { name", None, "GRAPHQL_PARSE_FAILED"),
    ],
    ids=["sql-as-id", "not-an-int", "month", "negative-page", "date", "nul", "typo", "unparsable"],
)
async def test_bad_input_leaks_nothing(
    gateway: Gateway,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any] | None,
    code: str | None,
) -> None:
    if variables is not None and "$id" in query and "id" not in variables:
        variables = {**variables, "id": str((await make_customer(pool)).id)}
    token = gateway.token(CARE)
    with caplog.at_level(logging.DEBUG):
        response = await gateway.query(query, division=CARE, token=token, variables=variables)
    if code is None:  # an id that names no customer is simply no customer
        assert response.status_code == 200 and response.json()["data"] == {"customer": None}
    else:
        assert_refused(response, 400, code, token)
    assert "email" not in response.text  # no "Did you mean" for the typo
    assert leaks_in(written(caplog), token) == [], written(caplog)


async def test_denied_fields_leak_no_value_and_no_consent_status(
    gateway: Gateway, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    made = await make_customer(pool, services=("LOCAL",), approval="OPT_OUT", name="Olga Optedout")
    campaign = await approved_campaign(pool, "marketing", "marketing_cross_category")
    token = gateway.token("marketing")
    with caplog.at_level(logging.DEBUG):
        response = await gateway.query(
            "query($id: ID!) { customer(id: $id) { id name email services { plan usage { counterparty } } "
            "balance { amountCents } paymentMethod { last4 } cpniApproval { status } } }",
            division="marketing",
            purpose="marketing_cross_category",
            token=token,
            variables={"id": str(made.id)},
            headers={"X-Campaign-Id": campaign},
        )
        strict = await gateway.query(
            "query($id: ID!) { customer(id: $id) { email cpniApproval { status } } }",
            division="marketing",
            purpose="marketing_cross_category",
            token=token,
            variables={"id": str(made.id)},
            headers={"X-Campaign-Id": campaign, "X-Authz-Mode": "strict"},
        )
    assert response.status_code == 200
    denied = [e for e in response.json()["errors"] if e["extensions"]["code"] == "FORBIDDEN"]
    assert {e["extensions"]["category"] for e in denied} >= {"CONTACT", "SERVICE", "BILLING", "PAYMENT", "CONSENT"}
    assert_refused(strict, 403, "FORBIDDEN", token)
    for text in (response.text, strict.text, written(caplog)):
        for value in (f"c{made.id}@example.test", made.contact_phone, "4242", "local-plan", "+13035550000"):
            assert value not in text
        for word in CONSENT_WORDS:
            assert word not in text, word
        assert leaks_in(text, token) == []


@pytest.mark.parametrize("where", ["assembled", "built"])
async def test_an_unexpected_error_leaks_nothing(
    gateway: Gateway, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    made = await make_customer(pool)
    message = "SELECT secret FROM customers WHERE token='abc' at /work/gateway/x.py line 3"
    query, variables = bug_in(where, made, monkeypatch, message)
    token = gateway.token(CARE)
    with caplog.at_level(logging.DEBUG):
        response = await gateway.query(query, division=CARE, token=token, variables=variables)
    assert_refused(response, 500, "INTERNAL_SERVER_ERROR", token)
    assert leaks_in(written(caplog), token) == [], written(caplog)
    assert [line["cause"] for line in request_lines(caplog)] == ["RuntimeError"]


async def test_the_json_formatter_drops_tracebacks() -> None:
    logger = logging.getLogger("cpni_gateway.test")
    try:
        raise ValueError("SELECT secret FROM t")
    except ValueError:
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = orjson.loads(JsonFormatter().format(record))
    assert line["error"] == "ValueError" and line["message"] == "failed"
    assert leaks_in(orjson.dumps(line).decode()) == []


# -- /metrics -------------------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_requests_decisions_audit_writes_and_pool_use(fresh: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",), approval="OPT_OUT")
    campaign = await approved_campaign(pool, "marketing", "marketing_cross_category")
    for _ in range(3):
        ok = await fresh.query("{ me { client } }", division=CARE)
        assert ok.status_code == 200
    partial = await fresh.query(
        "query($id: ID!) { customer(id: $id) { name email } }",
        division="marketing",
        purpose="marketing_cross_category",
        variables={"id": str(made.id)},
        headers={"X-Campaign-Id": campaign},
    )
    assert partial.status_code == 200 and partial.json()["errors"]
    await fresh.client.post("/graphql", json={"query": "{ me { client } }"})  # no token
    await fresh.query("{ me {", division=CARE)

    response = await fresh.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    requests = "cpni_gateway_requests_total"
    assert value(found, requests, division=CARE, purpose=CARE, outcome="OK") == 3
    assert value(found, requests, division="marketing", purpose="marketing_cross_category", outcome="PARTIAL") == 1
    assert value(found, requests, division="-", purpose="-", outcome="UNAUTHENTICATED") == 1
    assert value(found, requests, division=CARE, purpose=CARE, outcome="GRAPHQL_PARSE_FAILED") == 1
    assert value(found, "cpni_gateway_request_seconds_count") == 6
    assert value(found, "cpni_gateway_decisions_total", category="SUBSCRIBER_LIST", effect="allow") >= 1
    assert value(found, "cpni_gateway_decisions_total", category="CONTACT", effect="deny") >= 1
    assert value(found, "cpni_gateway_audit_write_seconds_count") >= 4
    assert value(found, "cpni_gateway_pool_connections", state="max") == fresh.settings.pool_max_size
    assert value(found, "cpni_gateway_pool_connections", state="in_use") == 0
    assert leaks_in(response.text) == []


async def test_decision_metrics_count_each_customer_of_a_page_once_per_category_and_effect(
    fresh: Gateway, pool: asyncpg.Pool
) -> None:
    prefix = f"Metered {uuid.uuid4().hex[:8]}"
    for approval in ("OPT_IN", "OPT_IN", "OPT_OUT"):
        await make_customer(pool, services=("LOCAL",), approval=approval, name=f"{prefix} {approval}")
    campaign = await approved_campaign(pool, "marketing", "marketing_cross_category")
    before = samples((await fresh.client.get("/metrics")).text)
    page = await fresh.query(
        "query($p: String) { customers(first: 10, filter: {namePrefix: $p}) { edges { node { name email } } } }",
        division="marketing",
        purpose="marketing_cross_category",
        variables={"p": prefix},
        headers={"X-Campaign-Id": campaign},
    )
    assert page.status_code == 200 and len(page.json()["errors"]) == 1  # the opted-out customer's email
    after = samples((await fresh.client.get("/metrics")).text)

    def counted(category: str, effect: str) -> float:
        name = "cpni_gateway_decisions_total"
        return value(after, name, category=category, effect=effect) - value(before, name, category=category, effect=effect)

    # The filter and the name read SUBSCRIBER_LIST: one decision per customer, not two.
    assert counted("SUBSCRIBER_LIST", "allow") == 3
    assert counted("CONTACT", "allow") == 2 and counted("CONTACT", "deny") == 1
    assert counted("SUBSCRIBER_LIST", "deny") == 0


# -- /metrics across worker processes -------------------------------------------------------------------


@pytest.mark.slow
async def test_metrics_totals_hold_across_workers(settings: Settings, database_url: str) -> None:
    """``serve --workers 2``: whichever worker answers /metrics, the totals are of all workers."""
    port = free_port()
    secret = "metrics-test-secret-" + "x" * 32
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CPNI_GATEWAY_JWT_SECRET": secret,
        "CPNI_GATEWAY_CURSOR_KEY": "k" * 64,
        "CPNI_GATEWAY_PORT": str(port),
        "CPNI_GATEWAY_WORKERS": "2",
        "CPNI_GATEWAY_TRUSTED_DOCUMENTS": "off",  # counts any operation (tests/trusted checks the registry)
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_ready(base, process)
        division = _divisions()[CARE]
        token = issue_token(replace(settings, jwt_secret=secret), division=division, purposes=division.purposes,
                            ttl_seconds=600)
        sent = 40
        for _ in range(sent):  # a new connection each time: both workers answer some
            async with httpx.AsyncClient(base_url=base) as client:
                response = await client.post(
                    "/graphql", json={"query": "{ me { client } }"}, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 200
        totals = set()
        for _ in range(10):
            async with httpx.AsyncClient(base_url=base) as client:
                found = samples((await client.get("/metrics")).text)
            totals.add(value(found, "cpni_gateway_requests_total", division=CARE, purpose=CARE, outcome="OK"))
        assert totals == {sent}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stderr = ""
        if process.stderr is not None:
            stderr = process.stderr.read().decode()
            process.stderr.close()
    for line in stderr.splitlines():
        if line.startswith("{"):
            assert leaks_in(line, token) == [], line


async def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"serve exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("serve did not become ready")
