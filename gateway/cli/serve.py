"""``cpni-gateway serve``: run the gateway with uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.common import data_dir_option


@click.command()
@click.option("--demo", is_flag=True, help="Migrate, seed demo data on first run, print demo tokens.")
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default 1).")
@data_dir_option
def serve(demo: bool, host: str | None, port: int | None, workers: int | None, data_dir: Path | None) -> None:
    """Serve the GraphQL API, GraphiQL, /healthz, /readyz, /metrics and /policy."""
    from gateway.server import run  # noqa: PLC0415 - uvicorn only when serving

    run(demo=demo, host=host, port=port, workers=workers, data_dir=data_dir)
