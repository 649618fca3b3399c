"""``cpni-gateway schema``: the GraphQL schema as a file."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def schema() -> None:
    """The GraphQL schema (SDL) with its @category directives."""


@schema.command("print")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to FILE (default: stdout)."
)
def print_(output: Path | None) -> None:
    """Print the SDL with every field's @category directive (introspection drops applied directives).

    The same text as GET /graphql/schema.graphql; reads no database and no policy.
    """
    from gateway.schema.sdl import schema_sdl  # noqa: PLC0415 - builds the schema

    text = schema_sdl()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
