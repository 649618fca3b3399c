"""Query root: customers by id, by phone and by filtered page, and the caller."""

from __future__ import annotations

from dataclasses import replace

import strawberry
from strawberry.types import Info

from gateway.authz.model import Category
from gateway.authz.model import ServiceCategory as ServiceCategoryValue
from gateway.resolvers.customers import CustomerQuery, FactsCondition, customer_page, customers_by_phone
from gateway.resolvers.facts import code_condition
from gateway.resolvers.rows import CustomerRow
from gateway.schema.categories import categorized, field
from gateway.schema.context import RequestContext
from gateway.schema.errors import ForbiddenError
from gateway.schema.scalars import CustomerStatus, Purpose, Segment, ServiceCategory, customer_id_of
from gateway.schema.types import Customer, _page_size

PUBLIC = Category.PUBLIC
CONNECTION = "customers"

@strawberry.type
@categorized(PUBLIC)
class PageInfo:
    has_next_page: bool = field(PUBLIC)
    end_cursor: str | None = field(PUBLIC)


@strawberry.type
@categorized(PUBLIC)
class CustomerEdge:
    cursor: str = field(PUBLIC)
    node: Customer = field(PUBLIC)


@strawberry.type
@categorized(PUBLIC)
class CustomerConnection:
    edges: list[CustomerEdge] = field(PUBLIC)
    page_info: PageInfo = field(PUBLIC)


@strawberry.input(description="Conditions on customers; a condition on a protected category only matches customers the caller may read that category of.")
class CustomerFilter:
    segment: Segment | None = None
    status: CustomerStatus | None = None
    state: str | None = strawberry.field(default=None, description="Service address state (SUBSCRIBER_LIST).")
    name_prefix: str | None = strawberry.field(default=None, description="Published name prefix (SUBSCRIBER_LIST).")
    service_category: ServiceCategory | None = strawberry.field(
        default=None, description="Subscribes to this category (SERVICE)."
    )


@strawberry.type(description="The authenticated caller and the purpose of this request.")
@categorized(PUBLIC)
class Caller:
    client: str = field(PUBLIC)
    division: strawberry.ID = field(PUBLIC)
    purpose: Purpose = field(PUBLIC)
    purposes: list[Purpose] = field(PUBLIC)


def _conditions(ctx: RequestContext, f: CustomerFilter) -> list[tuple[Category, str | None]]:
    """The reads a filter makes: each condition on a protected category is a read of it."""
    checks: list[tuple[Category, str | None]] = []
    if f.state is not None or f.name_prefix is not None:
        checks.append((Category.SUBSCRIBER_LIST, None))
    if f.service_category is not None:
        checks.append((Category.SERVICE, f.service_category.value))
    return checks


async def resolve_customers(
    ctx: RequestContext, first: int, after: str | None, filter: CustomerFilter | None
) -> CustomerConnection:
    """One page of customers matching ``filter``, among those the caller may match.

    Every part of the answer (edges, ``endCursor``, ``hasNextPage``) comes
    from the rows the database matched with the caller's decisions in the
    same statement; the cursor is sealed to this caller and filter.
    """
    first = _page_size(first, ctx.max_page_size, "first")
    f = filter or CustomerFilter()
    query = CustomerQuery(
        after_id=0,
        limit=first + 1,
        segment=f.segment.value if f.segment else None,
        status=f.status.value if f.status else None,
        state=f.state,
        name_prefix=f.name_prefix,
        service_category=f.service_category.value if f.service_category else None,
    )
    bound = [query.segment, query.status, query.state, query.name_prefix, query.service_category]
    position = ctx.open_cursor(CONNECTION, bound, after)[0] if after is not None else 0
    checks = _conditions(ctx, f)
    authorizer = ctx.decisions.authorizer
    campaign = ctx.decisions.campaign_categories
    readable: list[FactsCondition] = []
    for category, scope in checks:
        # A category the caller can never read is refused, not silently empty.
        if not authorizer.may_ever(ctx.division, ctx.purpose, category, campaign_categories=campaign):
            raise ForbiddenError(category)
        cell = authorizer.readable_facts(
            ctx.division,
            ctx.purpose,
            category,
            service_category=ServiceCategoryValue(scope) if scope else None,
            campaign_categories=campaign,
        )
        mask, codes = code_condition(cell.fields, cell.allowed)
        readable.append(FactsCondition(mask, tuple(codes)))
    rows = await customer_page(ctx.loaders.db, replace(query, after_id=position, readable=tuple(readable)))
    kept = rows[:first]
    for row, facts in kept:
        ctx.loaders.customer.prime(row.id, row)
        ctx.loaders.facts.prime(row.id, facts)
    for row, _ in kept:
        ctx.decisions.note_public(row.id)
        for category, scope in checks:
            # Matching on a category discloses it: recorded like a read.
            await ctx.decisions.check(row.id, category, scope)
    edges = [
        CustomerEdge(cursor=ctx.seal_cursor(CONNECTION, bound, (row.id,)), node=row)  # type: ignore[arg-type]
        for row, _ in kept
    ]
    end = edges[-1].cursor if edges else None
    return CustomerConnection(edges=edges, page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=end))


@strawberry.type
@categorized(PUBLIC)
class Query:
    @field(PUBLIC)  # type: ignore[untyped-decorator]
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        ctx: RequestContext = info.context
        customer_id = customer_id_of(id)
        if customer_id is None:
            return None
        row = await ctx.loaders.customer.load(customer_id)
        if row is not None:
            ctx.decisions.note_public(row.id)
        return row  # type: ignore[return-value]

    # customerByPhone: a lookup by number is a read of that number.
    @field(PUBLIC, description="The customer with this published or contact number, where the caller may read that number.")  # type: ignore[untyped-decorator]
    async def customer_by_phone(self, info: Info, phone: str) -> Customer | None:
        ctx: RequestContext = info.context
        # Lookup by number is a read of that number: a published number needs
        # SUBSCRIBER_LIST, a contact (possibly non-published) number CONTACT.
        # A number the caller may not read answers exactly as one nobody has:
        # the same body, the same statements, an audit event either way.
        ctx.decisions.note_lookup()
        found: CustomerRow | None = None
        for match in await customers_by_phone(ctx.loaders.db, phone):
            cid = match.customer.id
            ctx.loaders.facts.prime(cid, match.facts)
            readable = (match.listed and (await ctx.decisions.check(cid, Category.SUBSCRIBER_LIST)).allowed) or (
                match.contact and (await ctx.decisions.check(cid, Category.CONTACT)).allowed
            )
            if readable:
                found = match.customer
                break
        if found is not None:
            ctx.loaders.customer.prime(found.id, found)
            ctx.decisions.note_public(found.id)
        return found  # type: ignore[return-value]

    @field(PUBLIC)  # type: ignore[untyped-decorator]
    async def customers(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: CustomerFilter | None = None,
    ) -> CustomerConnection:
        return await resolve_customers(info.context, 20 if first is None else first, after, filter)

    @field(PUBLIC)  # type: ignore[untyped-decorator]
    def me(self, info: Info) -> Caller:
        ctx: RequestContext = info.context
        return Caller(
            client=ctx.client,
            division=strawberry.ID(ctx.division.id),
            purpose=ctx.purpose,
            purposes=sorted(ctx.purposes, key=lambda p: p.value),
        )

