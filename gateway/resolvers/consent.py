"""CPNI approvals and notices as customers see them (CONSENT data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gateway.resolvers.database import Database
from gateway.resolvers.rows import ApprovalRow, NoticeRow


async def latest_approvals(db: Database, keys: Sequence[tuple[int, str]]) -> list[ApprovalRow | None]:
    """The latest approval per ``(customer_id, scope)``: the latest record wins."""
    rows = await db.fetch(
        """
        SELECT DISTINCT ON (customer_id, scope) id, customer_id, status, scope, channel, recorded_at
        FROM cpni_approvals
        WHERE customer_id = ANY($1::bigint[]) AND scope = ANY($2::text[])
        ORDER BY customer_id, scope, recorded_at DESC, id DESC
        """,
        list({k[0] for k in keys}),
        list({k[1] for k in keys}),
    )
    found = {(r["customer_id"], r["scope"]): ApprovalRow(**dict(r)) for r in rows}
    return [found.get(k) for k in keys]


async def notices(db: Database, ids: Sequence[int]) -> list[list[NoticeRow]]:
    rows = await db.fetch(
        "SELECT id, customer_id, sent_at, method FROM cpni_notices"
        " WHERE customer_id = ANY($1::bigint[]) ORDER BY customer_id, sent_at DESC, id DESC",
        list(ids),
    )
    grouped: dict[int, list[NoticeRow]] = defaultdict(list)
    for r in rows:
        grouped[r["customer_id"]].append(NoticeRow(**dict(r)))
    return [grouped.get(i, []) for i in ids]
