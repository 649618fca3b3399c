"""The ``cpni-gateway`` command line: one click group, one module per command group."""

from __future__ import annotations

import click

from gateway.cli.audit import audit
from gateway.cli.db import db
from gateway.cli.operations import operations
from gateway.cli.policy import policy
from gateway.cli.schema import schema
from gateway.cli.serve import serve
from gateway.cli.token import token


@click.group(name="cpni-gateway", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cpni-gateway")
def main() -> None:
    """CPNI Gateway: field-level authorization for customer data (47 U.S.C. 222)."""


main.add_command(serve)
main.add_command(db)
main.add_command(token)
main.add_command(policy)
main.add_command(audit)
main.add_command(schema)
main.add_command(operations)
