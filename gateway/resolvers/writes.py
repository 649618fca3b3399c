"""Writes: CPNI approvals and notices, campaigns, and the idempotency records guarding them.

Every write runs in one transaction together with its idempotency record
(when the request carries an ``Idempotency-Key``), so a retried request
either finds the first result or makes the write, never both. The request's
audit events are appended last in that same transaction (``audit``, a
callback the caller passes): no change commits without its record, and a
failing audit store leaves no change behind. Refusals are
:class:`WriteRefused` (a field and a message safe to show the caller) and
:class:`IdempotencyConflict`; database failures propagate as asyncpg errors.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias, TypeVar, get_type_hints

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from gateway.resolvers.database import Database
from gateway.resolvers.rows import ApprovalRow, CampaignRow, NoticeRow

# A plain connection or one lent by the pool: the writes use either.
Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[Any]"

R = TypeVar("R", ApprovalRow, NoticeRow, CampaignRow)
# Appends the request's audit events on the write's connection, in its transaction.
Audit = Callable[[Conn], Awaitable[object]]


class WriteRefused(Exception):
    """The write cannot be made as asked: ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before, by this client, for a different request."""


@dataclass(frozen=True)
class Idempotency:
    """Who retries what: the client, its key and a hash of the normalized request."""

    client: str
    key: str
    operation: str
    request_hash: str


def idempotency(client: str, key: str, operation: str, params: Mapping[str, Any]) -> Idempotency:
    """The idempotency record of ``operation`` with the (validated, normalized) ``params``."""
    canonical = orjson.dumps({"operation": operation, "params": params}, option=orjson.OPT_SORT_KEYS)
    return Idempotency(client, key, operation, hashlib.sha256(canonical).hexdigest())


_CLAIM_SQL = """
INSERT INTO idempotency_keys (client, key, operation, request_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT (client, key) DO NOTHING
RETURNING true
"""
_FIRST_SQL = "SELECT request_hash, response::text AS response FROM idempotency_keys WHERE client = $1 AND key = $2"
_ANSWER_SQL = "UPDATE idempotency_keys SET response = $3::jsonb WHERE client = $1 AND key = $2"


async def _write_once(
    db: Database,
    guard: Idempotency | None,
    row_type: type[R],
    write: Callable[[Conn], Awaitable[R]],
    audit: Audit | None = None,
) -> R:
    """Run ``write`` once per idempotency key; a retry gets the first result back.

    ``audit`` runs last inside the transaction, on a retry too (the first
    result is disclosed again).
    """
    async with db.pool.acquire(timeout=db.acquire_timeout) as conn, conn.transaction():
        if guard is not None:
            db.round_trips += 1
            # On a key held by a transaction still running, this waits for it:
            # concurrent retries are serialized by the primary key.
            claimed = await conn.fetchval(_CLAIM_SQL, guard.client, guard.key, guard.operation, guard.request_hash)
            if not claimed:
                db.round_trips += 1
                first = await conn.fetchrow(_FIRST_SQL, guard.client, guard.key)
                if first is None or first["request_hash"] != guard.request_hash or first["response"] is None:
                    raise IdempotencyConflict()
                replayed = _decode(row_type, first["response"])
                await _audit(db, conn, audit)
                return replayed
        db.round_trips += 1
        result = await write(conn)
        if guard is not None:
            db.round_trips += 1
            await conn.execute(_ANSWER_SQL, guard.client, guard.key, orjson.dumps(result._asdict()).decode())
        await _audit(db, conn, audit)
        return result


async def _audit(db: Database, conn: Conn, audit: Audit | None) -> None:
    if audit is not None:
        db.round_trips += 2  # the role for the rest of the transaction, the append
        await audit(conn)


def _decode(row_type: type[R], text: str) -> R:
    data = orjson.loads(text)
    for name, hint in get_type_hints(row_type).items():
        if hint is datetime:  # JSON keeps times as ISO 8601 text
            data[name] = datetime.fromisoformat(data[name])
    return row_type(**data)


# -- CPNI approvals and notices (append-only histories) ----------------------

_APPROVAL_SQL = """
INSERT INTO cpni_approvals (customer_id, scope, status, channel, recorded_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, customer_id, status, scope, channel, recorded_at
"""

_NOTICE_SQL = """
INSERT INTO cpni_notices (customer_id, sent_at, method, recorded_by)
VALUES ($1, $2, $3, $4)
RETURNING id, customer_id, sent_at, method
"""


async def record_approval(
    db: Database,
    guard: Idempotency | None,
    *,
    customer_id: int,
    status: str,
    scope: str,
    channel: str,
    recorded_by: str,
    audit: Audit | None = None,
) -> ApprovalRow:
    """Append an approval record; it is the customer's latest from the next request on."""

    async def write(conn: Conn) -> ApprovalRow:
        try:
            row = await conn.fetchrow(_APPROVAL_SQL, customer_id, scope, status, channel, recorded_by)
        except asyncpg.exceptions.ForeignKeyViolationError:
            raise WriteRefused("input.customerId", "names no customer") from None
        assert row is not None
        return ApprovalRow(**dict(row))

    return await _write_once(db, guard, ApprovalRow, write, audit)


async def record_notice(
    db: Database,
    guard: Idempotency | None,
    *,
    customer_id: int,
    sent_at: datetime,
    method: str,
    recorded_by: str,
    audit: Audit | None = None,
) -> NoticeRow:
    """Append a notice record; the 30-day opt-out wait runs from ``sent_at``."""

    async def write(conn: Conn) -> NoticeRow:
        try:
            row = await conn.fetchrow(_NOTICE_SQL, customer_id, sent_at, method, recorded_by)
        except asyncpg.exceptions.ForeignKeyViolationError:
            raise WriteRefused("input.customerId", "names no customer") from None
        assert row is not None
        return NoticeRow(**dict(row))

    return await _write_once(db, guard, NoticeRow, write, audit)


# -- Campaigns (64.2009(c), (d)) ---------------------------------------------

_CAMPAIGN_COLUMNS = (
    "id, name, description, division, purpose, status, categories, target_categories, starts_at, ends_at"
)

_CREATE_CAMPAIGN_SQL = f"""
INSERT INTO campaigns (id, name, description, division, purpose, categories, target_categories,
                       starts_at, ends_at, status, created_by)
VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8, $9, 'PENDING', $10)
RETURNING {_CAMPAIGN_COLUMNS}
"""

# Locked so two reviewers approving at once do not both stamp the record.
_CAMPAIGN_FOR_REVIEW_SQL = f"""
SELECT {_CAMPAIGN_COLUMNS}, ends_at <= now() AS ended FROM campaigns WHERE id = $1 FOR UPDATE
"""

_APPROVE_CAMPAIGN_SQL = f"""
UPDATE campaigns SET status = 'APPROVED', approved_by = $2, approved_at = now()
WHERE id = $1
RETURNING {_CAMPAIGN_COLUMNS}
"""


def new_campaign_id() -> str:
    """A fresh campaign id: random, so ids say nothing about other campaigns."""
    return f"cmp-{secrets.token_hex(8)}"


async def create_campaign(
    db: Database,
    guard: Idempotency | None,
    *,
    name: str,
    description: str,
    division: str,
    purpose: str,
    categories: Sequence[str],
    target_categories: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    audit: Audit | None = None,
) -> CampaignRow:
    """Record a campaign as PENDING: it is usable only once the privacy office approves it."""

    async def write(conn: Conn) -> CampaignRow:
        row = await conn.fetchrow(
            _CREATE_CAMPAIGN_SQL,
            new_campaign_id(), name, description, division, purpose,
            list(categories), list(target_categories), starts_at, ends_at, created_by,
        )
        assert row is not None
        return CampaignRow(**dict(row))

    return await _write_once(db, guard, CampaignRow, write, audit)


async def approve_campaign(
    db: Database, guard: Idempotency | None, *, campaign_id: str, approved_by: str, audit: Audit | None = None
) -> CampaignRow:
    """Approve a PENDING campaign; approving an approved one changes nothing."""

    async def write(conn: Conn) -> CampaignRow:
        found = await conn.fetchrow(_CAMPAIGN_FOR_REVIEW_SQL, campaign_id)
        if found is None:
            raise WriteRefused("id", "names no campaign")
        current = dict(found)
        if current.pop("ended"):
            raise WriteRefused("id", "names a campaign that has already ended")
        if current["status"] == "APPROVED":
            return CampaignRow(**current)  # the first approval stands
        db.round_trips += 1
        row = await conn.fetchrow(_APPROVE_CAMPAIGN_SQL, campaign_id, approved_by)
        assert row is not None
        return CampaignRow(**dict(row))

    return await _write_once(db, guard, CampaignRow, write, audit)
