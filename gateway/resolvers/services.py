"""Services, their technical configuration, usage records and usage summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from gateway.resolvers.batch import Batch, Row, Rows, Statement, run
from gateway.resolvers.database import Database
from gateway.resolvers.rows import ConfigurationRow, DeviceLocationRow, ServiceRow, UsageRow, UsageSummaryRow

T = TypeVar("T")


def _grouped(keys: Sequence[int], rows: Rows, make: Callable[[Row], T], by: str = "customer_id") -> list[list[T]]:
    grouped: dict[int, list[T]] = defaultdict(list)
    for r in rows:
        grouped[r[by]].append(make(r))
    return [grouped.get(k, []) for k in keys]


SERVICES = Batch[int, list[ServiceRow]](
    statements=lambda ids: [
        Statement(
            "SELECT id, customer_id, category, plan, status, activated_at FROM services"
            " WHERE customer_id = ANY($1::bigint[]) ORDER BY customer_id, id",
            (list(ids),),
            frozenset({"activated_at"}),
        )
    ],
    assemble=lambda ids, results: _grouped(ids, results[0], lambda r: ServiceRow(**dict(r))),
)

CONFIGURATIONS = Batch[int, "ConfigurationRow | None"](
    statements=lambda ids: [
        Statement(
            "SELECT service_id, customer_id, features, equipment, bandwidth_mbps, ip_address"
            " FROM service_configurations WHERE service_id = ANY($1::bigint[])",
            (list(ids),),
        )
    ],
    assemble=lambda ids, results: _by_key(ids, results[0], lambda r: r["service_id"], ConfigurationRow),
)


def _by_key(keys: Sequence[Any], rows: Rows, key: Callable[[Row], Any], make: Callable[..., T]) -> list[T | None]:
    found = {key(r): make(**dict(r)) for r in rows}
    return [found.get(k) for k in keys]


async def services_by_customer(db: Database, ids: Sequence[int]) -> list[list[ServiceRow]]:
    return await run(db, SERVICES, ids)


async def configurations(db: Database, service_ids: Sequence[int]) -> list[ConfigurationRow | None]:
    return await run(db, CONFIGURATIONS, service_ids)


@dataclass(frozen=True, slots=True)
class UsageKey:
    """Usage records of one service in ``[since, until)``, newest first, at most ``first``."""

    service_id: int
    service_category: str
    since: datetime | None
    until: datetime | None
    first: int


USAGE_SQL = """
SELECT customer_id, service_id, started_at, duration_seconds, direction,
       counterparty, bytes, cell_site
FROM (
    SELECT u.*, row_number() OVER (
        PARTITION BY u.service_id ORDER BY u.started_at DESC) AS rank
    FROM usage_records u
    WHERE u.service_id = ANY($1::bigint[])
      AND ($2::timestamptz IS NULL OR u.started_at >= $2)
      AND ($3::timestamptz IS NULL OR u.started_at < $3)
) ranked
WHERE rank <= $4
ORDER BY service_id, started_at DESC
"""


def _windows(keys: Sequence[UsageKey]) -> dict[tuple[datetime | None, datetime | None, int], list[UsageKey]]:
    """One statement per distinct window (a property of the document, not of the data)."""
    windows: dict[tuple[datetime | None, datetime | None, int], list[UsageKey]] = defaultdict(list)
    for key in keys:
        windows[(key.since, key.until, key.first)].append(key)
    return windows


def _usage_statements(keys: Sequence[UsageKey]) -> list[Statement]:
    return [
        Statement(USAGE_SQL, (list({k.service_id for k in group}), since, until, first), frozenset({"started_at"}))
        for (since, until, first), group in _windows(keys).items()
    ]


def _usage_assemble(keys: Sequence[UsageKey], results: list[Rows]) -> list[list[UsageRow]]:
    found: dict[UsageKey, list[UsageRow]] = {}
    for group, rows in zip(_windows(keys).values(), results, strict=True):
        categories = {k.service_id: k.service_category for k in group}
        per_service: dict[int, list[UsageRow]] = defaultdict(list)
        for r in rows:
            per_service[r["service_id"]].append(UsageRow(service_category=categories[r["service_id"]], **dict(r)))
        for key in group:
            found[key] = per_service.get(key.service_id, [])
    return [found[k] for k in keys]


USAGE = Batch[UsageKey, list[UsageRow]](statements=_usage_statements, assemble=_usage_assemble)


async def usage(db: Database, keys: Sequence[UsageKey]) -> list[list[UsageRow]]:
    return await run(db, USAGE, keys)


USAGE_SUMMARIES = Batch[tuple[int, str], UsageSummaryRow](
    statements=lambda keys: [
        Statement(
            """
            SELECT service_id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
                   count(*) FILTER (WHERE direction <> 'DATA') AS calls,
                   coalesce(sum(duration_seconds) FILTER (WHERE direction <> 'DATA'), 0) / 60 AS minutes,
                   coalesce(sum(bytes), 0) AS bytes
            FROM usage_records
            WHERE service_id = ANY($1::bigint[])
              AND to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM') = ANY($2::text[])
            GROUP BY 1, 2
            """,
            (list({k[0] for k in keys}), list({k[1] for k in keys})),
        )
    ],
    assemble=lambda keys, results: _summaries(keys, results[0]),
)


def _summaries(keys: Sequence[tuple[int, str]], rows: Rows) -> list[UsageSummaryRow]:
    found = {
        (r["service_id"], r["month"]): UsageSummaryRow(r["month"], int(r["calls"]), int(r["minutes"]), int(r["bytes"]))
        for r in rows
    }
    return [found.get(k, UsageSummaryRow(k[1], 0, 0, 0)) for k in keys]


async def usage_summaries(db: Database, keys: Sequence[tuple[int, str]]) -> list[UsageSummaryRow]:
    """Monthly totals keyed by ``(service_id, 'YYYY-MM')``."""
    return await run(db, USAGE_SUMMARIES, keys)


# The newest usage record with a cell site, per service: one index probe per
# service (usage_records_service_cell_site, migration 0005), whatever the
# number of records.
LAST_LOCATION_SQL = """
SELECT s.customer_id, s.id AS service_id, s.category AS service_category, l.cell_site, l.started_at AS seen_at
FROM services s
CROSS JOIN LATERAL (
    SELECT u.cell_site, u.started_at
    FROM usage_records u
    WHERE u.customer_id = s.customer_id AND u.service_id = s.id AND u.cell_site IS NOT NULL
    ORDER BY u.started_at DESC
    LIMIT 1
) l
WHERE s.customer_id = ANY($1::bigint[])
ORDER BY s.customer_id, s.id
"""


LAST_LOCATIONS = Batch[int, list[DeviceLocationRow]](
    statements=lambda ids: [Statement(LAST_LOCATION_SQL, (list(ids),), frozenset({"seen_at"}))],
    assemble=lambda ids, results: _grouped(ids, results[0], lambda r: DeviceLocationRow(**dict(r))),
)


async def last_known_locations(db: Database, ids: Sequence[int]) -> list[list[DeviceLocationRow]]:
    """Per customer id, the latest cell site of each of its services that has one (one round trip)."""
    return await run(db, LAST_LOCATIONS, ids)
