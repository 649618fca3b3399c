"""Production keys: RS256 with a public key file, ES256 from a JWKS URL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.config import Settings
from tests.e2e.conftest import _started

ME = "{ me { client division } }"


def claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "cpni-gateway", "aud": "cpni-gateway", "sub": "wireless-app", "iat": now, "exp": now + 300,
        "division": "wireless", "purposes": ["provisioning"],
    }


def pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


async def call(settings: Settings, database_url: str, token: str) -> tuple[int, dict[str, Any]]:
    started = _started(settings, database_url)
    gateway = await anext(started)
    try:
        response = await gateway.client.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code, response.json()
    finally:
        await started.aclose()


async def test_rs256_with_a_public_key_file(settings: Settings, database_url: str, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "issuer.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    rs256 = replace(settings, jwt_algorithms=("RS256",), jwt_public_key_file=public)

    status, body = await call(rs256, database_url, jwt.encode(claims(), pem(key), algorithm="RS256"))
    assert status == 200 and body["data"]["me"] == {"client": "wireless-app", "division": "wireless"}

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    status, body = await call(rs256, database_url, jwt.encode(claims(), pem(other), algorithm="RS256"))
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # The demo secret is no longer accepted once the algorithms say RS256 only.
    status, _ = await call(rs256, database_url, jwt.encode(claims(), settings.signing_key, algorithm="HS256"))
    assert status == 401


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Any, ThreadingHTTPServer]]:
    """A JWKS endpoint on loopback serving one ES256 key with kid `k1`."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key, server
    server.shutdown()
    server.server_close()


async def test_es256_from_a_jwks_url(
    settings: Settings, database_url: str, jwks_server: tuple[str, Any, ThreadingHTTPServer]
) -> None:
    url, key, _ = jwks_server
    es256 = replace(settings, jwt_algorithms=("ES256",), jwks_url=url)
    status, body = await call(es256, database_url, jwt.encode(claims(), pem(key), algorithm="ES256", headers={"kid": "k1"}))
    assert status == 200, body
    status, body = await call(es256, database_url, jwt.encode(claims(), pem(key), algorithm="ES256", headers={"kid": "k2"}))
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_unreachable_jwks_url_fails_closed(
    settings: Settings, database_url: str, jwks_server: tuple[str, Any, ThreadingHTTPServer]
) -> None:
    url, key, server = jwks_server
    server.shutdown()
    server.server_close()
    es256 = replace(settings, jwt_algorithms=("ES256",), jwks_url=url)
    status, body = await call(es256, database_url, jwt.encode(claims(), pem(key), algorithm="ES256", headers={"kid": "k1"}))
    assert status == 503
    assert body == {"errors": [{"message": "Service temporarily unavailable", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}
