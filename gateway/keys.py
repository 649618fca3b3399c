"""Server keys: the HS256 token secret and the cursor key.

Production configures them (``CPNI_GATEWAY_JWT_SECRET`` or a public key
file / JWKS URL, and ``CPNI_GATEWAY_CURSOR_KEY``), the same on every process
and host, so a token or a cursor issued by one gateway works on another.
Nothing here has a constant default: a gateway without a key refuses to
start (:func:`require_keys`).

The demo makes both at random on first use and keeps them in its data
directory (``demo-keys.json``, readable by its owner only), where
``serve --demo`` and ``token issue`` find them.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import replace
from pathlib import Path

from gateway.config import PREFIX, ConfigError, Settings

DEMO_KEYS_FILE = "demo-keys.json"
MIN_SECRET_LENGTH = 32


def require_keys(settings: Settings) -> None:
    """Refuse (one line naming the setting) a gateway that could not verify a token or seal a cursor."""
    if not (settings.jwt_secret or settings.jwt_public_key_file or settings.jwks_url):
        raise ConfigError(
            f"no token key configured: set {PREFIX}JWT_SECRET (HS256), {PREFIX}JWT_PUBLIC_KEY_FILE"
            f" or {PREFIX}JWKS_URL (or run `cpni-gateway serve --demo`)"
        )
    if not settings.cursor_key:
        raise ConfigError(
            f"no cursor key configured: set {PREFIX}CURSOR_KEY to the same random string"
            f" (at least {MIN_SECRET_LENGTH} characters) on every gateway"
        )


def demo_keys(data_dir: Path) -> dict[str, str]:
    """The demo's keys of ``data_dir``, made at random on first use.

    Safe when several processes start at once: the file appears whole (a
    hard link of a finished temporary file) or not at all, and the loser of
    the race reads the winner's keys.
    """
    path = data_dir / DEMO_KEYS_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = {"jwt_secret": secrets.token_urlsafe(48), "cursor_key": secrets.token_urlsafe(48)}
        temporary = data_dir / f".{DEMO_KEYS_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(fresh, out)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        keys = json.loads(path.read_text())
        if not all(isinstance(keys.get(k), str) and keys[k] for k in ("jwt_secret", "cursor_key")):
            raise ValueError("missing keys")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable demo keys ({exc}); delete the file to make new ones") from None
    return {"jwt_secret": keys["jwt_secret"], "cursor_key": keys["cursor_key"]}


def with_demo_keys(settings: Settings) -> Settings:
    """``settings`` with the data directory's demo keys where none is configured."""
    keys = demo_keys(settings.data_dir)
    return replace(
        settings,
        jwt_secret=settings.jwt_secret or keys["jwt_secret"],
        cursor_key=settings.cursor_key or keys["cursor_key"],
    )


def signing_settings(settings: Settings) -> Settings:
    """Settings to sign a token with (``token issue``): the configured secret, else the demo's.

    Only reads: a data directory without demo keys is an error, not a new secret
    nobody's gateway knows.
    """
    if settings.jwt_secret:
        return settings
    if not (settings.data_dir / DEMO_KEYS_FILE).exists():
        raise ConfigError(
            f"no signing secret: set {PREFIX}JWT_SECRET, or start `cpni-gateway serve --demo`"
            f" once with --data-dir {settings.data_dir}"
        )
    return replace(settings, jwt_secret=demo_keys(settings.data_dir)["jwt_secret"])
