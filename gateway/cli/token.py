"""``cpni-gateway token``: signed demo and test tokens."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.auth import issue_token, parse_ttl
from gateway.authz.model import PURPOSES_BY_VALUE, Purpose
from gateway.authz.policy import PolicyError, load_policy
from gateway.cli.common import data_dir_option, settings_or_exit
from gateway.config import ConfigError
from gateway.keys import signing_settings


@click.group()
def token() -> None:
    """Bearer tokens (JWT)."""


@token.command()
@click.option("--division", "-d", required=True, help="Division id from policies/divisions.toml.")
@click.option(
    "--purpose",
    "-p",
    "purposes",
    multiple=True,
    help="A purpose the client may declare (repeatable; default: all of the division's).",
)
@click.option("--ttl", default="1h", show_default=True, help="Lifetime: 90s, 15m, 1h, 7d.")
@click.option("--client", default=None, help="The `sub` claim (default: DIVISION-client).")
@data_dir_option
def issue(division: str, purposes: tuple[str, ...], ttl: str, client: str | None, data_dir: Path | None) -> None:
    """Print a signed JWT (HS256 with CPNI_GATEWAY_JWT_SECRET, or the demo secret of --data-dir)."""
    try:
        settings = signing_settings(settings_or_exit(data_dir=data_dir))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        bundle = load_policy(settings.policy_dir)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    found = bundle.divisions.get(division)
    if found is None:
        known = ", ".join(sorted(bundle.divisions))
        raise click.BadParameter(f"unknown division {division!r} (known: {known})", param_hint="--division")
    try:
        seconds = parse_ttl(ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    chosen: list[Purpose] = []
    for name in purposes or sorted(p.value for p in found.purposes):
        purpose = PURPOSES_BY_VALUE.get(name.lower())
        if not isinstance(purpose, Purpose):
            raise click.BadParameter(f"unknown purpose {name!r}", param_hint="--purpose")
        if purpose not in found.purposes:
            raise click.BadParameter(
                f"division {division!r} may not declare {purpose.value!r}", param_hint="--purpose"
            )
        chosen.append(purpose)
    click.echo(issue_token(settings, division=found, purposes=chosen, ttl_seconds=seconds, client=client))
