"""The customers of the database counted by their facts: the input of `policy diff --impact`.

One set-based query: every customer's facts, as `facts.FACTS_SQL` defines
them (same columns, same latest-record-wins and notice-window rules), then
grouped, so the result has one row per distinct combination of facts and
service categories however many customers there are. No customer id leaves
the database.
"""

from __future__ import annotations

import asyncpg

from gateway.authz.impact import Group
from gateway.authz.model import ApprovalStatus, Facts, ServiceCategory
from gateway.resolvers.facts import NOTICE_WINDOW_SQL

# Joins instead of FACTS_SQL's per-customer subqueries: the same facts, but
# computed for all customers at once (DISTINCT ON walks cpni_approvals_latest).
POPULATION_SQL = f"""
WITH per_customer AS (
    SELECT customer_id,
           array_agg(DISTINCT category ORDER BY category)
               FILTER (WHERE status IN ('ACTIVE', 'SUSPENDED')) AS subscribed,
           array_agg(DISTINCT category ORDER BY category) AS services
    FROM services
    GROUP BY customer_id
), latest AS (
    SELECT DISTINCT ON (customer_id, scope) customer_id, scope, status
    FROM cpni_approvals
    ORDER BY customer_id, scope, recorded_at DESC, id DESC
), noticed AS (
    SELECT DISTINCT customer_id
    FROM cpni_notices n
    WHERE {NOTICE_WINDOW_SQL}
)
SELECT c.status = 'TERMINATED' AS terminated,
       c.segment = 'BUSINESS' AS business,
       coalesce(s.subscribed, '{{}}') AS subscribed,
       coalesce(s.services, '{{}}') AS services,
       coalesce(cpni.status, 'NONE') AS cpni_approval,
       coalesce(loc.status = 'OPT_IN', false) AS location_approved,
       n.customer_id IS NOT NULL AS notice_in_window,
       c.listed_phone IS NOT NULL AS listing_published,
       count(*) AS customers
FROM customers c
LEFT JOIN per_customer s ON s.customer_id = c.id
LEFT JOIN latest cpni ON cpni.customer_id = c.id AND cpni.scope = 'CPNI'
LEFT JOIN latest loc ON loc.customer_id = c.id AND loc.scope = 'LOCATION'
LEFT JOIN noticed n ON n.customer_id = c.id
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""


async def population(pool: asyncpg.Pool, *, timeout_s: float = 600.0) -> list[Group]:
    """Every customer of the database, counted per distinct (facts, service categories).

    A reviewer's batch query, not a request: it gets its own time budget
    (the pool's statement timeout is sized for requests), read-only.
    """
    async with pool.acquire(timeout=timeout_s) as conn, conn.transaction(readonly=True):
        await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
        rows = await conn.fetch(POPULATION_SQL, timeout=timeout_s)
    return [
        Group(
            facts=Facts(
                subscribed=frozenset(ServiceCategory(c) for c in r["subscribed"]),
                terminated=r["terminated"],
                business=r["business"],
                cpni_approval=ApprovalStatus(r["cpni_approval"]),
                notice_in_window=r["notice_in_window"],
                location_approved=r["location_approved"],
                listing_published=r["listing_published"],
            ),
            services=frozenset(ServiceCategory(c) for c in r["services"]),
            customers=r["customers"],
        )
        for r in rows
    ]
