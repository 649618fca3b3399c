"""Query root: customers by id, by phone and by filtered page, and the caller."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.authz.model import Category
from gateway.schema.categories import categorized, field
from gateway.schema.context import RequestContext
from gateway.schema.lookups import find_by_phone, page_customers
from gateway.schema.scalars import CustomerStatus, Purpose, Segment, ServiceCategory, customer_id_of
from gateway.schema.types import Customer

PUBLIC = Category.PUBLIC

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


async def resolve_customers(
    ctx: RequestContext, first: int, after: str | None, filter: CustomerFilter | None
) -> CustomerConnection:
    page = await page_customers(ctx, first, after, filter or CustomerFilter())
    edges = [CustomerEdge(cursor=cursor, node=row) for cursor, row in page.edges]  # type: ignore[arg-type]
    return CustomerConnection(edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor))


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
        found = await find_by_phone(info.context, phone)
        return found[0] if found else None  # type: ignore[return-value]

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

