"""Small helpers for end-to-end tests: approved campaigns and reading one customer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.authz.model import Category, Purpose
from gateway.plan.walk import Built, Settled
from gateway.resolvers.batch import Batch
from gateway.resolvers.billing import BALANCES
from tests.e2e.conftest import Gateway
from tests.factories import Made

_campaigns = itertools.count(1)
ALL_MARKETING_CATEGORIES = [
    c.value for c in Category if c not in (Category.PUBLIC, Category.PAYMENT, Category.CONSENT)
]


async def approved_campaign(
    pool: asyncpg.Pool, division: str, purpose: str, categories: list[str] | None = None
) -> str:
    """An approved, current campaign written straight into the database."""
    campaign_id = f"test-campaign-{division}-{next(_campaigns)}"
    now = datetime.now(UTC)
    await pool.execute(
        """
        INSERT INTO campaigns (id, name, description, division, purpose, categories, starts_at, ends_at,
                               status, created_by, approved_by, approved_at)
        VALUES ($1, $1, 'test campaign', $2, $3, $4, $5, $6, 'APPROVED', 'test', 'test', $5)
        """,
        campaign_id,
        division,
        purpose,
        categories or ALL_MARKETING_CATEGORIES,
        now - timedelta(days=1),
        now + timedelta(days=30),
    )
    return campaign_id


@dataclass
class Read:
    """The result of reading one customer: the data and the denied paths."""

    status: int
    data: dict[str, Any] | None
    denied: dict[str, str]  # dotted path -> category

    def allowed(self, path: str) -> bool:
        return path not in self.denied


async def read_customer(
    gateway: Gateway,
    pool: asyncpg.Pool,
    *,
    division: str,
    purpose: str,
    customer_id: int,
    selection: str,
    headers: dict[str, str] | None = None,
) -> Read:
    """Read ``customer(id) { selection }`` as ``division`` for ``purpose`` (with a campaign if marketing)."""
    extra = dict(headers or {})
    if Purpose(purpose).is_marketing and "X-Campaign-Id" not in extra:
        extra["X-Campaign-Id"] = await approved_campaign(pool, division, purpose)
    response = await gateway.query(
        f"query($id: ID!) {{ customer(id: $id) {{ {selection} }} }}",
        division=division,
        purpose=purpose,
        variables={"id": str(customer_id)},
        headers=extra,
    )
    body = response.json()
    denied = {}
    for error in body.get("errors", []):
        assert error["extensions"]["code"] == "FORBIDDEN", body
        assert set(error) <= {"message", "path", "locations", "extensions"}
        path = ".".join(str(p) for p in error["path"][1:])
        denied[path] = error["extensions"]["category"]
    data = (body.get("data") or {}).get("customer")
    return Read(response.status_code, data, denied)


def bug_in(where: str, made: Made, monkeypatch: pytest.MonkeyPatch, message: str) -> tuple[str, dict[str, str]]:
    """A bug (a RuntimeError carrying ``message``) in making an answer, and a query that meets it.

    ``assembled``: in assembling balances in Python (a lookup by phone);
    ``built``: in finishing an answer PostgreSQL built (a customer by id).
    """

    def broken(*_: object) -> list[object]:
        raise RuntimeError(message)

    if where == "assembled":
        monkeypatch.setattr("gateway.resolvers.billing.BALANCES", Batch(BALANCES.statements, broken))
        return f'{{ customerByPhone(phone: "{made.phone}") {{ name balance {{ amountCents }} }} }}', {}
    monkeypatch.setattr(Built, "finish", broken)
    monkeypatch.setattr(Settled, "finish", broken)  # an answer PostgreSQL wrote final
    return "query($id: ID!) { customer(id: $id) { name balance { amountCents } } }", {"id": str(made.id)}
