"""Customer facts the policy reads, loaded per request in one round trip.

Never cached across requests: a consent change applies to the very next
request, on every worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.authz.model import ApprovalStatus, Facts, ServiceCategory
from gateway.resolvers.database import Database

# The opt-out waiting period and notice lifetime of 64.2008(d)(1) and (c).
FACTS_SQL = """
SELECT c.id, c.status, c.segment,
       coalesce((SELECT array_agg(DISTINCT s.category) FROM services s
                 WHERE s.customer_id = c.id AND s.status IN ('ACTIVE', 'SUSPENDED')),
                '{}') AS subscribed,
       (SELECT a.status FROM cpni_approvals a
         WHERE a.customer_id = c.id AND a.scope = 'CPNI'
         ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1) AS cpni_approval,
       (SELECT a.status FROM cpni_approvals a
         WHERE a.customer_id = c.id AND a.scope = 'LOCATION'
         ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1) AS location_approval,
       EXISTS (SELECT 1 FROM cpni_notices n
                WHERE n.customer_id = c.id
                  AND n.sent_at <= now() - interval '30 days'
                  AND n.sent_at > now() - interval '2 years') AS notice_in_window
FROM customers c
WHERE c.id = ANY($1::bigint[])
"""


async def facts_by_customer(db: Database, ids: Sequence[int]) -> list[Facts | None]:
    """Facts per customer id; None for an unknown customer (everything denied)."""
    rows = await db.fetch(FACTS_SQL, list(ids))
    found = {
        r["id"]: Facts(
            subscribed=frozenset(ServiceCategory(c) for c in r["subscribed"]),
            terminated=r["status"] == "TERMINATED",
            business=r["segment"] == "BUSINESS",
            cpni_approval=ApprovalStatus(r["cpni_approval"] or "NONE"),
            notice_in_window=bool(r["notice_in_window"]),
            location_approved=r["location_approval"] == "OPT_IN",
        )
        for r in rows
    }
    return [found.get(i) for i in ids]
