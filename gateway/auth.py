"""Authentication: a bearer JWT names the calling client, its division and purposes.

Accepted algorithms come from configuration, never from the token. Errors are
:class:`AuthError` values carrying the HTTP status and the public error code;
their messages never repeat the token or say which check failed in detail.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt

from gateway.authz.model import Division, Purpose
from gateway.config import Settings

REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "division", "purposes")
LEEWAY_SECONDS = 30


class AuthError(Exception):
    """A request refused before execution: ``status`` and public ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unauthenticated(message: str = "Authentication required: a valid bearer token") -> AuthError:
    return AuthError(401, "UNAUTHENTICATED", message)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the client (``sub``), its division and the purposes it may declare."""

    client: str
    division: Division
    purposes: frozenset[Purpose]


class KeySourceUnavailable(Exception):
    """The JWKS endpoint cannot be reached: no token can be checked (HTTP 503)."""


class TokenVerifier:
    """Verifies bearer tokens with the configured algorithms and keys.

    Keys: the HS256 secret, a public key file, or a JWKS URL (keys cached,
    fetched again when a token names an unknown key id).
    """

    def __init__(self, settings: Settings, divisions: Mapping[str, Division]) -> None:
        self._settings = settings
        self._divisions = divisions
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=2.0)
            if settings.jwks_url
            else None
        )

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may wait on the network (run it off the event loop)."""
        return self._jwks is not None

    @cached_property
    def _public_key(self) -> str | None:
        path = self._settings.jwt_public_key_file
        return Path(path).read_text() if path else None

    def _key_for(self, algorithm: str, token: str) -> Any:
        if algorithm == "HS256":
            if self._settings.signing_key is None:
                raise unauthenticated("Authentication failed: token algorithm not accepted")
            return self._settings.signing_key
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError:
                raise KeySourceUnavailable() from None
        if self._public_key is None:
            raise unauthenticated()
        return self._public_key

    def verify(self, authorization: str | None) -> Caller:
        """The caller named by an ``Authorization: Bearer`` header, or :class:`AuthError`."""
        if not authorization:
            raise unauthenticated()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated()
        token = token.strip()
        allowed = self._settings.jwt_algorithms
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in allowed:
                raise unauthenticated("Authentication failed: token algorithm not accepted")
            claims = jwt.decode(
                token,
                self._key_for(algorithm, token),
                algorithms=[algorithm],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("Authentication failed: token expired") from None
        except jwt.PyJWTError:
            raise unauthenticated("Authentication failed: invalid token") from None
        return self._caller(claims)

    def _caller(self, claims: Mapping[str, Any]) -> Caller:
        sub, division_id, raw_purposes = claims["sub"], claims["division"], claims["purposes"]
        if not isinstance(sub, str) or not sub or not isinstance(division_id, str):
            raise unauthenticated("Authentication failed: invalid token")
        division = self._divisions.get(division_id)
        if division is None:
            raise unauthenticated("Authentication failed: unknown division")
        if not isinstance(raw_purposes, list) or not all(isinstance(p, str) for p in raw_purposes):
            raise unauthenticated("Authentication failed: invalid token")
        # Unknown purpose names in a token are ignored: they can never be declared.
        purposes = frozenset(Purpose(p) for p in raw_purposes if p in Purpose._value2member_map_)
        return Caller(client=sub, division=division, purposes=purposes)


def choose_purpose(caller: Caller, declared: str | None) -> Purpose:
    """The purpose of this request (``X-Purpose``), checked against token and registry."""
    if declared is None or not declared.strip():
        if len(caller.purposes) == 1:
            (only,) = caller.purposes
            return only
        raise AuthError(400, "PURPOSE_REQUIRED", "Declare the purpose of use in the X-Purpose header")
    name = declared.strip().lower()
    purpose = Purpose._value2member_map_.get(name)
    if not isinstance(purpose, Purpose) or purpose not in caller.purposes:
        raise AuthError(403, "PURPOSE_NOT_ALLOWED", "This purpose is not allowed for this client")
    if purpose not in caller.division.purposes:
        raise AuthError(403, "PURPOSE_NOT_ALLOWED", "This purpose is not allowed for this division")
    return purpose


def issue_token(
    settings: Settings,
    *,
    division: Division,
    purposes: Iterable[Purpose],
    ttl_seconds: int,
    client: str | None = None,
    private_key: str | None = None,
    algorithm: str = "HS256",
) -> str:
    """A signed token for ``division`` (HS256 with the configured secret by default).

    ``ValueError`` when there is no key to sign with: never a built-in secret.
    """
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": client or f"{division.id}-client",
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_hex(8),
        "division": division.id,
        "purposes": sorted(p.value for p in purposes),
    }
    key = private_key if algorithm != "HS256" else settings.signing_key
    if key is None:
        raise ValueError(f"{algorithm} needs a {'secret' if algorithm == 'HS256' else 'private key'}")
    return jwt.encode(claims, key, algorithm=algorithm)


def parse_ttl(text: str) -> int:
    """``90s``, ``15m``, ``1h``, ``7d`` or plain seconds -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            value = int(text[:-1]) * units[text[-1]]
        else:
            value = int(text)
    except ValueError:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 15m, 1h, 7d") from None
    if value <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return value
