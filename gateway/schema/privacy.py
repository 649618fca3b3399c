"""The privacy office's queries: the audit trail and the reasons behind decisions (SPEC 5).

Both are Cedar actions of their own (``auditEvents``, ``explainAccess`` in
``policies/audit.cedar``), checked before the resolver runs; any other
caller gets ``FORBIDDEN``. Like the campaign records, these types are
categorized PUBLIC behind that gate: they carry no field values, only which
categories were read, by whom and why.

``explainAccess`` reads the customer's facts (subscriptions, consent), so it
leaves an audit event of its own; reading the audit trail does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.audit import events
from gateway.audit.chain import micros
from gateway.audit.events import AuditQuery, Outcome
from gateway.authz.explain import CampaignRef, Explanation, ServiceRef, explain_access
from gateway.authz.model import Action, Category, ServiceCategory
from gateway.authz.model import Purpose as PurposeValue
from gateway.resolvers.campaigns import usable_campaign_categories
from gateway.schema.categories import DataCategory, categorized, field
from gateway.schema.context import RequestContext
from gateway.schema.errors import BadUserInputError
from gateway.schema.fields import FieldLookupError, lookup_field
from gateway.schema.gates import ActionGate
from gateway.schema.lookups import page_size
from gateway.schema.query import PageInfo
from gateway.schema.scalars import Purpose, customer_id_of

PUBLIC = Category.PUBLIC
AUDIT_CONNECTION = "auditEvents"
# What explainAccess shows of a customer: status and segment (PUBLIC), whether
# its listing is published (SUBSCRIBER_LIST), the categories subscribed to and
# the services (SERVICE) and the consent facts (CONSENT).
EXPLAIN_DISCLOSES = frozenset({Category.PUBLIC, Category.SUBSCRIBER_LIST, Category.SERVICE, Category.CONSENT})

AuditOutcome = strawberry.enum(
    Outcome, name="AuditOutcome", description="DISCLOSED: the event disclosed a category; DENIED: it denied one."
)


@strawberry.input(description="Conditions on audit events; all given conditions must hold.")
class AuditFilter:
    division: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    purpose: Purpose | None = None
    campaign_id: strawberry.ID | None = None
    since: datetime | None = strawberry.field(default=None, description="At or after (UTC if no zone).")
    until: datetime | None = strawberry.field(default=None, description="Before (UTC if no zone).")
    outcome: AuditOutcome | None = None  # type: ignore[valid-type]


@strawberry.type(description="What one request disclosed and denied about one customer, and under which rules.")
@categorized(PUBLIC)
class AuditEvent:
    id: strawberry.ID = field(PUBLIC)
    at: datetime = field(PUBLIC)
    request_id: str = field(PUBLIC)
    client: str = field(PUBLIC)
    division: strawberry.ID = field(PUBLIC)
    purpose: Purpose = field(PUBLIC)
    regime: str = field(PUBLIC, description="CPNI_GATEWAY_REGIME the decisions were made under.")
    campaign_id: strawberry.ID | None = field(PUBLIC)
    operation_name: str | None = field(PUBLIC)
    customer_id: strawberry.ID | None = field(PUBLIC, description="Null for a denial tied to no customer.")
    disclosed: list[DataCategory] = field(PUBLIC)  # type: ignore[valid-type]
    denied: list[DataCategory] = field(PUBLIC)  # type: ignore[valid-type]
    policy_ids: list[str] = field(PUBLIC, description="The determining Cedar policies.")


@strawberry.type
@categorized(PUBLIC)
class AuditEventEdge:
    cursor: str = field(PUBLIC)
    node: AuditEvent = field(PUBLIC)


@strawberry.type
@categorized(PUBLIC)
class AuditEventConnection:
    edges: list[AuditEventEdge] = field(PUBLIC)
    page_info: PageInfo = field(PUBLIC)


@strawberry.type(
    description="A decision as the gateway would make it now, with its reasons: what a query by that caller "
    "(with that campaign) gets. For a field decided per service asked without `serviceId`, `allowed` is true "
    "only if every one of the customer's services allows it, and `services` holds one explanation per service."
)
@categorized(PUBLIC)
class AccessExplanation:
    allowed: bool = field(PUBLIC)
    service_id: strawberry.ID | None = field(PUBLIC, description="The service this explanation is about, if one.")
    service_category: ServiceCategory | None = field(PUBLIC, description="That service's category.")
    policy_ids: list[str] = field(PUBLIC, description="The determining Cedar policies.")
    cites: list[str] = field(PUBLIC, description="The rule each policy encodes, in the same order.")
    facts: JSON = field(PUBLIC, description="The inputs of the decision.")
    category: DataCategory = field(  # type: ignore[valid-type]
        PUBLIC, description="The data category of the field asked about."
    )
    summary: str = field(PUBLIC)
    services: list[AccessExplanation] = field(
        PUBLIC, description="One explanation per service of the customer, for a field decided per service."
    )


def _explanation(e: Explanation, category: Category) -> AccessExplanation:
    return AccessExplanation(
        allowed=e.allowed,
        service_id=strawberry.ID(e.service_id) if e.service_id is not None else None,
        service_category=e.service_category,
        policy_ids=list(e.policy_ids),
        cites=list(e.cites),
        facts=cast(JSON, dict(e.facts)),
        category=category,
        summary=e.summary,
        services=[_explanation(s, category) for s in e.services],
    )


def _micros_to_datetime(value: int) -> datetime:
    try:
        return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)
    except (ValueError, OverflowError, OSError):
        raise BadUserInputError("`after` is not a valid cursor for this query") from None


def _int_id(raw: strawberry.ID | None, name: str) -> int | None:
    if raw is None:
        return None
    value = customer_id_of(raw)
    if value is None:
        raise BadUserInputError(f"`{name}` is not a customer id")
    return value


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _query(f: AuditFilter | None) -> AuditQuery:
    if f is None:
        return AuditQuery()
    return AuditQuery(
        division=str(f.division) if f.division is not None else None,
        customer_id=_int_id(f.customer_id, "customerId"),
        purpose=PurposeValue(f.purpose).value if f.purpose is not None else None,
        campaign_id=str(f.campaign_id) if f.campaign_id is not None else None,
        since=_utc(f.since),
        until=_utc(f.until),
        outcome=Outcome(f.outcome) if f.outcome is not None else None,
    )


def _event_id(row: Any) -> str:
    """A row's id; for the events of a record (gateway/audit/events.py), the row's id and the event's place in it."""
    member = row["member"]
    return str(row["id"]) if member == 0 else f"{row['id']}.{member}"


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        id=strawberry.ID(_event_id(row)),
        at=row["at"],
        request_id=row["request_id"],
        client=row["client"],
        division=strawberry.ID(row["division"]),
        purpose=PurposeValue(row["purpose"]),
        regime=row["regime"],
        campaign_id=strawberry.ID(row["campaign_id"]) if row["campaign_id"] is not None else None,
        operation_name=row["operation_name"],
        customer_id=strawberry.ID(str(row["customer_id"])) if row["customer_id"] is not None else None,
        disclosed=[Category(c) for c in row["disclosed"]],
        denied=[Category(c) for c in row["denied"]],
        policy_ids=list(row["policy_ids"]),
    )


