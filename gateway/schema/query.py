"""Query root: customers by id, by phone and by filtered page, and the caller."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace

import strawberry
from strawberry.types import Info

from gateway.authz.model import Category
from gateway.resolvers.customers import CustomerQuery, customer_page, customers_by_phone
from gateway.resolvers.rows import CustomerRow
from gateway.schema.categories import categorized, field
from gateway.schema.context import RequestContext
from gateway.schema.errors import BadUserInputError, ForbiddenError
from gateway.schema.scalars import CustomerStatus, Purpose, Segment, ServiceCategory, customer_id_of
from gateway.schema.types import Customer, _page_size

PUBLIC = Category.PUBLIC
CURSOR_PREFIX = "cursor:v1:"
# A filtered page scans at most this many candidate batches before returning
# a short page (hasNextPage stays true): the SQL round trips stay bounded.
MAX_SCAN_BATCHES = 3


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError
        return int(text.removeprefix(CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInputError("`after` is not a valid cursor") from None


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


async def _readable(ctx: RequestContext, customer_id: int, checks: list[tuple[Category, str | None]]) -> bool:
    for category, service_category in checks:
        if not (await ctx.decisions.check(customer_id, category, service_category)).allowed:
            return False
    return True


async def resolve_customers(
    ctx: RequestContext, first: int, after: str | None, filter: CustomerFilter | None
) -> CustomerConnection:
    first = _page_size(first, ctx.max_page_size, "first")
    position = decode_cursor(after)
    f = filter or CustomerFilter()
    # A condition is a read: it matches only customers whose category the
    # caller may read, and a category the caller can never read is refused.
    checks: list[tuple[Category, str | None]] = []
    if f.state is not None or f.name_prefix is not None:
        checks.append((Category.SUBSCRIBER_LIST, None))
    if f.service_category is not None:
        checks.append((Category.SERVICE, f.service_category.value))
    authorizer = ctx.decisions.authorizer
    for category, _ in checks:
        if not authorizer.may_ever(
            ctx.division, ctx.purpose, category, campaign_categories=ctx.decisions.campaign_categories
        ):
            raise ForbiddenError(category)
    query = CustomerQuery(
        after_id=position,
        limit=first + 1,
        segment=f.segment.value if f.segment else None,
        status=f.status.value if f.status else None,
        state=f.state,
        name_prefix=f.name_prefix,
        service_category=f.service_category.value if f.service_category else None,
    )
    kept: list[CustomerRow] = []
    has_next = False
    after_id = position
    for _ in range(MAX_SCAN_BATCHES if checks else 1):
        batch = await customer_page(ctx.loaders.db, replace(query, after_id=after_id))
        for row in batch:
            ctx.loaders.customer.prime(row.id, row)
        for row in batch:
            if checks and not await _readable(ctx, row.id, checks):
                after_id = row.id  # skipped silently: no oracle on the filter
                continue
            if len(kept) == first:
                has_next = True
                break
            kept.append(row)
            after_id = row.id
        if has_next or len(batch) < query.limit:
            break
    else:
        # The scan budget ran out with candidates left: a short page.
        has_next = True
    for row in kept:
        ctx.decisions.note_public(row.id)
    edges = [CustomerEdge(cursor=encode_cursor(row.id), node=row) for row in kept]  # type: ignore[arg-type]
    end = encode_cursor(after_id) if after_id != position or kept else None
    return CustomerConnection(edges=edges, page_info=PageInfo(has_next_page=has_next, end_cursor=end))


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
        for match in await customers_by_phone(ctx.loaders.db, phone):
            cid = match.customer.id
            if (match.listed and (await ctx.decisions.check(cid, Category.SUBSCRIBER_LIST)).allowed) or (
                match.contact and (await ctx.decisions.check(cid, Category.CONTACT)).allowed
            ):
                ctx.loaders.customer.prime(cid, match.customer)
                ctx.decisions.note_public(cid)
                return match.customer  # type: ignore[return-value]
        return None

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

