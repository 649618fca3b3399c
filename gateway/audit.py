"""The audit trail: every request that reads or is denied customer data is recorded.

One multi-row INSERT per request, committed before the response leaves; if
it fails the request fails closed (:class:`AuditUnavailable` -> HTTP 503).
Never field values, never tokens.
"""

from __future__ import annotations

import logging

import asyncpg

from gateway.authz.model import Category, Regime
from gateway.schema.context import RequestContext

log = logging.getLogger("cpni_gateway.audit")

CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}


class AuditUnavailable(Exception):
    """The audit store refused or could not take the request's events."""


def _sorted(categories: set[Category]) -> list[str]:
    return [c.value for c in sorted(categories, key=CATEGORY_ORDER.__getitem__)]


class AuditWriter:
    """Writes the events of one request in one statement."""

    def __init__(self, pool: asyncpg.Pool, regime: Regime) -> None:
        self.pool = pool
        self.regime = regime

    async def record(self, ctx: RequestContext, operation_name: str | None, *, outcome_denied: bool) -> int:
        """Write one event per customer touched; return how many were written."""
        rows = [
            (
                ctx.request_id,
                ctx.client,
                ctx.division.id,
                ctx.purpose.value,
                self.regime.value,
                ctx.campaign.id if ctx.campaign else None,
                operation_name,
                customer_id,
                _sorted(access.disclosed),
                _sorted(access.denied),
                sorted(access.policy_ids),
            )
            for customer_id, access in sorted(ctx.decisions.by_customer.items())
        ]
        if not rows:
            return 0
        try:
            async with self.pool.acquire() as conn:
                await conn.executemany(
                    """
                    INSERT INTO audit_events (request_id, client, division, purpose, regime,
                        campaign_id, operation_name, customer_id, disclosed, denied, policy_ids)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    """,
                    rows,
                )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("request %s: audit write failed (%s)", ctx.request_id, type(exc).__name__)
            raise AuditUnavailable() from None
        return len(rows)
