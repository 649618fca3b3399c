"""Retention: drop whole monthly partitions once every event in them is past the period.

Before dropping, every chain is verified (evidence of tampering is never
dropped), then in one transaction each affected chain gets a *retention*
checkpoint at its last dropped event and the partitions are dropped. A chain
then verifies from that checkpoint. Within a chain ``at`` never goes back
(audit_append takes the time under the head's lock), so a dropped month is
a prefix of every chain.

64.2009(c) asks for campaign records for at least a year and the campaign
report is read from this trail: a shorter retention is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.audit.verify import VerifyReport, verify

MIN_RETENTION_DAYS = 366
DDL_LOCK_TIMEOUT_MS = 1000
BUSY = "the audit table is busy (an export or verify is running?); nothing changed, try again later"
MONTHS_AHEAD = 3
DEFAULT_PARTITION = "audit_events_default"
_MONTHLY = re.compile(r"^audit_events_(\d{4})_(\d{2})$")

PARTITIONS_SQL = """
SELECT c.relname AS name
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_events'::regclass
ORDER BY c.relname
"""


class RetentionError(Exception):
    """Pruning was refused; the message says why."""


@dataclass(frozen=True)
class PruneReport:
    cutoff: datetime
    dropped: tuple[str, ...]
    checkpoints: int
    verified: VerifyReport | None = None
    kept: tuple[str, ...] = field(default=())


def month_end(name: str) -> datetime | None:
    """The exclusive upper bound of a monthly partition, from its name (None if not monthly)."""
    match = _MONTHLY.match(name)
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


async def ensure_partitions(pool: asyncpg.Pool, months_ahead: int = MONTHS_AHEAD) -> int:
    """Create the monthly partitions from this month to ``months_ahead`` ahead; return how many."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT_MS}ms'")
        try:
            created: int = await conn.fetchval("SELECT audit_ensure_partitions($1)", months_ahead)
        except asyncpg.LockNotAvailableError:
            raise RetentionError(BUSY) from None
    return created


async def _droppable(pool: asyncpg.Pool, cutoff: datetime) -> tuple[list[str], list[str]]:
    names = [r["name"] for r in await pool.fetch(PARTITIONS_SQL)]
    drop: list[str] = []
    keep: list[str] = []
    for name in names:
        end = month_end(name)
        if end is not None:
            (drop if end <= cutoff else keep).append(name)
        elif name == DEFAULT_PARTITION:
            # Events land here only when their month had no partition; the
            # whole partition goes once its newest event is past the period.
            newest = await pool.fetchval(f"SELECT max(at) FROM {DEFAULT_PARTITION}")
            (drop if newest is not None and newest < cutoff else keep).append(name)
        else:
            keep.append(name)
    return drop, keep


async def prune(
    pool: asyncpg.Pool, *, retention_days: int, now: datetime | None = None, dry_run: bool = False
) -> PruneReport:
    """Drop the partitions wholly older than ``retention_days``; see the module docstring."""
    if retention_days < MIN_RETENTION_DAYS:
        raise RetentionError(
            f"retention of {retention_days} days is shorter than the year 47 CFR 64.2009(c) "
            "requires for campaign records"
        )
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    drop, keep = await _droppable(pool, cutoff)
    if dry_run or not drop:
        return PruneReport(cutoff, tuple(drop), 0, None, tuple(keep))
    report = await verify(pool, record_checkpoints=False)
    if not report.ok:
        raise RetentionError(f"the audit trail does not verify, nothing dropped: {report.breaks[0].describe()}")
    async with pool.acquire() as conn, conn.transaction():
        # Dropping a partition locks the whole table; every audit write
        # queues behind that lock, so do not wait long for it.
        await conn.execute(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT_MS}ms'")
        union = " UNION ALL ".join(f"SELECT chain, seq, hash, at FROM {name}" for name in drop)
        lasts = await conn.fetch(
            f"SELECT DISTINCT ON (chain) chain, seq, hash, at FROM ({union}) d ORDER BY chain, seq DESC"
        )
        await conn.executemany(
            "INSERT INTO audit_checkpoints (chain, seq, hash, event_at, kind) VALUES ($1, $2, $3, $4, 'retention')",
            [(r["chain"], r["seq"], r["hash"], r["at"]) for r in lasts],
        )
        try:
            for name in drop:
                await conn.execute(f"DROP TABLE {name}")
        except asyncpg.LockNotAvailableError:
            raise RetentionError(BUSY) from None
        if DEFAULT_PARTITION in drop:
            await conn.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF audit_events DEFAULT")
            await conn.execute(
                f"CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON {DEFAULT_PARTITION}"
                " FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()"
            )
    return PruneReport(cutoff, tuple(drop), len(lasts), report, tuple(keep))
