"""Authentication keys: no built-in secret, no key no server, demo keys random per data directory."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import httpx
import jwt
import pytest
from click.testing import CliRunner

from gateway.app import asgi_factory, create_app
from gateway.cli import main
from gateway.config import ConfigError, Settings
from gateway.keys import demo_keys, with_demo_keys
from tests.e2e.conftest import _divisions

# The secret every earlier release shipped in its source: anyone could mint tokens with it.
PUBLISHED_SECRET = "cpni-gateway-demo-secret-change-me-in-production"
NO_KEYS = {
    "CPNI_GATEWAY_JWT_SECRET": "",
    "CPNI_GATEWAY_JWT_PUBLIC_KEY_FILE": "",
    "CPNI_GATEWAY_JWKS_URL": "",
    "CPNI_GATEWAY_CURSOR_KEY": "",
}


def test_serve_without_demo_and_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)], env=NO_KEYS)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "CPNI_GATEWAY_JWT_SECRET" in lines[0] and "CPNI_GATEWAY_JWKS_URL" in lines[0]
    assert not (tmp_path / "pgdata").exists()  # refused before anything started
    assert not (tmp_path / "demo-keys.json").exists()


def test_serve_without_a_cursor_key_refuses_to_start(tmp_path: Path) -> None:
    env = {**NO_KEYS, "CPNI_GATEWAY_JWT_SECRET": "s" * 40}
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "CPNI_GATEWAY_CURSOR_KEY" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_short_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    env = {**NO_KEYS, "CPNI_GATEWAY_JWT_SECRET": "hunter2-is-short"}
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "CPNI_GATEWAY_JWT_SECRET" in result.output and "at least 32" in result.output
    assert "hunter2" not in result.output


def test_a_worker_process_without_keys_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NO_KEYS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="CPNI_GATEWAY_JWT_SECRET"):
        asgi_factory()


def test_demo_keys_are_random_per_data_directory_and_kept_there(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    keys = demo_keys(first)
    assert demo_keys(first) == keys  # kept: the next start (and `token issue`) reads the same
    assert demo_keys(second)["jwt_secret"] != keys["jwt_secret"]
    assert demo_keys(second)["cursor_key"] != keys["cursor_key"]
    assert keys["jwt_secret"] != keys["cursor_key"]
    assert PUBLISHED_SECRET not in keys.values()
    assert len(keys["jwt_secret"]) >= 32
    mode = stat.S_IMODE(os.stat(first / "demo-keys.json").st_mode)
    assert mode == 0o600  # readable by its owner only


def test_token_issue_without_a_secret_or_demo_keys_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["token", "issue", "--division", "wireless", "--data-dir", str(tmp_path)], env=NO_KEYS
    )
    assert result.exit_code == 1
    assert "CPNI_GATEWAY_JWT_SECRET" in result.output and "serve --demo" in result.output
    assert not (tmp_path / "demo-keys.json").exists()  # never makes a secret no gateway knows


async def test_a_demo_gateway_refuses_tokens_signed_with_the_published_secret(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    demo = with_demo_keys(replace(settings, jwt_secret=None, cursor_key=None, data_dir=tmp_path))
    app = create_app(demo, database_url=database_url)
    division = _divisions()["fraud_security"]
    claims = {
        "iss": "cpni-gateway", "aud": "cpni-gateway", "sub": "mallory", "iat": 1_900_000_000 - 60,
        "exp": 4_000_000_000, "division": division.id, "purposes": ["fraud_protection"],
    }
    forged = jwt.encode({**claims, "iat": 1_700_000_000}, PUBLISHED_SECRET, algorithm="HS256")
    genuine = jwt.encode({**claims, "iat": 1_700_000_000}, demo_keys(tmp_path)["jwt_secret"], algorithm="HS256")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            query = {"query": "{ me { division } }"}
            refused = await client.post("/graphql", json=query, headers={"Authorization": f"Bearer {forged}"})
            accepted = await client.post("/graphql", json=query, headers={"Authorization": f"Bearer {genuine}"})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in refused.json()
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"data": {"me": {"division": "fraud_security"}}}


async def test_a_gateway_with_only_a_public_key_refuses_every_hs256_token(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    rs256_only = replace(settings, jwt_secret=None, jwt_public_key_file=public, jwt_algorithms=("RS256", "HS256"))
    app = create_app(rs256_only, database_url=database_url)
    claims = {
        "iss": "cpni-gateway", "aud": "cpni-gateway", "sub": "mallory", "iat": 1_700_000_000,
        "exp": 4_000_000_000, "division": "fraud_security", "purposes": ["fraud_protection"],
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            for secret in (PUBLISHED_SECRET, "x" * 40):
                token = jwt.encode(claims, secret, algorithm="HS256")
                response = await client.post(
                    "/graphql", json={"query": "{ me { division } }"}, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 401
                assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
