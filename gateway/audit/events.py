"""Reading the audit trail: the filter shared by ``auditEvents`` and the export, and pages.

Pages are newest first and keyed on ``(at, id)``: new events never shift a
page already read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import asyncpg

from gateway.audit.verify import EVENT_COLUMNS


class Fetcher(Protocol):
    """A pool, or the per-request ``Database`` that counts round trips."""

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]: ...


class Outcome(StrEnum):
    """DISCLOSED: the event disclosed some category; DENIED: it denied some (an event may do both)."""

    DISCLOSED = "DISCLOSED"
    DENIED = "DENIED"


@dataclass(frozen=True)
class AuditQuery:
    """Conditions on events; None means any."""

    division: str | None = None
    customer_id: int | None = None
    purpose: str | None = None
    campaign_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    outcome: Outcome | None = None

    def where(self, args: list[Any]) -> str:
        """The SQL condition, appending its parameters to ``args``."""
        conditions = ["TRUE"]

        def add(sql: str, value: Any) -> None:
            args.append(value)
            conditions.append(sql.format(f"${len(args)}"))

        if self.division is not None:
            add("division = {}", self.division)
        if self.customer_id is not None:
            add("customer_id = {}", self.customer_id)
        if self.purpose is not None:
            add("purpose = {}", self.purpose)
        if self.campaign_id is not None:
            add("campaign_id = {}", self.campaign_id)
        if self.since is not None:
            add("at >= {}", self.since)
        if self.until is not None:
            add("at < {}", self.until)
        if self.outcome is Outcome.DISCLOSED:
            conditions.append("cardinality(disclosed) > 0")
        elif self.outcome is Outcome.DENIED:
            conditions.append("cardinality(denied) > 0")
        return " AND ".join(conditions)


async def page(
    db: Fetcher, query: AuditQuery, *, first: int, after: tuple[datetime, int] | None
) -> tuple[list[asyncpg.Record], bool]:
    """Up to ``first`` events older than ``after`` (newest first), and whether more follow."""
    args: list[Any] = []
    where = query.where(args)
    if after is not None:
        args.extend(after)
        where += f" AND (at, id) < (${len(args) - 1}, ${len(args)})"
    args.append(first + 1)
    rows = await db.fetch(
        f"SELECT {EVENT_COLUMNS} FROM audit_events WHERE {where} ORDER BY at DESC, id DESC LIMIT ${len(args)}",
        *args,
    )
    return list(rows[:first]), len(rows) > first
