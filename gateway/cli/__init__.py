"""The ``cpni-gateway`` command line: one click group, one module per command group."""

from __future__ import annotations

import click

from gateway.cli.db import db
from gateway.cli.serve import serve
from gateway.cli.token import token


@click.group(name="cpni-gateway", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cpni-gateway")
def main() -> None:
    """CPNI Gateway: field-level authorization for customer data (47 U.S.C. 222)."""


main.add_command(serve)
main.add_command(db)
main.add_command(token)

try:  # command groups that land separately register themselves here
    from gateway.cli.policy import policy

    main.add_command(policy)
except ImportError:  # pragma: no cover - only while the module is absent
    pass
try:
    from gateway.cli.audit import audit

    main.add_command(audit)
except ImportError:  # pragma: no cover
    pass
