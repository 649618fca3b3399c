"""Mutation root: CPNI approvals and notices, marketing campaigns (SPEC 5, 6.3).

Each mutation is a Cedar action of its own (``policies/operations.cedar``,
``policies/audit.cedar``), checked by :class:`ActionGate` before its resolver
runs: a denial is ``FORBIDDEN`` and writes nothing. Inputs are then validated
(``BAD_USER_INPUT`` naming the field) and the write made by
``gateway.resolvers.writes``.

An ``Idempotency-Key`` header makes a mutation safe to retry: the same client
sending the same key and request gets the first result back, and nothing is
written twice; the key reused for a different request is ``BAD_USER_INPUT``.
A request carries one mutation: with several, an error in one would hide the
writes of the others (their results are non-null), so retries would double them.

The request's audit events are appended inside the write's transaction
(``RequestContext.audit``): the change and its record commit together, so
there is never a committed change without its record, nor a 503 after a
committed write because the record failed afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from gateway.authz.model import Action, Category
from gateway.resolvers import writes
from gateway.resolvers.rows import ApprovalRow, CampaignRow, NoticeRow
from gateway.schema.campaign import Campaign, CampaignInput, aware, campaign_request
from gateway.schema.categories import categorized, field
from gateway.schema.context import RequestContext
from gateway.schema.errors import BadUserInputError, OperationForbiddenError
from gateway.schema.gates import ActionGate
from gateway.schema.scalars import ApprovalScope, CpniApprovalStatus, NoticeMethod, customer_id_of
from gateway.schema.types import CpniApproval, CpniNotice

PUBLIC, CONSENT = Category.PUBLIC, Category.CONSENT
Row = TypeVar("Row", ApprovalRow, NoticeRow, CampaignRow)
MAX_KEY_LENGTH = 200
MAX_CHANNEL_LENGTH = 64
# Clocks of care systems drift; a notice is not "sent" further ahead than this.
CLOCK_SKEW = timedelta(minutes=5)


@strawberry.input(description="A customer's CPNI approval or disapproval, as the customer gave it.")
class CpniApprovalInput:
    customer_id: strawberry.ID
    status: CpniApprovalStatus
    scope: ApprovalScope | None = strawberry.field(
        default=ApprovalScope.CPNI, description="LOCATION records express approval for call location (222(f))."
    )
    channel: str = strawberry.field(description="How the customer gave it, e.g. PHONE, WEB, MAIL.")


@strawberry.input(description="An opt-out notice sent to the customer (64.2008).")
class CpniNoticeInput:
    customer_id: strawberry.ID
    sent_at: datetime = strawberry.field(description="When it was sent; the 30-day wait runs from here.")
    method: NoticeMethod


def _guard(ctx: RequestContext, operation: str, params: dict[str, Any]) -> writes.Idempotency | None:
    """The idempotency record of this request, if it carries an ``Idempotency-Key``."""
    if ctx.idempotency_key is None:
        return None
    key = ctx.idempotency_key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadUserInputError(f"`Idempotency-Key` must be 1 to {MAX_KEY_LENGTH} printable characters")
    return writes.idempotency(ctx.client, key, operation, params)


def _audit(ctx: RequestContext, operation_name: str | None) -> writes.Audit | None:
    """Appends this request's events on the write's connection (None: no recorder, the endpoint records)."""
    recorder = ctx.audit
    if recorder is None:
        return None
    return lambda conn: recorder.record_within(conn, ctx, operation_name)


def operation_name(info: Info) -> str | None:
    """The name the audit trail gives this operation (as the endpoint does)."""
    name = info.operation.name
    return name.value if name is not None else None


async def _write(
    ctx: RequestContext,
    operation: str,
    params: dict[str, Any],
    write: Callable[[writes.Idempotency | None, writes.Audit | None], Awaitable[Row]],
    name: str | None,
) -> Row:
    """Run ``write(guard, audit)``, turning refusals into ``BAD_USER_INPUT`` errors naming the field."""
    guard = _guard(ctx, operation, params)
    try:
        return await write(guard, _audit(ctx, name))
    except writes.WriteRefused as exc:
        raise BadUserInputError(f"`{exc.field}` {exc.message}") from None
    except writes.IdempotencyConflict:
        raise BadUserInputError("`Idempotency-Key` was already used for a different request") from None


async def _customer(ctx: RequestContext, raw: strawberry.ID) -> int:
    """The id of an existing customer whose consent records the caller may read."""
    customer_id = customer_id_of(raw)
    facts = await ctx.loaders.facts.load(customer_id) if customer_id is not None else None
    if customer_id is None or facts is None:
        raise BadUserInputError("`input.customerId` names no customer")
    # The answer is the new CONSENT record: a read of that category, recorded
    # in the audit trail like any other.
    if not (await ctx.decisions.check(customer_id, CONSENT)).allowed:
        raise OperationForbiddenError()
    return customer_id


async def record_cpni_approval(ctx: RequestContext, data: CpniApprovalInput, name: str | None = None) -> ApprovalRow:
    channel = data.channel.strip()
    if not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise BadUserInputError(f"`input.channel` must be 1 to {MAX_CHANNEL_LENGTH} characters")
    customer_id = await _customer(ctx, data.customer_id)
    status, scope = data.status.value, (data.scope or ApprovalScope.CPNI).value
    row: ApprovalRow = await _write(
        ctx,
        Action.RECORD_CPNI_APPROVAL.value,
        {"customerId": customer_id, "status": status, "scope": scope, "channel": channel},
        lambda guard, audit: writes.record_approval(
            ctx.loaders.db,
            guard,
            customer_id=customer_id,
            status=status,
            scope=scope,
            channel=channel,
            recorded_by=ctx.client,
            audit=audit,
        ),
        name,
    )
    return row


async def record_cpni_notice(ctx: RequestContext, data: CpniNoticeInput, name: str | None = None) -> NoticeRow:
    sent_at = aware(data.sent_at, "input.sentAt")
    if sent_at > datetime.now(UTC) + CLOCK_SKEW:
        raise BadUserInputError("`input.sentAt` must not be in the future")
    customer_id = await _customer(ctx, data.customer_id)
    params = {"customerId": customer_id, "sentAt": sent_at, "method": data.method.value}
    row: NoticeRow = await _write(
        ctx,
        Action.RECORD_CPNI_NOTICE.value,
        params,
        lambda guard, audit: writes.record_notice(
            ctx.loaders.db, guard, customer_id=customer_id, sent_at=sent_at, method=data.method.value,
            recorded_by=ctx.client, audit=audit,
        ),
        name,
    )
    return row


async def create_campaign(ctx: RequestContext, data: CampaignInput, name: str | None = None) -> CampaignRow:
    request = campaign_request(ctx, data)
    row: CampaignRow = await _write(
        ctx,
        Action.CREATE_CAMPAIGN.value,
        request.params(),
        lambda guard, audit: writes.create_campaign(
            ctx.loaders.db,
            guard,
            name=request.name,
            description=request.description,
            division=ctx.division.id,
            purpose=request.purpose.value,
            categories=[c.value for c in request.categories],
            target_categories=[t.value for t in request.target_categories],
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            created_by=ctx.client,
            audit=audit,
        ),
        name,
    )
    return row


async def approve_campaign(ctx: RequestContext, raw_id: strawberry.ID, name: str | None = None) -> CampaignRow:
    campaign_id = str(raw_id).strip()
    if not campaign_id or len(campaign_id) > MAX_KEY_LENGTH:
        raise BadUserInputError("`id` names no campaign")
    row: CampaignRow = await _write(
        ctx,
        Action.APPROVE_CAMPAIGN.value,
        {"id": campaign_id},
        lambda guard, audit: writes.approve_campaign(
            ctx.loaders.db, guard, campaign_id=campaign_id, approved_by=ctx.client, audit=audit
        ),
        name,
    )
    return row


@strawberry.type(description="Writes: consent records (customer care) and campaigns (marketing, privacy office).")
@categorized(PUBLIC)
class Mutation:
    @field(  # type: ignore[untyped-decorator]
        CONSENT,
        extensions=[ActionGate(Action.RECORD_CPNI_APPROVAL)],
        description="Append a CPNI approval record (customer care); it decides from the next request on.",
    )
    async def record_cpni_approval(self, info: Info, input: CpniApprovalInput) -> CpniApproval:
        return await record_cpni_approval(info.context, input, operation_name(info))  # type: ignore[return-value]

    @field(  # type: ignore[untyped-decorator]
        CONSENT,
        extensions=[ActionGate(Action.RECORD_CPNI_NOTICE)],
        description="Append an opt-out notice record (customer care).",
    )
    async def record_cpni_notice(self, info: Info, input: CpniNoticeInput) -> CpniNotice:
        return await record_cpni_notice(info.context, input, operation_name(info))  # type: ignore[return-value]

    @field(  # type: ignore[untyped-decorator]
        PUBLIC,
        extensions=[ActionGate(Action.CREATE_CAMPAIGN)],
        description="Record a marketing campaign (marketing divisions); PENDING until approved.",
    )
    async def create_campaign(self, info: Info, input: CampaignInput) -> Campaign:
        return await create_campaign(info.context, input, operation_name(info))  # type: ignore[return-value]

    @field(  # type: ignore[untyped-decorator]
        PUBLIC,
        extensions=[ActionGate(Action.APPROVE_CAMPAIGN)],
        description="Approve a campaign after supervisory review (privacy office, 64.2009(d)).",
    )
    async def approve_campaign(self, info: Info, id: strawberry.ID) -> Campaign:
        return await approve_campaign(info.context, id, operation_name(info))  # type: ignore[return-value]
