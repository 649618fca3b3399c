"""Test data written straight into the database: customers with exactly the facts a test needs.

Each call allocates fresh ids, so tests sharing the session database never
see each other's customers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

_ids = itertools.count(900_000)


def next_id() -> int:
    return next(_ids)


@dataclass
class Made:
    """A customer made for a test, with the ids of what was made for it."""

    id: int
    service_ids: dict[str, int] = field(default_factory=dict)
    phone: str = ""
    contact_phone: str = ""


async def make_customer(
    pool: asyncpg.Pool,
    *,
    services: Iterable[str] = ("LOCAL",),
    status: str = "ACTIVE",
    segment: str = "RESIDENTIAL",
    listed: bool = True,
    approval: str | None = None,
    location_approval: str | None = None,
    notice_days_ago: int | None = None,
    notice_method: str = "MAIL",
    usage_per_service: int = 3,
    name: str | None = None,
    state: str = "CO",
) -> Made:
    """A customer with the given services and consent facts, plus usage, invoices and so on."""
    cid = next_id()
    now = datetime.now(UTC)
    phone = f"+1303555{cid % 10_000:04d}"
    made = Made(cid, phone=phone, contact_phone=phone if listed else f"+1720555{cid % 10_000:04d}")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO customers (id, account_number, segment, status, name, listed_phone)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            cid, f"ACC-{cid}", segment, status, name or f"Test Customer {cid}", phone if listed else None,
        )
        await conn.execute(
            "INSERT INTO customer_contacts (customer_id, email, contact_phone) VALUES ($1, $2, $3)",
            cid, f"c{cid}@example.test", made.contact_phone,
        )
        for kind, line in (("SERVICE", "1 Service St"), ("BILLING", "2 Billing Ave")):
            await conn.execute(
                "INSERT INTO addresses VALUES ($1, $2, $3, 'Denver', $4, '80202')", cid, kind, line, state
            )
        for n, category in enumerate(services):
            sid = cid * 10 + n
            made.service_ids[category] = sid
            await conn.execute(
                "INSERT INTO services VALUES ($1, $2, $3, $4, 'ACTIVE', $5)",
                sid, cid, category, f"{category.lower()}-plan", now - timedelta(days=400),
            )
            await conn.execute(
                "INSERT INTO service_configurations VALUES ($1, $2, $3, 'router-x', 100, '10.0.0.1')",
                sid, cid, ["caller-id", "voicemail"],
            )
            for k in range(usage_per_service):
                await conn.execute(
                    "INSERT INTO usage_records VALUES ($1, $2, $3, 120, 'OUTBOUND', '+13035550000', 1000, 'CELL-42')",
                    cid, sid, now - timedelta(hours=k + 1),
                )
        for m in range(3):
            await conn.execute(
                "INSERT INTO invoices VALUES ($1, $2, $3, $4, 4200, 'USD', 'PAID')",
                cid * 100 + m, cid, f"2026-0{m + 1}", now - timedelta(days=30 * (m + 1)),
            )
        await conn.execute("INSERT INTO balances VALUES ($1, 1234, 'USD')", cid)
        await conn.execute("INSERT INTO payment_methods VALUES ($1, 'CARD', '4242')", cid)
        if approval is not None:
            await record_approval(conn, cid, approval)
        if location_approval is not None:
            await record_approval(conn, cid, location_approval, scope="LOCATION")
        if notice_days_ago is not None:
            await conn.execute(
                "INSERT INTO cpni_notices (customer_id, sent_at, method, recorded_by) VALUES ($1, $2, $3, 'test')",
                cid, now - timedelta(days=notice_days_ago), notice_method,
            )
    return made


async def record_approval(
    conn: asyncpg.Connection | asyncpg.Pool, customer_id: int, status: str, *, scope: str = "CPNI"
) -> None:
    await conn.execute(
        "INSERT INTO cpni_approvals (customer_id, scope, status, channel, recorded_by)"
        " VALUES ($1, $2, $3, 'PHONE', 'test')",
        customer_id, scope, status,
    )


async def make_campaign(
    pool: asyncpg.Pool,
    *,
    division: str,
    purpose: str,
    categories: Iterable[str],
    status: str = "APPROVED",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> str:
    """A campaign record (current by default: started a day ago, ending in 30 days); its id."""
    now = datetime.now(UTC)
    campaign_id = f"test-campaign-{next_id()}"
    approved = status == "APPROVED"
    await pool.execute(
        "INSERT INTO campaigns (id, name, description, division, purpose, categories, starts_at, ends_at,"
        " status, created_by, approved_by, approved_at)"
        " VALUES ($1, $2, 'A test campaign.', $3, $4, $5::text[], $6, $7, $8, 'test', $9, $10)",
        campaign_id, f"Campaign {campaign_id}", division, purpose, list(categories),
        starts_at or now - timedelta(days=1), ends_at or now + timedelta(days=30),
        status, "test" if approved else None, now if approved else None,
    )
    return campaign_id
