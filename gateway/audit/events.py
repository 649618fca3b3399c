"""Reading the audit trail: the filter shared by ``auditEvents`` and the export, and pages.

A row of ``audit_events`` is one event, or a *record* of one event per
customer in its ``customer_ids`` (migration 0010); :data:`EVENTS` expands
records, ``member`` numbering each customer's event in its record from 1
(0 for a row of one event). Pages are newest first and keyed on
``(at, id, member)``: new events never shift a page already read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import asyncpg

from gateway.audit.verify import BUCKET_SHIFT, EVENT_FIELDS

# One row per event, the row's columns as e.*, its customer as m.customer_id.
EVENTS = (
    "audit_events e CROSS JOIN LATERAL ("
    "SELECT e.customer_id, 0 WHERE e.customer_ids IS NULL"
    " UNION ALL SELECT c.customer_id, c.member::integer"
    " FROM unnest(e.customer_ids) WITH ORDINALITY AS c(customer_id, member)"
    ") AS m(customer_id, member)"
)
# A customer's rows, {0} its id: see AuditQuery.where.
_CUSTOMER = (
    "(e.customer_id = {0}"
    " OR (e.customer_buckets @> ARRAY[{0}::bigint >> %d] AND e.customer_ids @> ARRAY[{0}]::bigint[])"
    " OR (e.customer_buckets IS NULL AND e.customer_ids @> ARRAY[{0}]::bigint[]))"
) % BUCKET_SHIFT
# What an event is read as: a row's columns, the record's list left out.
_EVENT_COLUMNS = ", ".join(
    "m.customer_id" if c == "customer_id" else f"e.{c}" for c in EVENT_FIELDS if c != "customer_ids"
) + ", m.member"


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

    def where(self, args: list[Any], *, events: bool = True) -> str:
        """The SQL condition on ``audit_events e`` (and with ``events``, on :data:`EVENTS`' ``m``),
        appending its parameters to ``args``. Without ``events`` a record matches a customer it holds."""
        conditions = ["TRUE"]

        def add(sql: str, value: Any) -> None:
            args.append(value)
            conditions.append(sql.format(f"${len(args)}"))

        if self.division is not None:
            add("e.division = {}", self.division)
        if self.customer_id is not None:
            # Each side of the OR has its index: a row of one event (audit_events_customer), a
            # record by its customer's bucket (audit_events_customer_buckets, migration 0011), a
            # record written before buckets (audit_events_customers).
            add(_CUSTOMER, self.customer_id)
            if events:
                conditions.append(f"m.customer_id = ${len(args)}")
        if self.purpose is not None:
            add("e.purpose = {}", self.purpose)
        if self.campaign_id is not None:
            add("e.campaign_id = {}", self.campaign_id)
        if self.since is not None:
            add("e.at >= {}", self.since)
        if self.until is not None:
            add("e.at < {}", self.until)
        if self.outcome is Outcome.DISCLOSED:
            conditions.append("cardinality(e.disclosed) > 0")
        elif self.outcome is Outcome.DENIED:
            conditions.append("cardinality(e.denied) > 0")
        return " AND ".join(conditions)


async def page(
    db: Fetcher, query: AuditQuery, *, first: int, after: tuple[datetime, int, int] | None
) -> tuple[list[asyncpg.Record], bool]:
    """Up to ``first`` events older than ``after`` (newest first), and whether more follow."""
    args: list[Any] = []
    where = query.where(args)
    if after is not None:
        args.extend(after)
        where += f" AND (e.at, e.id, m.member) < (${len(args) - 2}, ${len(args) - 1}, ${len(args)})"
    args.append(first + 1)
    rows = await db.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM {EVENTS} WHERE {where}"
        f" ORDER BY e.at DESC, e.id DESC, m.member DESC LIMIT ${len(args)}",
        *args,
    )
    return list(rows[:first]), len(rows) > first
