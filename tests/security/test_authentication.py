"""Tokens and headers: only well-formed tokens, one purpose, JSON bodies, POST for operations.

Also: a bad key configuration stops startup with one line, an unreachable JWKS
fails closed with 503 for every token it would have to check, and a client
that disconnects leaves no traceback in the logs.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.app import create_app
from gateway.auth import TokenVerifier, issue_token
from gateway.cli import main
from gateway.config import ConfigError, Settings
from gateway.logs import JsonFormatter
from tests.e2e.conftest import Gateway, _divisions, _started
from tests.security.leaks import assert_refused, leaks_in
from tests.security.live import live_gateway

ME = "{ me { client division purpose } }"
CARE = "customer_care"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "cpni-gateway", "aud": "cpni-gateway", "sub": "care-desk-7", "iat": now, "nbf": now,
        "exp": now + 600, "division": CARE, "purposes": ["customer_care"],
    }
    base.update(overrides)
    return base


def hs256(gateway: Gateway, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, gateway.settings.signing_key, algorithm="HS256")


async def me(gateway: Gateway, token: str, **headers: str) -> httpx.Response:
    return await gateway.client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}", **headers}
    )


# -- numeric date claims ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(int(time.time()) + 600)},  # PyJWT alone would accept int("...")
        {"iat": str(int(time.time()))},
        {"nbf": str(int(time.time()))},
        {"exp": True},
        {"exp": float("inf")},  # "Infinity" in the JSON: never expires
        {"exp": float("nan")},
        {"exp": [int(time.time()) + 600]},
        {"iat": {"at": int(time.time())}},
        {"exp": 10**400},
    ],
    ids=["exp-string", "iat-string", "nbf-string", "exp-bool", "exp-infinity", "exp-nan", "exp-list", "iat-object",
         "exp-huge"],
)
async def test_numeric_date_claims_must_be_numbers(gateway: Gateway, overrides: dict[str, Any]) -> None:
    token = hs256(gateway, claims(**overrides))
    assert_refused(await me(gateway, token), 401, "UNAUTHENTICATED", token)


async def test_fractional_numeric_dates_are_numbers_too(gateway: Gateway) -> None:
    token = hs256(gateway, claims(exp=time.time() + 600.5, iat=time.time() - 0.5))
    assert (await me(gateway, token)).status_code == 200


# -- X-Purpose ----------------------------------------------------------------------------------------


async def test_two_different_purposes_are_refused(gateway: Gateway) -> None:
    token = gateway.token("network_ops")  # provisioning and emergency
    response = await gateway.client.post(
        "/graphql",
        json={"query": ME},
        headers=[("Authorization", f"Bearer {token}"), ("X-Purpose", "provisioning"), ("X-Purpose", "emergency")],
    )
    assert_refused(response, 400, "PURPOSE_REQUIRED", token)


async def test_two_purposes_in_one_header_are_refused(gateway: Gateway) -> None:
    token = gateway.token("network_ops")
    response = await me(gateway, token, **{"X-Purpose": "provisioning, emergency"})
    assert_refused(response, 400, "PURPOSE_REQUIRED", token)


async def test_the_same_purpose_repeated_is_one_purpose(gateway: Gateway) -> None:
    token = gateway.token("network_ops")
    response = await gateway.client.post(
        "/graphql",
        json={"query": ME},
        headers=[("Authorization", f"Bearer {token}"), ("X-Purpose", "emergency"), ("X-Purpose", "EMERGENCY")],
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["purpose"] == "EMERGENCY"


# -- media types and methods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/jsonx",
        "application/x-json",
        "text/json",
        "application/json-patch+json",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/json; charset=latin-1",
        None,
    ],
)
async def test_only_json_bodies_are_accepted(gateway: Gateway, content_type: str | None) -> None:
    token = gateway.token(CARE)
    headers = {"Authorization": f"Bearer {token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await gateway.client.post("/graphql", content=json.dumps({"query": ME}).encode(), headers=headers)
    assert_refused(response, 415, "UNSUPPORTED_MEDIA_TYPE", token)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON", "application/json; charset=utf-8", "application/graphql-response+json"],
)
async def test_json_bodies_are_accepted(gateway: Gateway, content_type: str) -> None:
    headers = {"Authorization": f"Bearer {gateway.token(CARE)}", "Content-Type": content_type}
    response = await gateway.client.post("/graphql", content=json.dumps({"query": ME}).encode(), headers=headers)
    assert response.status_code == 200, response.text


async def test_a_mutation_over_get_is_refused_and_writes_nothing(gateway: Gateway, pool: asyncpg.Pool) -> None:
    name = f"get-campaign-{time.time_ns()}"
    mutation = (
        'mutation { createCampaign(input: {name: "%s", description: "d", purpose: MARKETING_CROSS_CATEGORY, '
        'categories: [SERVICE], startsAt: "2026-01-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z"}) { id } }' % name
    )
    token = gateway.token("marketing")
    for accept in ("application/json", "text/html"):  # an API client, or a link opened in a browser
        response = await gateway.client.get(
            "/graphql", params={"query": mutation}, headers={"Authorization": f"Bearer {token}", "Accept": accept}
        )
        assert_refused(response, 405, "METHOD_NOT_ALLOWED", token)
        assert response.headers["allow"] == "POST"
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE name = $1", name) == 0


async def test_a_query_over_get_is_refused_too(gateway: Gateway) -> None:
    response = await gateway.client.get(
        "/graphql", params={"query": ME}, headers={"Authorization": f"Bearer {gateway.token(CARE)}"}
    )
    assert_refused(response, 405, "METHOD_NOT_ALLOWED")


async def test_a_graphiql_link_with_a_query_opens_graphiql_and_runs_nothing(gateway: Gateway) -> None:
    response = await gateway.client.get(
        "/graphql",
        params={"query": ME},
        headers={"Authorization": f"Bearer {gateway.token(CARE)}", "Accept": "text/html,*/*"},
    )
    assert response.status_code == 200 and "graphiql" in response.text.lower()
    assert "care-desk" not in response.text and "customer_care-client" not in response.text


# -- introspection ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["{ __schema { types { name } } }", '{ __type(name: "Customer") { fields { name } } }', "{ __typename }"]
)
async def test_introspection_needs_an_authenticated_caller(gateway: Gateway, query: str) -> None:
    anonymous = await gateway.client.post("/graphql", json={"query": query})
    assert_refused(anonymous, 401, "UNAUTHENTICATED")
    expired = jwt.encode(claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), gateway.settings.signing_key)
    stale = await gateway.client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {expired}"})
    assert_refused(stale, 401, "UNAUTHENTICATED", expired)
    allowed = await gateway.query(query, division=CARE)
    assert allowed.status_code == 200 and "data" in allowed.json()


# -- a client that disconnects -----------------------------------------------------------------------------


def test_a_client_disconnecting_mid_request_leaves_no_traceback(
    settings: Settings, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    division = _divisions()[CARE]
    token = issue_token(settings, division=division, purposes=division.purposes, ttl_seconds=60)
    head = (
        "POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n"
    )
    body = json.dumps({"query": ME}).encode()
    with caplog.at_level(logging.DEBUG), live_gateway(settings, database_url) as port:
        # Mid-body: half the body, then gone.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
            time.sleep(0.2)
        # Mid-response: the whole request, then gone before the answer.
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        time.sleep(0.5)
        # The gateway still answers.
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
    records = caplog.records
    assert any(getattr(r, "fields", {}).get("outcome") == "CLIENT_DISCONNECTED" for r in records), caplog.text
    assert not [r for r in records if r.exc_info], [r.getMessage() for r in records if r.exc_info]
    written = "\n".join(JsonFormatter().format(r) for r in records)  # what the production log holds
    assert leaks_in(written, token) == [], written
    assert "Exception in ASGI application" not in written


# -- key configuration stops startup ---------------------------------------------------------------------


def _key_settings(settings: Settings, path: Path) -> Settings:
    return replace(settings, jwt_algorithms=("RS256",), jwt_public_key_file=path)


@pytest.fixture
def not_a_key(tmp_path: Path) -> Path:
    path = tmp_path / "issuer.pem"
    path.write_text("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n")
    return path


@pytest.mark.parametrize("problem", ["missing", "directory", "not-a-key", "empty"])
def test_a_bad_public_key_file_stops_the_verifier_with_one_line(
    settings: Settings, tmp_path: Path, not_a_key: Path, problem: str
) -> None:
    path = {
        "missing": tmp_path / "absent.pem",
        "directory": tmp_path,
        "not-a-key": not_a_key,
        "empty": tmp_path / "empty.pem",
    }[problem]
    if problem == "empty":
        path.write_text("")
    with pytest.raises(ConfigError) as refused:
        TokenVerifier(_key_settings(settings, path), _divisions())
    message = str(refused.value)
    assert message.startswith("CPNI_GATEWAY_JWT_PUBLIC_KEY_FILE: ") and "\n" not in message
    assert str(tmp_path) not in message  # the operator knows the path; logs do not need it


async def test_a_missing_public_key_file_stops_the_app_starting(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    app = create_app(_key_settings(settings, tmp_path / "absent.pem"), database_url=database_url)
    with pytest.raises(ConfigError, match="CPNI_GATEWAY_JWT_PUBLIC_KEY_FILE"):
        async with app.router.lifespan_context(app):
            pass


def test_serve_with_a_missing_public_key_file_exits_with_one_line(tmp_path: Path) -> None:
    env = {
        "CPNI_GATEWAY_JWT_ALGORITHMS": "RS256",
        "CPNI_GATEWAY_JWT_PUBLIC_KEY_FILE": str(tmp_path / "absent.pem"),
        "CPNI_GATEWAY_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",  # never reached
        "CPNI_GATEWAY_CURSOR_KEY": "c" * 64,
    }
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "CPNI_GATEWAY_JWT_PUBLIC_KEY_FILE" in lines[0]
    assert "Traceback" not in result.output


# -- an unreachable JWKS fails closed -------------------------------------------------------------------------


@dataclass
class Issuer:
    """An ES256 issuer and its JWKS endpoint, whose answer a test can change or stop."""

    key: Any
    url: str
    mode: str = "ok"  # ok | garbage | error | empty | html
    server: ThreadingHTTPServer | None = None
    fetches: list[float] = field(default_factory=list)

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        payload = claims(**overrides)
        return jwt.encode(payload, pem, algorithm="ES256", headers={"kid": kid})

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    keys = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}).encode()
    state = Issuer(key, "")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.fetches.append(time.monotonic())
            status, body = {
                "ok": (200, keys),
                "garbage": (200, b"{not json"),
                "html": (200, b"<html>maintenance</html>"),
                "error": (500, b"{}"),
                "empty": (200, b'{"keys": []}'),
            }[state.mode]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.server = server
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    yield state
    state.stop()


def _jwks(settings: Settings, issuer: Issuer) -> Settings:
    return replace(settings, jwt_algorithms=("ES256",), jwks_url=issuer.url)


async def test_an_unreachable_jwks_is_503_for_known_and_unknown_key_ids(
    settings: Settings, database_url: str, issuer: Issuer
) -> None:
    issuer.stop()
    async for gateway in _started(_jwks(settings, issuer), database_url):
        for kid in ("k1", "k2", ""):
            token = issuer.token(kid)
            assert_refused(await me(gateway, token), 503, "SERVICE_UNAVAILABLE", token)


async def test_a_jwks_going_down_is_503_for_a_key_id_it_would_have_to_fetch(
    settings: Settings, database_url: str, issuer: Issuer
) -> None:
    async for gateway in _started(_jwks(settings, issuer), database_url):
        assert (await me(gateway, issuer.token("k1"))).status_code == 200
        issuer.stop()
        # The cached key still verifies its tokens: checking them needs no fetch.
        assert (await me(gateway, issuer.token("k1"))).status_code == 200
        # A key id not in the cache needs the JWKS: unreachable, so nobody can say the token is bad.
        for kid in ("k2", "k3"):
            token = issuer.token(kid)
            assert_refused(await me(gateway, token), 503, "SERVICE_UNAVAILABLE", token)


@pytest.mark.parametrize("mode", ["garbage", "html", "error", "empty"])
async def test_a_jwks_answering_nonsense_is_503(
    settings: Settings, database_url: str, issuer: Issuer, mode: str
) -> None:
    issuer.mode = mode
    async for gateway in _started(_jwks(settings, issuer), database_url):
        token = issuer.token("k1")
        assert_refused(await me(gateway, token), 503, "SERVICE_UNAVAILABLE", token)


async def test_an_unknown_key_id_from_a_reachable_jwks_is_401_and_refetches_sparingly(
    settings: Settings, database_url: str, issuer: Issuer
) -> None:
    async for gateway in _started(_jwks(settings, issuer), database_url):
        assert (await me(gateway, issuer.token("k1"))).status_code == 200
        for _ in range(5):
            token = issuer.token("k-unknown")
            assert_refused(await me(gateway, token), 401, "UNAUTHENTICATED", token)
        assert len(issuer.fetches) <= 2  # one fetch, one refetch for the unknown id, then the cooldown
