"""Settings: environment variables prefixed ``CPNI_GATEWAY_`` plus CLI flags.

A bad value stops startup with one line naming the variable
(:class:`ConfigError`). ``DATABASE_URL`` is accepted as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from gateway.authz.model import Regime

PREFIX = "CPNI_GATEWAY_"

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration value is invalid; the message names the variable."""


@dataclass(frozen=True)
class Limits:
    """Query limits of SPEC section 7."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_cost: int = 500_000
    max_body_bytes: int = 1024 * 1024
    max_page_size: int = 100
    max_usage_page: int = 500
    request_timeout_s: float = 10.0
    statement_timeout_s: float = 5.0
    pool_acquire_timeout_s: float = 2.0


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    database_url_setting: str = "DATABASE_URL"  # the variable database_url came from (for messages)
    # Streaming replicas for read-only requests (docs/SCALING.md).
    replica_urls: tuple[str, ...] = ()
    data_dir: Path = Path(".cpni-gateway")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    regime: Regime = Regime.OPT_OUT
    graphiql: bool = True
    jwt_secret: str | None = None
    jwt_issuer: str = "cpni-gateway"
    jwt_audience: str = "cpni-gateway"
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_public_key_file: Path | None = None
    jwks_url: str | None = None
    cursor_key: str | None = None
    policy_dir: Path | None = None
    pool_min_size: int = 1
    pool_max_size: int = 10
    audit_retention_days: int = 730
    server_timing: bool = False
    planner: bool = True
    # Trusted documents (SPEC 4, gateway/trusted): enforce|log|off. Enforced
    # unless configured otherwise (`serve --demo` logs instead).
    trusted_documents: str = "enforce"
    # SIGTERM: drain (requests in flight finish, /readyz 503) at most this long.
    shutdown_timeout_s: float = 30.0
    limits: Limits = field(default_factory=Limits)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI flags win)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def signing_key(self) -> str | None:
        """The HS256 secret; None when none is configured (HS256 tokens are then refused)."""
        return self.jwt_secret


def _parse(
    env: Mapping[str, str], name: str, convert: Callable[[str], T], default: T, *, secret: bool = False
) -> T:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return convert(raw)
    except (ValueError, TypeError) as exc:
        shown = "this value" if secret else repr(raw)  # a secret is never echoed
        raise ConfigError(f"{PREFIX}{name}: {shown} is not valid: {exc}") from None


def _positive_int(raw: str) -> int:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise ValueError("expected a whole number above 0, e.g. 10") from None
    if value <= 0:
        raise ValueError("expected a whole number above 0, e.g. 10")
    return value


# A duration: plain seconds or a number with a unit (`10`, `10s`, `1.5s`, `500ms`, `2m`, `1h`).
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_FORM = "expected a duration above 0 such as 10, 10s, 500ms, 2m or 1h"


def parse_duration(raw: str) -> float:
    """Seconds from ``10``, ``10s``, ``1.5s``, ``500ms``, ``2m`` or ``1h``; ValueError naming the form."""
    text = raw.strip().lower()
    unit = next((u for u in ("ms", "s", "m", "h") if text.endswith(u)), "")
    number = text[: len(text) - len(unit)].strip()
    try:
        value = float(number) * _UNITS.get(unit, 1.0)
    except ValueError:
        raise ValueError(DURATION_FORM) from None
    if not value > 0 or value == float("inf"):
        raise ValueError(DURATION_FORM)
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _regime(raw: str) -> Regime:
    try:
        return Regime(raw.strip().lower())
    except ValueError:
        raise ValueError("expected opt_out or opt_in") from None


def _algorithms(raw: str) -> tuple[str, ...]:
    allowed = {"HS256", "RS256", "ES256", "EdDSA"}
    algs = tuple(a.strip() for a in raw.split(",") if a.strip())
    bad = [a for a in algs if a not in allowed]
    if not algs or bad:
        raise ValueError(f"expected a comma-separated subset of {sorted(allowed)}")
    return algs


def _jwks_url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ValueError("expected an https:// URL")
    return raw


def _secret(raw: str) -> str:
    if len(raw) < 32:
        raise ValueError("must be at least 32 characters (e.g. `openssl rand -base64 48`)")
    return raw


def _database_url(raw: str) -> str:
    if not raw.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected a postgresql:// URL, e.g. postgresql://user@db.example:5432/cpni")
    return raw


def _replica_urls(raw: str) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in raw.split(",") if u.strip())
    for url in urls:
        _database_url(url)
    return urls


def _trusted_mode(raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in ("enforce", "log", "off"):
        raise ValueError("expected enforce, log or off")
    return mode


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment; raise :class:`ConfigError` on a bad value."""
    env = os.environ if env is None else env
    database_url = env.get(PREFIX + "DATABASE_URL") or env.get("DATABASE_URL") or None
    name = "DATABASE_URL"
    if database_url is not None:
        name = "DATABASE_URL" if env.get("DATABASE_URL") == database_url else PREFIX + "DATABASE_URL"
        try:
            _database_url(database_url)
        except ValueError as exc:  # the value is not echoed: it may hold a password
            raise ConfigError(f"{name}: not valid: {exc}") from None
    limits = Limits(
        max_depth=_parse(env, "MAX_DEPTH", _positive_int, 12),
        max_aliases=_parse(env, "MAX_ALIASES", _positive_int, 30),
        max_tokens=_parse(env, "MAX_TOKENS", _positive_int, 5_000),
        max_cost=_parse(env, "MAX_COST", _positive_int, 500_000),
        max_body_bytes=_parse(env, "MAX_BODY_BYTES", _positive_int, 1024 * 1024),
        max_page_size=_parse(env, "MAX_PAGE_SIZE", _positive_int, 100),
        max_usage_page=_parse(env, "MAX_USAGE_PAGE", _positive_int, 500),
        request_timeout_s=_parse(env, "REQUEST_TIMEOUT", parse_duration, 10.0),
        statement_timeout_s=_parse(env, "STATEMENT_TIMEOUT", parse_duration, 5.0),
        pool_acquire_timeout_s=_parse(env, "POOL_ACQUIRE_TIMEOUT", parse_duration, 2.0),
    )
    key_file = _parse(env, "JWT_PUBLIC_KEY_FILE", Path, None)
    return Settings(
        database_url=database_url,
        database_url_setting=name if database_url is not None else "DATABASE_URL",
        replica_urls=_parse(env, "REPLICA_URLS", _replica_urls, (), secret=True),
        data_dir=_parse(env, "DATA_DIR", Path, Path(".cpni-gateway")),
        host=env.get(PREFIX + "HOST") or "127.0.0.1",
        port=_parse(env, "PORT", _positive_int, 8000),
        workers=_parse(env, "WORKERS", _positive_int, 1),
        regime=_parse(env, "REGIME", _regime, Regime.OPT_OUT),
        graphiql=_parse(env, "GRAPHIQL", _bool, True),
        jwt_secret=_parse(env, "JWT_SECRET", _secret, None, secret=True),
        cursor_key=_parse(env, "CURSOR_KEY", _secret, None, secret=True),
        jwt_issuer=env.get(PREFIX + "JWT_ISSUER") or "cpni-gateway",
        jwt_algorithms=_parse(env, "JWT_ALGORITHMS", _algorithms, ("HS256",)),
        jwt_public_key_file=key_file,
        jwks_url=_parse(env, "JWKS_URL", _jwks_url, None),
        policy_dir=_parse(env, "POLICY_DIR", Path, None),
        pool_min_size=_parse(env, "POOL_MIN_SIZE", _positive_int, 1),
        pool_max_size=_parse(env, "POOL_MAX_SIZE", _positive_int, 10),
        audit_retention_days=_parse(env, "AUDIT_RETENTION_DAYS", _positive_int, 730),
        server_timing=_parse(env, "SERVER_TIMING", _bool, False),
        planner=_parse(env, "PLANNER", _bool, True),
        trusted_documents=_parse(env, "TRUSTED_DOCUMENTS", _trusted_mode, "enforce"),
        shutdown_timeout_s=_parse(env, "SHUTDOWN_TIMEOUT", parse_duration, 30.0),
        limits=limits,
    )
