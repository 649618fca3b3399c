"""The 64.2009(c) campaign record, read from the audit trail.

For each marketing campaign: its description and the products it offered
(the campaigns table), the CPNI categories actually disclosed under it, how
many customers it reached and which divisions used it (the audit trail).
Campaigns current in the period but never used appear with nothing used;
a campaign id the campaigns table does not know still appears (flagged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.authz.model import Category

# What 222(h)(1) makes CPNI: service type and configuration, use, location
# and the information in bills (PAYMENT: the instrument on those bills).
CPNI_CATEGORIES = frozenset(
    {Category.SERVICE, Category.CONFIGURATION, Category.USAGE, Category.LOCATION, Category.BILLING, Category.PAYMENT}
)
_ORDER = {c.value: i for i, c in enumerate(Category)}

REPORT_SQL = """
WITH used AS (
    SELECT e.campaign_id,
           min(e.at) AS first_use,
           max(e.at) AS last_use,
           count(DISTINCT coalesce(r.customer_id, e.customer_id))
               FILTER (WHERE e.disclosed <> '{}' AND e.disclosed <> '{PUBLIC}') AS reached,
           array_agg(DISTINCT e.division) AS divisions,
           array(SELECT DISTINCT d FROM audit_events x, unnest(x.disclosed) d
                  WHERE x.campaign_id = e.campaign_id AND x.at >= $1 AND x.at < $2) AS disclosed
    FROM audit_events e
    LEFT JOIN LATERAL unnest(e.customer_ids) AS r(customer_id) ON true  -- a record's customers
    WHERE e.campaign_id IS NOT NULL AND e.at >= $1 AND e.at < $2
    GROUP BY e.campaign_id
)
SELECT coalesce(c.id, u.campaign_id) AS id, c.id IS NOT NULL AS known, c.name, c.description, c.division,
       c.purpose, c.status, c.categories, c.target_categories, c.starts_at, c.ends_at, c.approved_by,
       c.approved_at, u.first_use, u.last_use, coalesce(u.reached, 0) AS reached,
       coalesce(u.divisions, '{}') AS divisions, coalesce(u.disclosed, '{}') AS disclosed
FROM used u
FULL JOIN (SELECT * FROM campaigns WHERE starts_at < $2 AND ends_at > $1) c ON c.id = u.campaign_id
ORDER BY coalesce(u.first_use, c.starts_at), 1
"""


@dataclass(frozen=True)
class CampaignRecord:
    """One campaign's record for the period."""

    id: str
    known: bool  # False: events name a campaign the campaigns table lacks
    name: str | None
    description: str | None
    owner: str | None  # the division that created it
    purpose: str | None
    status: str | None
    approved_by: str | None
    approved_at: datetime | None
    declared: tuple[str, ...]  # categories the campaign was approved for
    products: tuple[str, ...]  # target service categories (products offered)
    cpni_used: tuple[str, ...]  # CPNI categories disclosed under it
    other_used: tuple[str, ...]  # non-CPNI categories disclosed under it
    customers_reached: int  # customers with anything beyond ids disclosed
    divisions: tuple[str, ...]  # divisions whose requests ran under it
    first_use: datetime | None
    last_use: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()}


def _ordered(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(sorted(values or (), key=lambda v: (_ORDER.get(v, len(_ORDER)), v)))


async def campaign_records(pool: asyncpg.Pool, since: datetime, until: datetime) -> list[CampaignRecord]:
    """The record of every campaign used or current in ``[since, until)``."""
    cpni = {c.value for c in CPNI_CATEGORIES}
    records = []
    for r in await pool.fetch(REPORT_SQL, since, until):
        disclosed = [d for d in r["disclosed"] if d != Category.PUBLIC.value]
        records.append(
            CampaignRecord(
                id=r["id"],
                known=r["known"],
                name=r["name"],
                description=r["description"],
                owner=r["division"],
                purpose=r["purpose"],
                status=r["status"],
                approved_by=r["approved_by"],
                approved_at=r["approved_at"],
                declared=_ordered(r["categories"]),
                products=_ordered(r["target_categories"]),
                cpni_used=_ordered([d for d in disclosed if d in cpni]),
                other_used=_ordered([d for d in disclosed if d not in cpni]),
                customers_reached=r["reached"],
                divisions=tuple(sorted(r["divisions"])),
                first_use=r["first_use"],
                last_use=r["last_use"],
            )
        )
    return records


def render_text(records: Sequence[CampaignRecord]) -> str:
    """The records for people, one block per campaign."""
    if not records:
        return "No campaigns in this period.\n"
    lines: list[str] = []
    for rec in records:
        title = f"campaign {rec.id}" + (f": {rec.name}" if rec.name else "")
        lines.append(title if rec.known else f"{title} (not in the campaigns table)")
        if rec.known:
            lines.append(f"  description:        {rec.description}")
            lines.append(f"  run by:             {rec.owner} for {rec.purpose} ({rec.status})")
            approved = f"{rec.approved_by} at {rec.approved_at.isoformat()}" if rec.approved_at else "not approved"
            lines.append(f"  approved:           {approved}")
            lines.append(f"  products offered:   {', '.join(rec.products) or '-'}")
            lines.append(f"  categories allowed: {', '.join(rec.declared) or '-'}")
        lines.append(f"  CPNI used:          {', '.join(rec.cpni_used) or 'none'}")
        lines.append(f"  other data used:    {', '.join(rec.other_used) or 'none'}")
        lines.append(f"  customers reached:  {rec.customers_reached}")
        lines.append(f"  divisions:          {', '.join(rec.divisions) or '-'}")
        if rec.first_use and rec.last_use:
            lines.append(f"  used from:          {rec.first_use.isoformat()} to {rec.last_use.isoformat()}")
        lines.append("")
    return "\n".join(lines)
