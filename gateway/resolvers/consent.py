"""CPNI approvals and notices as customers see them (CONSENT data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gateway.resolvers.batch import Batch, Rows, Statement, run
from gateway.resolvers.database import Database
from gateway.resolvers.rows import ApprovalRow, NoticeRow


def _latest(keys: Sequence[tuple[int, str]], rows: Rows) -> list[ApprovalRow | None]:
    found = {(r["customer_id"], r["scope"]): ApprovalRow(**dict(r)) for r in rows}
    return [found.get(k) for k in keys]


def _notices(ids: Sequence[int], rows: Rows) -> list[list[NoticeRow]]:
    grouped: dict[int, list[NoticeRow]] = defaultdict(list)
    for r in rows:
        grouped[r["customer_id"]].append(NoticeRow(**dict(r)))
    return [grouped.get(i, []) for i in ids]


# The latest approval per (customer_id, scope): the latest record wins.
LATEST_APPROVALS = Batch[tuple[int, str], "ApprovalRow | None"](
    statements=lambda keys: [
        Statement(
            """
            SELECT DISTINCT ON (customer_id, scope) id, customer_id, status, scope, channel, recorded_at
            FROM cpni_approvals
            WHERE customer_id = ANY($1::bigint[]) AND scope = ANY($2::text[])
            ORDER BY customer_id, scope, recorded_at DESC, id DESC
            """,
            (list({k[0] for k in keys}), list({k[1] for k in keys})),
            frozenset({"recorded_at"}),
        )
    ],
    assemble=lambda keys, results: _latest(keys, results[0]),
)

NOTICES = Batch[int, list[NoticeRow]](
    statements=lambda ids: [
        Statement(
            "SELECT id, customer_id, sent_at, method FROM cpni_notices"
            " WHERE customer_id = ANY($1::bigint[]) ORDER BY customer_id, sent_at DESC, id DESC",
            (list(ids),),
            frozenset({"sent_at"}),
        )
    ],
    assemble=lambda ids, results: _notices(ids, results[0]),
)


async def latest_approvals(db: Database, keys: Sequence[tuple[int, str]]) -> list[ApprovalRow | None]:
    """The latest approval per ``(customer_id, scope)``: the latest record wins."""
    return await run(db, LATEST_APPROVALS, keys)


async def notices(db: Database, ids: Sequence[int]) -> list[list[NoticeRow]]:
    return await run(db, NOTICES, ids)
