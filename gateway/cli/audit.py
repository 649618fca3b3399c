"""``cpni-gateway audit``: verify, export and maintain the audit trail.

Every command uses ``DATABASE_URL`` (or the embedded server) like the others.
Run ``audit prune`` daily (cron, a Kubernetes CronJob): it creates the coming
months' partitions and drops the months past the retention period.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import click

from gateway.audit.campaigns import campaign_records, render_text
from gateway.audit.events import AuditQuery
from gateway.audit.export import FORMATS
from gateway.audit.export import export as export_events
from gateway.audit.retention import RetentionError, ensure_partitions
from gateway.audit.retention import prune as prune_partitions
from gateway.audit.verify import VerifyReport
from gateway.audit.verify import verify as verify_chains
from gateway.cli.common import data_dir_option, run_with_pool, settings_or_exit
from gateway.config import Settings

# Walking or exporting millions of rows takes longer than a request may.
STATEMENT_TIMEOUT_S = 600.0


class Moment(click.ParamType[datetime, Any]):
    """An ISO 8601 date or date-time; without a zone it is UTC."""

    name = "DATE[THH:MM[:SS]][ZONE]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T08:00Z)")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


MOMENT = Moment()


def _settings(data_dir: Path | None) -> Settings:
    settings = settings_or_exit(data_dir=data_dir)
    return replace(settings, limits=replace(settings.limits, statement_timeout_s=STATEMENT_TIMEOUT_S))


@click.group()
def audit() -> None:
    """The audit trail: verify its hash chains, export it, campaign records, retention."""


@audit.command()
@click.option(
    "--from-checkpoint", is_flag=True, help="Walk only what came after each chain's latest verified checkpoint."
)
@click.option("--no-checkpoint", is_flag=True, help="Do not record verified checkpoints.")
@data_dir_option
def verify(from_checkpoint: bool, no_checkpoint: bool, data_dir: Path | None) -> None:
    """Check every hash chain; print OK with counts, or name the first broken event and exit 1.

    A full walk starts at each chain's genesis or retention checkpoint and
    must pass through every recorded checkpoint unchanged.
    """
    settings = _settings(data_dir)

    async def work(pool: asyncpg.Pool) -> VerifyReport:
        return await verify_chains(pool, from_checkpoint=from_checkpoint, record_checkpoints=not no_checkpoint)

    report = run_with_pool(settings, work)
    if report.ok:
        click.echo(report.summary())
        return
    click.echo(report.summary(), err=True)
    for broken in report.breaks:
        click.echo(f"  {broken.describe()}", err=True)
    raise SystemExit(1)


@audit.command()
@click.option("--since", type=MOMENT, help="Events at or after this time (UTC unless a zone is given).")
@click.option("--until", type=MOMENT, help="Events before this time.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@data_dir_option
def export(since: datetime | None, until: datetime | None, fmt: str, data_dir: Path | None) -> None:
    """Stream the trail's rows, oldest first, to stdout (constant memory for any number of rows).

    A row is one event, or a record of one event per customer in its customer_ids.
    """
    settings = _settings(data_dir)
    out = sys.stdout.buffer

    async def work(pool: asyncpg.Pool) -> int:
        return await export_events(pool, AuditQuery(since=since, until=until), out, fmt)

    count = run_with_pool(settings, work)
    click.echo(f"exported {count} rows", err=True)


@audit.command()
@click.option("--since", type=MOMENT, help="Start of the period (default: one year ago).")
@click.option("--until", type=MOMENT, help="End of the period (default: now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@data_dir_option
def campaigns(since: datetime | None, until: datetime | None, fmt: str, data_dir: Path | None) -> None:
    """Print the 47 CFR 64.2009(c) record of each campaign: description, CPNI used, customers reached, divisions."""
    settings = _settings(data_dir)
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=365)
    records = run_with_pool(settings, lambda pool: campaign_records(pool, start, end))
    if fmt == "json":
        click.echo(json.dumps([r.as_json() for r in records], indent=2))
    else:
        click.echo(render_text(records), nl=False)


@audit.command()
@click.option("--retention-days", type=click.IntRange(min=1), help="Default: CPNI_GATEWAY_AUDIT_RETENTION_DAYS (730).")
@click.option("--dry-run", is_flag=True, help="List what would be dropped; change nothing.")
@data_dir_option
def prune(retention_days: int | None, dry_run: bool, data_dir: Path | None) -> None:
    """Create the coming months' partitions and drop the months past the retention period.

    Verifies every chain first and drops nothing if one is broken; each
    chain keeps a retention checkpoint at its last dropped event.
    """
    settings = _settings(data_dir)
    days = retention_days or settings.audit_retention_days

    async def work(pool: asyncpg.Pool) -> None:
        try:
            if not dry_run:
                created = await ensure_partitions(pool)
                click.echo(f"created {created} partitions ahead")
            report = await prune_partitions(pool, retention_days=days, dry_run=dry_run)
        except RetentionError as exc:
            raise click.ClickException(str(exc)) from None
        verb = "would drop" if dry_run else "dropped"
        click.echo(f"retention {days} days: cutoff {report.cutoff.isoformat()}")
        click.echo(f"{verb} {len(report.dropped)} partitions: {', '.join(report.dropped) or '-'}")
        if report.checkpoints:
            click.echo(f"recorded {report.checkpoints} retention checkpoints")

    run_with_pool(settings, work)
