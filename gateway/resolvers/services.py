"""Services, their technical configuration, usage records and usage summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.resolvers.database import Database
from gateway.resolvers.rows import ConfigurationRow, DeviceLocationRow, ServiceRow, UsageRow, UsageSummaryRow


async def services_by_customer(db: Database, ids: Sequence[int]) -> list[list[ServiceRow]]:
    rows = await db.fetch(
        "SELECT id, customer_id, category, plan, status, activated_at FROM services"
        " WHERE customer_id = ANY($1::bigint[]) ORDER BY customer_id, id",
        list(ids),
    )
    grouped: dict[int, list[ServiceRow]] = defaultdict(list)
    for r in rows:
        grouped[r["customer_id"]].append(ServiceRow(**dict(r)))
    return [grouped.get(i, []) for i in ids]


async def configurations(db: Database, service_ids: Sequence[int]) -> list[ConfigurationRow | None]:
    rows = await db.fetch(
        "SELECT service_id, customer_id, features, equipment, bandwidth_mbps, ip_address"
        " FROM service_configurations WHERE service_id = ANY($1::bigint[])",
        list(service_ids),
    )
    found = {r["service_id"]: ConfigurationRow(**dict(r)) for r in rows}
    return [found.get(i) for i in service_ids]


@dataclass(frozen=True, slots=True)
class UsageKey:
    """Usage records of one service in ``[since, until)``, newest first, at most ``first``."""

    service_id: int
    service_category: str
    since: datetime | None
    until: datetime | None
    first: int


async def usage(db: Database, keys: Sequence[UsageKey]) -> list[list[UsageRow]]:
    """One query per distinct window (a property of the document, not of the data)."""
    windows: dict[tuple[datetime | None, datetime | None, int], list[UsageKey]] = defaultdict(list)
    for key in keys:
        windows[(key.since, key.until, key.first)].append(key)
    found: dict[UsageKey, list[UsageRow]] = {}
    for (since, until, first), group in windows.items():
        categories = {k.service_id: k.service_category for k in group}
        rows = await db.fetch(
            """
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
            """,
            list(categories),
            since,
            until,
            first,
        )
        per_service: dict[int, list[UsageRow]] = defaultdict(list)
        for r in rows:
            per_service[r["service_id"]].append(
                UsageRow(service_category=categories[r["service_id"]], **dict(r))
            )
        for key in group:
            found[key] = per_service.get(key.service_id, [])
    return [found[k] for k in keys]


async def usage_summaries(
    db: Database, keys: Sequence[tuple[int, str]]
) -> list[UsageSummaryRow | None]:
    """Monthly totals keyed by ``(service_id, 'YYYY-MM')``."""
    rows = await db.fetch(
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
        list({k[0] for k in keys}),
        list({k[1] for k in keys}),
    )
    found = {
        (r["service_id"], r["month"]): UsageSummaryRow(
            r["month"], int(r["calls"]), int(r["minutes"]), int(r["bytes"])
        )
        for r in rows
    }
    return [found.get(k, UsageSummaryRow(k[1], 0, 0, 0)) for k in keys]


# The newest usage record with a cell site, per service: one index probe per
# service (usage_records_service_cell_site, migration 0005), whatever the
# number of records.
LAST_LOCATION_SQL = """
SELECT s.customer_id, s.id AS service_id, s.category AS service_category, l.cell_site, l.started_at AS seen_at
FROM services s
CROSS JOIN LATERAL (
    SELECT u.cell_site, u.started_at
    FROM usage_records u
    WHERE u.service_id = s.id AND u.cell_site IS NOT NULL
    ORDER BY u.started_at DESC
    LIMIT 1
) l
WHERE s.customer_id = ANY($1::bigint[])
ORDER BY s.customer_id, s.id
"""


async def last_known_locations(db: Database, ids: Sequence[int]) -> list[list[DeviceLocationRow]]:
    """Per customer id, the latest cell site of each of its services that has one (one round trip)."""
    rows = await db.fetch(LAST_LOCATION_SQL, list(ids))
    grouped: dict[int, list[DeviceLocationRow]] = defaultdict(list)
    for r in rows:
        grouped[r["customer_id"]].append(DeviceLocationRow(**dict(r)))
    return [grouped.get(i, []) for i in ids]
