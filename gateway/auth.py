"""Authentication: a bearer JWT names the calling client, its division and purposes.

Accepted algorithms come from configuration, never from the token. Errors are
:class:`AuthError` values carrying the HTTP status and the public error code;
their messages never repeat the token or say which check failed in detail.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from gateway.authz.model import PURPOSES_BY_VALUE, Division, Purpose
from gateway.config import ConfigError, Settings

REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "division", "purposes")
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
ASYMMETRIC = ("RS256", "ES256", "EdDSA")
LEEWAY_SECONDS = 30
VERIFIED_TOKENS = 4096
JWKS_REFRESH_COOLDOWN = 5.0  # seconds between refetches for unknown key ids
KEY_FILE_SETTING = "CPNI_GATEWAY_JWT_PUBLIC_KEY_FILE"


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


class _Verified:
    """A bounded, thread-safe map from a token's text to its caller and expiry."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[Caller, float] | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
            return entry

    def put(self, token: str, entry: tuple[Caller, float]) -> None:
        with self._lock:
            self._entries[token] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class TokenVerifier:
    """Verifies bearer tokens with the configured algorithms and keys.

    Keys: the HS256 secret, a public key file (read and checked when the
    verifier is built: a missing, unreadable or invalid file stops startup
    with :class:`ConfigError` naming the setting), or a JWKS URL (keys cached,
    fetched again when a token names an unknown key id; while the URL cannot
    be reached every token that needs it is :class:`KeySourceUnavailable`).
    """

    def __init__(self, settings: Settings, divisions: Mapping[str, Division]) -> None:
        self._settings = settings
        self._divisions = divisions
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=2.0)
            if settings.jwks_url
            else None
        )
        self._public_key = _read_public_key(settings)
        self._jwks_lock = threading.Lock()
        self._jwks_refreshed = float("-inf")
        # Tokens verified before, by their exact text, until they expire: a
        # division frontend sends the same token with every request.
        self._verified = _Verified(VERIFIED_TOKENS)

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may wait on the network (run it off the event loop)."""
        return self._jwks is not None

    def _key_for(self, algorithm: str, token: str) -> Any:
        if algorithm == "HS256":
            if self._settings.signing_key is None:
                raise unauthenticated("Authentication failed: token algorithm not accepted")
            return self._settings.signing_key
        if self._public_key is not None:
            return self._public_key
        if self._jwks is not None:
            return self._jwks_key(token)
        raise unauthenticated()

    def _jwks_key(self, token: str) -> Any:
        """The JWKS key the token names; unreachable or unusable JWKS = :class:`KeySourceUnavailable`.

        An unknown key id refetches the set (at most once per cooldown); if that
        refetch fails the token could not be checked at all, so it is 503, not 401.
        """
        assert self._jwks is not None
        kid = jwt.get_unverified_header(token).get("kid")
        with self._jwks_lock:
            try:
                key = _match(self._jwks.get_signing_keys(), kid)
                if key is None and time.monotonic() - self._jwks_refreshed >= JWKS_REFRESH_COOLDOWN:
                    self._jwks_refreshed = time.monotonic()
                    key = _match(self._jwks.get_signing_keys(refresh=True), kid)
            except (jwt.PyJWTError, ValueError, OSError):  # unreachable, not JSON, no usable keys
                self._jwks_refreshed = float("-inf")  # the next unknown key id asks again
                raise KeySourceUnavailable() from None
        if key is None:
            raise unauthenticated("Authentication failed: invalid token")
        return key.key

    def verify(self, authorization: str | None) -> Caller:
        """The caller named by an ``Authorization: Bearer`` header, or :class:`AuthError`."""
        if not authorization:
            raise unauthenticated()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated()
        token = token.strip()
        cached = self._verified.get(token)
        if cached is not None:
            caller, expires = cached
            if time.time() < expires:  # the same instant jwt.decode would refuse it at
                return caller
        caller, exp = self._verify(token)
        self._verified.put(token, (caller, float(exp) + LEEWAY_SECONDS))
        return caller

    def _verify(self, token: str) -> tuple[Caller, float]:
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
        except (KeySourceUnavailable, AuthError):
            raise
        except jwt.ExpiredSignatureError:
            raise unauthenticated("Authentication failed: token expired") from None
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
            raise unauthenticated("Authentication failed: invalid token") from None
        if not all(_numeric_date(claims[name]) for name in NUMERIC_DATE_CLAIMS if name in claims):
            raise unauthenticated("Authentication failed: invalid token")
        return self._caller(claims), float(claims["exp"])

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
        purposes = frozenset(Purpose(p) for p in raw_purposes if p in PURPOSES_BY_VALUE)
        return Caller(client=sub, division=division, purposes=purposes)


def _numeric_date(value: object) -> bool:
    """A NumericDate (RFC 7519): a finite JSON number; "exp": "9999999999", true or Infinity is none."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value)) and abs(value) < 2**53
    except OverflowError:
        return False


def _match(keys: list[jwt.PyJWK], kid: object) -> jwt.PyJWK | None:
    return next((k for k in keys if k.key_id == kid), None)


def _read_public_key(settings: Settings) -> Any:
    """The configured public key, parsed; :class:`ConfigError` naming the setting when it cannot be."""
    path = settings.jwt_public_key_file
    if path is None:
        return None
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{KEY_FILE_SETTING}: the file does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{KEY_FILE_SETTING}: the file cannot be read ({exc.strerror or type(exc).__name__})") from None
    algorithms = [a for a in settings.jwt_algorithms if a in ASYMMETRIC] or list(ASYMMETRIC)
    for name in algorithms:
        try:
            return jwt.get_algorithm_by_name(name).prepare_key(text)
        except (jwt.InvalidKeyError, ValueError, TypeError):
            continue
    raise ConfigError(f"{KEY_FILE_SETTING}: not a PEM public key for {', '.join(algorithms)}")


def choose_purpose(caller: Caller, declared: str | None) -> Purpose:
    """The purpose of this request (``X-Purpose``), checked against token and registry."""
    if declared is None or not declared.strip():
        if len(caller.purposes) == 1:
            (only,) = caller.purposes
            return only
        raise AuthError(400, "PURPOSE_REQUIRED", "Declare the purpose of use in the X-Purpose header")
    name = declared.strip().lower()
    purpose = PURPOSES_BY_VALUE.get(name)
    if not isinstance(purpose, Purpose):
        # Not a purpose at all (a typo, an upper-case enum name): the closed list is public (SPEC 6.1).
        valid = ", ".join(p.value for p in Purpose)
        raise AuthError(400, "BAD_USER_INPUT", f"X-Purpose is not a purpose; valid values: {valid}")
    if purpose not in caller.purposes:
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