@strawberry.type
@categorized(PUBLIC)
class PrivacyQuery:
    @field(  # type: ignore[untyped-decorator]
        PUBLIC,
        extensions=[ActionGate(Action.READ_AUDIT)],
        description="The audit trail, newest first (privacy office, purpose compliance_audit).",
    )
    async def audit_events(
        self, info: Info, first: int | None = 50, after: str | None = None, filter: AuditFilter | None = None
    ) -> AuditEventConnection:
        ctx: RequestContext = info.context
        size = page_size(50 if first is None else first, ctx.max_page_size, "first")
        query = _query(filter)
        position = None
        if after is not None:
            opened = ctx.open_cursor(AUDIT_CONNECTION, query, after)
            if len(opened) != 3:  # a cursor of an earlier release, keyed without the member
                raise BadUserInputError("`after` is not a valid cursor for this query")
            at_micros, row_id, member = opened
            position = (_micros_to_datetime(at_micros), row_id, member)
        rows, more = await events.page(ctx.loaders.db, query, first=size, after=position)
        edges = [
            AuditEventEdge(
                cursor=ctx.seal_cursor(AUDIT_CONNECTION, query, (micros(r["at"]), r["id"], r["member"])),
                node=_event(r),
            )
            for r in rows
        ]
        end = edges[-1].cursor if edges else None
        return AuditEventConnection(edges=edges, page_info=PageInfo(has_next_page=more, end_cursor=end))

    @field(  # type: ignore[untyped-decorator]
        PUBLIC,
        extensions=[ActionGate(Action.EXPLAIN_ACCESS)],
        description="Would `division`, declaring `purpose`, be allowed `field` (Type.field) of this customer now, "
        "and why (privacy office, purpose compliance_audit). A field decided per service is decided for "
        "`serviceId`, or else for each of the customer's services; a marketing purpose is decided under "
        "`campaignId` (without a current approved campaign of the division for that purpose, refused).",
    )
    async def explain_access(
        self,
        info: Info,
        division: strawberry.ID,
        purpose: Purpose,
        customer_id: strawberry.ID,
        field_: Annotated[str, strawberry.argument(name="field")],
        service_id: strawberry.ID | None = strawberry.UNSET,
        campaign_id: strawberry.ID | None = strawberry.UNSET,
    ) -> AccessExplanation:
        ctx: RequestContext = info.context
        # UNSET (not None) as the default: SPEC 5 prints these arguments without one.
        service_id = None if service_id is strawberry.UNSET else service_id
        campaign_id = None if campaign_id is strawberry.UNSET else campaign_id
        authorizer = ctx.decisions.authorizer
        found = authorizer.divisions.get(str(division))
        if found is None:
            raise BadUserInputError("`division` is not a division of the registry")
        try:
            asked = lookup_field(info.schema, field_)
        except FieldLookupError as exc:
            raise BadUserInputError(f"`field`: {exc}") from None
        cid = _int_id(customer_id, "customerId")
        assert cid is not None
        facts = await ctx.loaders.facts.load(cid)
        if facts is None:
            raise BadUserInputError("`customerId` names no customer")
        services: list[ServiceRef] = []
        service: ServiceRef | None = None
        if asked.per_service:
            rows = await ctx.loaders.services.load(cid)
            services = [ServiceRef(str(r.id), ServiceCategory(r.category)) for r in rows]
        if service_id is not None:
            if not asked.per_service:
                raise BadUserInputError(f"`serviceId`: {asked.name} is not decided per service")
            service = next((s for s in services if s.id == str(service_id).strip()), None)
            if service is None:
                raise BadUserInputError("`serviceId` names no service of this customer")
        purpose_value = PurposeValue(purpose)
        campaign: CampaignRef | None = None
        if purpose_value.is_marketing and campaign_id is not None:
            categories = await usable_campaign_categories(
                ctx.loaders.db, str(campaign_id), found.id, purpose_value.value
            )
            campaign = CampaignRef(str(campaign_id), categories)
        explanation = explain_access(
            authorizer, found, purpose_value, asked.category, facts,
            per_service=asked.per_service, services=services, service=service, campaign=campaign,
            steps=asked.steps,
        )
        # The answer shows this customer's subscriptions and consent: audited.
        gate = authorizer.may_perform(ctx.division, ctx.purpose, Action.EXPLAIN_ACCESS)
        ctx.decisions.note_disclosed(cid, EXPLAIN_DISCLOSES, gate)
        return _explanation(explanation, asked.category)
