"""SPEC section 4, authentication: who may call, and for which declared purpose."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import Gateway

ME = "{ me { client division purpose purposes } }"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "cpni-gateway",
        "aud": "cpni-gateway",
        "sub": "care-desk-7",
        "iat": now,
        "exp": now + 600,
        "division": "customer_care",
        "purposes": ["customer_care"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(gateway: Gateway, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, gateway.settings.signing_key, algorithm="HS256")


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_valid_token_names_the_caller(gateway: Gateway) -> None:
    response = await gateway.query(ME, division="customer_care", token=hs256(gateway, claims()))
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "me": {
                "client": "care-desk-7",
                "division": "customer_care",
                "purpose": "CUSTOMER_CARE",
                "purposes": ["CUSTOMER_CARE"],
            }
        }
    }


async def test_missing_token_is_unauthenticated(gateway: Gateway) -> None:
    response = await gateway.client.post("/graphql", json={"query": ME})
    assert_unauthenticated(response)


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "bearer " + "x" * 50],
)
async def test_malformed_token_is_unauthenticated(gateway: Gateway, header: str) -> None:
    response = await gateway.client.post("/graphql", json={"query": ME}, headers={"Authorization": header})
    assert_unauthenticated(response)


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": int(time.time()) - 3600},  # expired
        {"aud": "someone-else"},  # wrong audience
        {"iss": "evil-issuer"},  # wrong issuer
        {"division": "no_such_division"},  # unknown division
        {"division": None},  # required claim missing
        {"purposes": None},
        {"sub": None},
        {"iat": None},
    ],
    ids=["expired", "audience", "issuer", "unknown-division", "no-division", "no-purposes", "no-sub", "no-iat"],
)
async def test_invalid_claims_are_unauthenticated(gateway: Gateway, bad: dict[str, Any]) -> None:
    response = await gateway.query(ME, division="customer_care", token=hs256(gateway, claims(**bad)))
    assert_unauthenticated(response)


async def test_a_token_signed_with_another_secret_is_unauthenticated(gateway: Gateway) -> None:
    token = jwt.encode(claims(), "another-secret-of-sufficient-length-123", algorithm="HS256")
    assert_unauthenticated(await gateway.query(ME, division="customer_care", token=token))


async def test_an_algorithm_not_configured_is_unauthenticated(gateway: Gateway) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = jwt.encode(claims(), pem, algorithm="RS256")
    assert_unauthenticated(await gateway.query(ME, division="customer_care", token=token))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def test_alg_none_is_unauthenticated(gateway: Gateway) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    assert_unauthenticated(await gateway.query(ME, division="customer_care", token=token))


async def test_the_response_never_echoes_the_token(gateway: Gateway) -> None:
    token = hs256(gateway, claims(aud="wrong"))
    response = await gateway.query(ME, division="customer_care", token=token)
    assert token not in response.text
    assert token.split(".")[1] not in response.text


async def test_the_only_purpose_of_a_token_applies_without_a_header(gateway: Gateway) -> None:
    token = gateway.token("fraud_security", ["fraud_protection"])
    response = await gateway.query(ME, division="fraud_security", token=token)
    assert response.json()["data"]["me"]["purpose"] == "FRAUD_PROTECTION"


async def test_several_purposes_and_no_header_is_purpose_required(gateway: Gateway) -> None:
    token = gateway.token("fraud_security", ["fraud_protection", "emergency"])
    response = await gateway.query(ME, division="fraud_security", token=token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert "data" not in response.json()


async def test_the_declared_purpose_applies(gateway: Gateway) -> None:
    token = gateway.token("fraud_security", ["fraud_protection", "emergency"])
    response = await gateway.query(ME, division="fraud_security", purpose="emergency", token=token)
    assert response.json()["data"]["me"]["purpose"] == "EMERGENCY"


@pytest.mark.parametrize("purpose", ["marketing_cross_category", "billing_collection"])
async def test_a_purpose_outside_the_token_is_not_allowed(gateway: Gateway, purpose: str) -> None:
    token = gateway.token("fraud_security", ["fraud_protection", "emergency"])
    response = await gateway.query(ME, division="fraud_security", purpose=purpose, token=token)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_ALLOWED"


async def test_a_purpose_that_does_not_exist_is_bad_input_not_a_denial(gateway: Gateway) -> None:
    token = gateway.token("fraud_security", ["fraud_protection", "emergency"])
    response = await gateway.query(ME, division="fraud_security", purpose="no_such_purpose", token=token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_purpose_in_the_token_but_not_in_the_registry_is_not_allowed(gateway: Gateway) -> None:
    # The token claims marketing; the registry does not let fraud_security declare it (CPNI.md case 6).
    token = hs256(gateway, claims(division="fraud_security", purposes=["fraud_protection", "marketing_cross_category"]))
    response = await gateway.query(ME, division="fraud_security", purpose="marketing_cross_category", token=token)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_ALLOWED"
