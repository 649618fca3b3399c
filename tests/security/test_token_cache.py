"""Verified tokens are remembered by their text until they expire, and not a moment longer."""

from __future__ import annotations

import time
from datetime import datetime, tzinfo

import jwt.api_jwt
import pytest

from gateway.auth import LEEWAY_SECONDS, AuthError, TokenVerifier, issue_token
from gateway.authz.policy import load_policy
from gateway.config import Settings
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET

SETTINGS = Settings(jwt_secret=TEST_JWT_SECRET, cursor_key=TEST_CURSOR_KEY)
DIVISIONS = load_policy().divisions


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(SETTINGS, DIVISIONS)
    division = DIVISIONS["customer_care"]
    token = issue_token(SETTINGS, division=division, purposes=division.purposes, ttl_seconds=60)
    assert verifier.verify(f"Bearer {token}").division is division
    assert verifier.verify(f"Bearer {token}").division is division  # from memory
    later = time.time() + 60 + LEEWAY_SECONDS + 1

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:  # type: ignore[override]
            return cls.fromtimestamp(later, tz)

    # The clock moves on, for the memory and for PyJWT alike.
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    with pytest.raises(AuthError) as refused:
        verifier.verify(f"Bearer {token}")
    assert refused.value.status == 401 and refused.value.code == "UNAUTHENTICATED"


def test_a_token_altered_after_it_was_verified_is_checked_anew() -> None:
    verifier = TokenVerifier(SETTINGS, DIVISIONS)
    division = DIVISIONS["customer_care"]
    token = issue_token(SETTINGS, division=division, purposes=division.purposes, ttl_seconds=600)
    verifier.verify(f"Bearer {token}")
    head, payload, signature = token.split(".")
    for altered in (f"{head}.{payload}.{signature[:-2]}AA", f"{head}.{payload[:-1]}A.{signature}"):
        with pytest.raises(AuthError):
            verifier.verify(f"Bearer {altered}")


def test_memory_is_bounded() -> None:
    verifier = TokenVerifier(SETTINGS, DIVISIONS)
    division = DIVISIONS["customer_care"]
    for n in range(300):
        token = issue_token(SETTINGS, division=division, purposes=division.purposes, ttl_seconds=600, client=f"c{n}")
        verifier.verify(f"Bearer {token}")
    assert len(verifier._verified._entries) <= 4096
    verifier._verified._size = 10
    verifier.verify(f"Bearer {token}")
    token = issue_token(SETTINGS, division=division, purposes=division.purposes, ttl_seconds=600, client="new")
    verifier.verify(f"Bearer {token}")
    assert len(verifier._verified._entries) == 10
